import pytest
import torch

from pcseg.models import create_model
from pcseg.models.acnn import ACNNSeg, AnnularConv, Dropout

from tests.models.gradcheck import assert_every_parameter_learns


def block(b: int, n: int, seed: int = 0, channels: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    """A fake 1 m block: floor, ceiling and a wall, 9 PointNet channels (+ normals when channels == 12)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(b, n, 3, generator=g)
    part = torch.randint(0, 3, (b, n), generator=g)
    coord = torch.stack([u[..., 0] - 0.5, u[..., 1] - 0.5, u[..., 2] * 2.5], -1)
    coord[..., 2] = torch.where(part == 0, torch.zeros_like(coord[..., 2]), coord[..., 2])
    coord[..., 2] = torch.where(part == 1, torch.full_like(coord[..., 2], 2.5), coord[..., 2])
    coord[..., 0] = torch.where(part == 2, torch.full_like(coord[..., 0], -0.5), coord[..., 0])
    feats = [coord.transpose(1, 2), torch.rand(b, 3, n, generator=g), (coord.transpose(1, 2) + 0.5) / 3]
    if channels == 12:
        normal = torch.zeros(b, n, 3)
        normal[..., 2] = torch.where(part == 1, -1.0, 1.0)
        normal[part == 2] = torch.tensor([1.0, 0, 0])
        feats.append(normal.transpose(1, 2))
    return torch.cat(feats, 1), coord


def test_output_shape_registry_and_reference_sizes():
    model = create_model("acnn", in_channels=9, num_classes=13)
    assert isinstance(model, ACNNSeg)
    # reference widths (a-cnn models/acnn_segm_rings.py): ring outputs 64 + 128, then 128 + 256, global 1024
    assert model.sa1.out_channels == 192 and model.sa2.out_channels == 384
    assert [r.k for r in model.sa1.rings] == [16, 48] and [r.k for r in model.sa2.rings] == [16, 48]
    assert model.centroid_counts(2048) == (512, 128) and model.centroid_counts(4096) == (1024, 256)
    feats, coord = block(2, 256)
    model.eval()
    with torch.no_grad():
        out = model(feats, coord)
    assert out.shape == (2, 13, 256) and torch.isfinite(out).all()


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = ACNNSeg(in_channels=9, num_classes=5, width=0.25, ring_k_scale=0.5)
    feats, coord = block(3, 192)
    logits = model(feats, coord)
    loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, 5, (3, 192)))
    assert_every_parameter_learns(model, loss)


def test_given_normals_and_missing_coord():
    torch.manual_seed(1)
    feats, coord = block(2, 128, channels=12)
    model = ACNNSeg(in_channels=12, num_classes=4, width=0.25, normal_channel=9).eval()
    with torch.no_grad():
        a = model(feats, coord)
        b = model(feats, None)                    # coordinates fall back to the xyz channels
    assert a.shape == (2, 4, 128) and torch.allclose(a, b)


def test_small_and_degenerate_blocks():
    model = ACNNSeg(num_classes=3, width=0.25).eval()
    assert model.centroid_counts(8) == (2, 1)
    with torch.no_grad():
        for n in (8, 33):
            feats, coord = block(2, n)
            assert model(feats, coord).shape == (2, 3, n)
        coord = torch.zeros(2, 40, 3)                                  # every point identical
        out = model(torch.zeros(2, 9, 40), coord)
        assert torch.isfinite(out).all()


def test_eval_output_is_deterministic_and_batch_independent():
    torch.manual_seed(2)
    model = ACNNSeg(num_classes=4, width=0.25).eval()
    feats, coord = block(3, 96, seed=3)
    with torch.no_grad():
        full = model(feats, coord)
        again = model(feats, coord)
        single = model(feats[1:2], coord[1:2])
    assert torch.equal(full, again)
    assert torch.allclose(full[1:2], single, atol=1e-5)


def test_annular_conv_is_circular_and_pools_the_ring():
    # the ring conv is equivariant to the start of the ring: rotating the neighbour order changes nothing
    torch.manual_seed(3)
    conv = AnnularConv(in_channels=2, r_in=0.0, r_out=1.0, k=6, mlp=[4, 4]).eval()
    x = torch.randn(1, 5, 1, 6)
    outs = []
    for shift in range(6):
        y = torch.roll(x, shift, dims=-1)
        for layer in conv.layers:
            y = layer(torch.cat([y, y[..., :2]], dim=-1))
        outs.append(y.amax(-1))
    assert all(torch.allclose(outs[0], o, atol=1e-6) for o in outs)


def test_bad_arguments():
    for kwargs in ({"width": 0}, {"centroid_ratios": (0.5,)}, {"normal_channel": 8}, {"radius_scale": -1},
                   {"dropout": 1.0}):
        with pytest.raises(ValueError):
            ACNNSeg(**kwargs)
    with pytest.raises(ValueError):
        ACNNSeg(in_channels=9)(torch.zeros(1, 6, 10), torch.zeros(1, 10, 3))


def test_dropout_matches_the_inverted_dropout_contract():
    torch.manual_seed(4)
    drop = Dropout(0.4)
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.6) < 0.01
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.6))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)
    assert torch.equal(drop.eval()(x), x)
