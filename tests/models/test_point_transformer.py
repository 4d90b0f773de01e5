import pytest
import torch

pytest.importorskip("torch_geometric")

from pcseg.models import create_model, model_family  # noqa: E402
from pcseg.models.point_transformer import PointTransformerSeg  # noqa: E402

from tests.models.gradcheck import assert_every_parameter_learns, random_blocks, settle_batch_norm  # noqa: E402

SMALL = {"width": 0.25, "blocks": (1, 1, 1, 1, 1)}


def test_output_shape_and_reference_sizes():
    model = PointTransformerSeg(num_classes=13)
    feats, coord = random_blocks(1, 512)
    with torch.no_grad():
        assert model.eval()(feats, coord).shape == (1, 13, 512)
    # hszhao/point-transformer pointtransformer_seg_repro: 32..512 channels, 2-3-4-6-3 blocks
    assert [len(stage) for stage in model.encoder] == [2, 3, 4, 6, 3]
    assert [stage[0].attn.out_channels for stage in model.encoder] == [32, 64, 128, 256, 512]
    assert [d.k for d in model.down] == [16, 16, 16, 16] and all(d.ratio == 0.25 for d in model.down)


def test_every_parameter_gets_a_gradient_and_no_nan():
    torch.manual_seed(0)
    model = PointTransformerSeg(num_classes=4, **SMALL)
    feats, coord = random_blocks(2, 300)
    logits = model(feats, coord)
    assert logits.shape == (2, 4, 300) and torch.isfinite(logits).all()
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, 4, (2, 300)))
    assert_every_parameter_learns(model, loss)


def test_deterministic_and_blocks_are_independent_in_eval():
    torch.manual_seed(1)
    model = settle_batch_norm(PointTransformerSeg(num_classes=5, **SMALL),
                              [random_blocks(3, 128, seed=s) for s in range(2)])
    feats, coord = random_blocks(2, 128, seed=7)
    with torch.no_grad():
        out = model(feats, coord)
        assert torch.equal(out, model(feats, coord))
        torch.testing.assert_close(model(feats[1:], coord[1:]), out[1:], rtol=1e-4, atol=1e-4)
        moved = feats.clone()
        moved[:, 3:, :64] += 3.0
        assert not torch.allclose(model(moved, coord)[:, :, 64:], out[:, :, 64:])


def test_blocks_smaller_than_the_neighbourhoods_work():
    # 40 points: the coarsest stage holds 1 point, fewer than k = 16
    model = PointTransformerSeg(num_classes=3, **SMALL).eval()
    with torch.no_grad():
        out = model(*random_blocks(2, 40))
    assert out.shape == (2, 3, 40) and torch.isfinite(out).all()


def test_bad_inputs_and_registry():
    with pytest.raises(ValueError, match=r"\(B, 9, N\)"):
        PointTransformerSeg(**SMALL)(torch.randn(1, 6, 32), torch.rand(1, 32, 3))
    with pytest.raises(ValueError, match="blocks"):
        PointTransformerSeg(blocks=(1, 1))
    assert model_family("point_transformer") == "3d"
    assert isinstance(create_model("point_transformer", num_classes=3, **SMALL), PointTransformerSeg)
