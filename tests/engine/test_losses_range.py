"""pcseg/engine/losses_range.py (Lovasz-softmax), kept beside the range-image tests."""
import pytest
import torch

from pcseg.engine.losses_range import lovasz_softmax


def _loop_reference(probs, labels, classes="present"):
    """Per class, the paper's Algorithm 1 written as a plain loop (Berman et al., CVPR 2018)."""
    k = probs.shape[1]
    p = probs.movedim(1, -1).reshape(-1, k)
    y = labels.reshape(-1)
    p, y = p[y != -1], y[y != -1]
    losses = []
    for c in range(k):
        fg = (y == c).float()
        if classes == "present" and fg.sum() == 0:
            continue
        err, order = torch.sort((fg - p[:, c]).abs(), descending=True)
        g = fg[order]
        jac = []
        for i in range(len(g)):
            inter = g.sum() - g[: i + 1].sum()
            union = g.sum() + (1 - g[: i + 1]).sum()
            jac.append(1 - inter / union)
        jac = torch.stack(jac)
        grad = torch.cat([jac[:1], jac[1:] - jac[:-1]])
        losses.append((err * grad).sum())
    return torch.stack(losses).mean()


@pytest.mark.parametrize("classes", ["present", "all"])
def test_matches_the_algorithm(classes):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(2, 4, 3, 5, generator=g), 1)
    labels = torch.randint(-1, 3, (2, 3, 5), generator=g)          # class 3 absent, some ignored
    assert torch.allclose(lovasz_softmax(probs, labels, classes), _loop_reference(probs, labels, classes), atol=1e-6)


def test_hard_predictions_give_one_minus_iou():
    # at one-hot predictions the Lovasz extension equals the Jaccard loss: mean over classes of 1 - IoU
    labels = torch.tensor([[0, 0, 1, 1, 2, 2, -1]])
    pred = torch.tensor([[0, 1, 1, 1, 2, 0, 0]])
    probs = torch.nn.functional.one_hot(pred, 3).permute(0, 2, 1).float()
    iou = torch.tensor([1 / 3, 2 / 3, 1 / 2])
    assert float(lovasz_softmax(probs, labels)) == pytest.approx(float((1 - iou).mean()), abs=1e-6)
    perfect = torch.nn.functional.one_hot(labels.clamp_min(0), 3).permute(0, 2, 1).float()
    assert float(lovasz_softmax(perfect, labels)) == pytest.approx(0.0, abs=1e-7)


def test_gradient_and_all_ignored():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = lovasz_softmax(torch.softmax(logits, 1), torch.randint(0, 3, (1, 4, 4)))
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    assert float(lovasz_softmax(torch.softmax(logits, 1), torch.full((1, 4, 4), -1)).detach()) == 0.0
