import numpy as np
import pytest
import torch

from pcseg.ops.interpolate import three_nn_interpolate, three_nn_weights


def test_matches_inverse_squared_distance_by_hand():
    rng = np.random.default_rng(0)
    sparse = rng.random((2, 30, 3), dtype=np.float32)
    dense = rng.random((2, 100, 3), dtype=np.float32)
    feats = rng.normal(size=(2, 4, 30)).astype(np.float32)
    out = three_nn_interpolate(torch.from_numpy(feats), torch.from_numpy(dense), torch.from_numpy(sparse))
    assert out.shape == (2, 4, 100)
    for b in range(2):
        d2 = ((dense[b][:, None] - sparse[b][None]) ** 2).sum(-1)
        nn3 = np.argsort(d2, axis=1)[:, :3]
        w = 1.0 / np.maximum(np.take_along_axis(d2, nn3, 1), 1e-10)
        w /= w.sum(1, keepdims=True)
        want = (feats[b][:, nn3] * w[None]).sum(-1)
        np.testing.assert_allclose(out[b].numpy(), want, rtol=1e-4, atol=1e-5)


def test_coincident_points_copy_and_single_source_broadcasts():
    sparse = torch.rand(1, 10, 3)
    feats = torch.randn(1, 5, 10)
    out = three_nn_interpolate(feats, sparse, sparse)
    assert torch.allclose(out, feats, atol=1e-5)
    one = three_nn_interpolate(feats[..., :1], torch.rand(1, 7, 3), sparse[:, :1])
    assert torch.allclose(one, feats[..., :1].expand(-1, -1, 7))


def test_weights_sum_to_one_and_gradient_reaches_features():
    idx, w = three_nn_weights(torch.rand(2, 50, 3), torch.rand(2, 8, 3))
    assert idx.shape == w.shape == (2, 50, 3)
    assert torch.allclose(w.sum(-1), torch.ones(2, 50))
    feats = torch.randn(2, 3, 8, requires_grad=True)
    three_nn_interpolate(feats, torch.rand(2, 50, 3), torch.rand(2, 8, 3)).sum().backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    # each dense point hands out total weight 1 per channel
    assert torch.allclose(feats.grad.sum(-1), torch.full((2, 3), 50.0), atol=1e-3)


def test_fill_from_nearest_matches_a_kd_tree() -> None:
    from scipy.spatial import cKDTree

    from pcseg.errors import PcsegError
    from pcseg.ops.interpolate import fill_from_nearest

    rng = np.random.default_rng(3)
    coord = rng.uniform(0, 10, (2000, 3))
    known = rng.random(2000) < 0.3
    scores = torch.from_numpy(rng.random((2000, 4)).astype(np.float32))
    expected = scores.clone()
    _, nearest = cKDTree(coord[known]).query(coord[~known])
    expected[torch.from_numpy(np.flatnonzero(~known))] = expected[torch.from_numpy(np.flatnonzero(known)[nearest])]
    for backend in ("numba", "torch"):
        out = fill_from_nearest(coord, scores.clone(), known, backend=backend)
        torch.testing.assert_close(out, expected)
    with pytest.raises(PcsegError, match="no point of the cloud received scores"):
        fill_from_nearest(coord, scores.clone(), np.zeros(2000, bool))
