import pytest
import torch

from pcseg.models import create_model, model_family
from pcseg.models.pointnet import PointNetSeg

from tests.models.gradcheck import assert_every_parameter_learns, settle_batch_norm


def test_output_shape_and_reference_sizes():
    model = PointNetSeg(in_channels=9, num_classes=13)
    out = model(torch.randn(2, 9, 256), torch.randn(2, 256, 3))
    assert out.shape == (2, 13, 256)
    # reference sizes (charlesq34/pointnet sem_seg/model.py): 1024-d point feature + 128-d global -> 512
    assert model.head[0][0].in_channels == 1024 + 128
    assert model.classifier.out_channels == 13


def test_width_multiplier_shrinks_network():
    big = sum(p.numel() for p in PointNetSeg(width=1.0).parameters())
    small_model = PointNetSeg(in_channels=12, num_classes=5, width=0.25)
    small = sum(p.numel() for p in small_model.parameters())
    assert small < big / 8
    assert small_model(torch.randn(3, 12, 64)).shape == (3, 5, 64)


def test_every_parameter_gets_a_gradient_and_no_nan():
    torch.manual_seed(0)
    model = PointNetSeg(num_classes=4, width=0.25)
    logits = model(torch.randn(3, 9, 128), torch.randn(3, 128, 3))
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, 4, (3, 128)))
    assert torch.isfinite(logits).all()
    assert_every_parameter_learns(model, loss)


def test_point_order_invariance_in_eval_mode():
    torch.manual_seed(1)
    model = PointNetSeg(num_classes=6, width=0.5)
    settle_batch_norm(model, [(torch.randn(4, 9, 200),) for _ in range(3)])    # non-trivial statistics, frozen
    x = torch.randn(2, 9, 200)
    perm = torch.randperm(200)
    with torch.no_grad():
        out = model(x)
        out_perm = model(x[:, :, perm])
    torch.testing.assert_close(out_perm, out[:, :, perm], rtol=1e-5, atol=1e-5)
    # and the prediction depends on the other points (global feature), so this is not a per-point MLP
    y = x.clone()
    y[:, :, :100] = torch.randn(2, 9, 100) * 5
    with torch.no_grad():
        assert not torch.allclose(model(y)[:, :, 150:], out[:, :, 150:])


def test_wrong_feature_count_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(B, 9, N\)"):
        PointNetSeg()(torch.randn(1, 6, 32))


def test_registry():
    assert model_family("pointnet") == "3d"
    model = create_model("pointnet", num_classes=3, width=0.25)
    assert isinstance(model, PointNetSeg)
    with pytest.raises(KeyError, match="pointnet"):
        create_model("nope")
