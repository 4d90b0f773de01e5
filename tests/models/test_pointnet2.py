import pytest
import torch

pytest.importorskip("torch_geometric")

from pcseg.models import create_model, model_family  # noqa: E402
from pcseg.models.pointnet2 import PointNet2Seg  # noqa: E402

from tests.models.gradcheck import assert_every_parameter_learns, random_blocks, settle_batch_norm  # noqa: E402


def test_output_shape_and_reference_sizes():
    model = PointNet2Seg(num_classes=13)
    feats, coord = random_blocks()
    assert model(feats, coord).shape == (2, 13, 256)
    # charlesq34/pointnet2 pointnet2_sem_seg.py: radii 0.1-0.8, 32 neighbours, SA widths ending 64..512
    assert [sa.r for sa in model.sa] == [0.1, 0.2, 0.4, 0.8] and all(sa.k == 32 for sa in model.sa)
    assert [sa.out_channels for sa in model.sa] == [64, 128, 256, 512]
    assert [fp.out_channels for fp in model.fp] == [256, 256, 128, 128]
    # the first propagation level sees the 512-d coarsest features and the 256-d skip
    assert model.fp[0].mlp[0].in_features == 512 + 256


def test_every_parameter_gets_a_gradient_and_no_nan():
    torch.manual_seed(0)
    model = PointNet2Seg(num_classes=4, width=0.25)
    feats, coord = random_blocks(3, 200)
    logits = model(feats, coord)
    assert logits.shape == (3, 4, 200) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, 4, (3, 200)))
    assert_every_parameter_learns(model, loss)


def test_deterministic_and_blocks_are_independent_in_eval():
    torch.manual_seed(1)
    model = settle_batch_norm(PointNet2Seg(num_classes=5, width=0.25),
                              [random_blocks(4, 128, seed=s) for s in range(2)])
    feats, coord = random_blocks(2, 128, seed=7)
    with torch.no_grad():
        out = model(feats, coord)
        assert torch.equal(out, model(feats, coord))
        # block 0 alone gives its logits: no neighbourhood crosses blocks
        torch.testing.assert_close(model(feats[:1], coord[:1]), out[:1], rtol=1e-5, atol=1e-5)
        # and the prediction at a point depends on its neighbours (not a per-point MLP)
        moved = feats.clone()
        moved[:, 3:, :64] += 3.0
        assert not torch.allclose(model(moved, coord)[:, :, 64:], out[:, :, 64:])


def test_training_is_reproducible_with_a_seed():
    def run():
        torch.manual_seed(3)
        model = PointNet2Seg(num_classes=3, width=0.25)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for s in range(2):
            feats, coord = random_blocks(2, 128, seed=s)
            loss = torch.nn.functional.cross_entropy(model(feats, coord), torch.randint(0, 3, (2, 128)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    assert torch.equal(run(), run())


def test_bad_inputs_and_registry():
    with pytest.raises(ValueError, match=r"\(B, 9, N\)"):
        PointNet2Seg()(torch.randn(1, 6, 32), torch.rand(1, 32, 3))
    with pytest.raises(ValueError, match="ratios"):
        PointNet2Seg(ratios=(0.5, 0.5))
    assert model_family("pointnet2") == "3d"
    assert isinstance(create_model("pointnet2", num_classes=3, width=0.25), PointNet2Seg)
