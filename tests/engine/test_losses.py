import numpy as np
import pytest
import torch

from pcseg.config import Config
from pcseg.engine.losses import build_loss, class_weights, unweight, unweighting
from pcseg.errors import PcsegError


def test_inverse_sqrt_weights_by_hand():
    w = class_weights(np.array([64, 16, 0, 4]), "inverse_sqrt")
    # frequencies 64/84, 16/84, 4/84 -> 1/sqrt proportional to 1/8, 1/4, 1/2; mean over present = 7/24
    expect = np.array([1 / 8, 1 / 4, 0, 1 / 2]) / (7 / 24)
    np.testing.assert_allclose(w, expect, rtol=1e-6)
    assert class_weights(np.array([1, 2]), "none") is None
    with pytest.raises(PcsegError, match="inverse_sqrt"):
        class_weights(np.array([1, 2]), "bogus")


def test_ce_ignores_unlabelled_points_and_uses_weights():
    logits = torch.randn(2, 3, 5)
    labels = torch.tensor([[0, 1, -1, 2, -1], [1, 1, 0, -1, 2]])
    keep = labels >= 0
    flat = logits.permute(0, 2, 1)[keep]
    expect = torch.nn.functional.cross_entropy(flat, labels[keep])
    torch.testing.assert_close(build_loss("ce")(logits, labels), expect)
    w = torch.tensor([1.0, 2.0, 0.5])
    expect_w = torch.nn.functional.cross_entropy(flat, labels[keep], weight=w)
    torch.testing.assert_close(build_loss("ce", w)(logits, labels), expect_w)
    with pytest.raises(PcsegError, match="train.loss"):
        build_loss("hinge")


def test_ce_plus_lovasz_adds_the_range_branch_lovasz():
    from pcseg.engine.losses_range import lovasz_softmax

    logits = torch.randn(2, 4, 3, 5, requires_grad=True)
    labels = torch.randint(-1, 4, (2, 3, 5))
    loss = build_loss("ce+lovasz")(logits, labels)
    expect = (torch.nn.functional.cross_entropy(logits, labels, ignore_index=-1)
              + lovasz_softmax(torch.softmax(logits, dim=1), labels))
    torch.testing.assert_close(loss, expect)
    loss.backward()
    assert torch.isfinite(logits.grad).all()


def test_lovasz_on_a_sample_of_labelled_pixels():
    from pcseg.engine.losses_range import lovasz_softmax

    logits = torch.randn(2, 4, 6, 8)
    labels = torch.randint(-1, 4, (2, 6, 8))
    labels[0, 0, :4] = torch.arange(4)                   # every class present
    ce = torch.nn.functional.cross_entropy(logits, labels, ignore_index=-1)
    labelled = int((labels >= 0).sum())
    # a sample as large as the labelled pixels is every one of them: the full loss
    torch.testing.assert_close(build_loss("ce+lovasz", lovasz_points=labelled)(logits, labels),
                               build_loss("ce+lovasz")(logits, labels))
    # a smaller one: the cross-entropy of every pixel plus the Lovasz term of the drawn labelled pixels
    torch.manual_seed(3)
    loss = build_loss("ce+lovasz", lovasz_points=20)(logits, labels)
    torch.manual_seed(3)
    idx = torch.nonzero(labels.reshape(-1) >= 0).squeeze(1)
    idx = idx[torch.randperm(idx.numel())[:20]]
    flat = logits.movedim(1, -1).reshape(-1, 4)[idx]
    expect = ce + lovasz_softmax(torch.softmax(flat, 1), labels.reshape(-1)[idx])
    torch.testing.assert_close(loss, expect)
    assert not torch.allclose(loss, build_loss("ce+lovasz")(logits, labels))
    with pytest.raises(PcsegError, match="train.lovasz_points"):
        build_loss("ce+lovasz", lovasz_points=-1)
    with pytest.raises(PcsegError, match="train.lovasz_points"):
        build_loss("ce", lovasz_points=100)


