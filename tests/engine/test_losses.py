import numpy as np
import pytest
import torch

from pcseg.engine.losses import build_loss, class_weights
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