def _weighted(values, on=True, power=1.0) -> Config:
    cfg = Config()
    cfg.train.unweight_labels = on
    cfg.train.class_weight_values = values
    cfg.train.unweight_power = power
    return cfg


def test_unweighting_factors_and_errors():
    assert unweighting(_weighted([2.0, 0.5], on=False), 2) is None
    torch.testing.assert_close(unweighting(_weighted([2.0, 0.5, 0.0]), 3), torch.tensor([0.5, 2.0, 0.0]))
    with pytest.raises(PcsegError, match="train.unweight_labels"):
        unweighting(_weighted(None), 3)
    with pytest.raises(PcsegError, match="train.class_weight_values"):
        unweighting(_weighted([1.0, 1.0]), 3)
    probs = torch.tensor([[0.6, 0.3], [0.4, 0.7]])               # (K=2, 2 pixels)
    out = unweight(probs, torch.tensor([0.25, 1.0]), dim=0)
    torch.testing.assert_close(out.sum(0), torch.ones(2))
    assert out.argmax(0).tolist() == [1, 1]                       # 0.15 : 0.4 and 0.075 : 0.7


def test_partial_unweighting_divides_out_a_power_of_the_weights():
    """train.unweight_power a: factors w ** -a, so a = 1 is the full division, a = 0 leaves the weighted
    probabilities as they are (factor 1), and a class training never saw stays at 0 for every a."""
    w = [4.0, 0.25, 0.0]
    torch.testing.assert_close(unweighting(_weighted(w, power=0.5), 3), torch.tensor([0.5, 2.0, 0.0]))
    torch.testing.assert_close(unweighting(_weighted(w, power=0.0), 3), torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(unweighting(_weighted(w, power=1.0), 3), torch.tensor([0.25, 4.0, 0.0]))
    probs = torch.tensor([[0.7], [0.3], [0.0]])                  # class 0 (weighted up 4x) vs class 1 (0.25x)
    picks = [unweight(probs, unweighting(_weighted(w, power=a), 3), dim=0).argmax(0).item() for a in (0, 0.5, 1)]
    assert picks == [0, 1, 1]                                     # 0.7 : 0.3, 0.35 : 0.6, 0.175 : 1.2
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(PcsegError, match="train.unweight_power"):
            unweighting(_weighted(w, power=bad), 3)


def test_unweighted_probabilities_are_the_training_posterior():
    """A model fitted with inverse-sqrt class weights on classes of 90 % / 10 % gives p(k|x) w_k / Z; divided
    by w it gives back the Bayes posterior of the data, which the weighted one misses by far."""
    gen = torch.Generator().manual_seed(0)
    n = 40_000
    y = (torch.rand(n, generator=gen) < 0.1).long()
    x = torch.randn(n, generator=gen) + 1.5 * y                   # N(0, 1) and N(1.5, 1)
    w = torch.from_numpy(class_weights(np.bincount(y.numpy(), minlength=2), "inverse_sqrt"))
    layer = torch.nn.Linear(1, 2)
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=200, line_search_fn="strong_wolfe")
    loss_fn = build_loss("ce", w)

    def closure():
        opt.zero_grad()
        loss = loss_fn(layer(x[:, None]).T[None], y[None])
        loss.backward()
        return loss

    opt.step(closure)
    grid = torch.linspace(-1, 3, 9)
    with torch.no_grad():
        probs = torch.softmax(layer(grid[:, None]), dim=1).T      # (K, 9)
    like = torch.exp(-0.5 * (grid - 1.5) ** 2) * 0.1
    bayes = like / (like + torch.exp(-0.5 * grid ** 2) * 0.9)
    fixed = unweight(probs, unweighting(_weighted(w.tolist()), 2), dim=0)[1]
    assert float((fixed - bayes).abs().max()) < 0.03
    assert float((probs[1] - bayes).abs().max()) > 0.1
