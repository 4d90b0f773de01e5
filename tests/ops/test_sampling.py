import numpy as np
import pytest
import torch

from pcseg.ops import _kernels
from pcseg.ops.sampling import fps, gather_points

BACKENDS = ["numba", "torch"]


def brute_fps(points: np.ndarray, m: int, start: int = 0) -> np.ndarray:
    """Vanilla FPS written out in numpy: float32 squared distances, selected points never re-picked,
    first maximum wins."""
    p = points.astype(np.float32)
    dist = np.full(len(p), np.inf, np.float32)
    out = [start]
    for _ in range(m - 1):
        d = p - p[out[-1]]
        dist = np.minimum(dist, d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1] + d[:, 2] * d[:, 2])
        dist[out] = -1.0
        out.append(int(np.argmax(dist)))
    return np.array(out)


def clouds():
    rng = np.random.default_rng(0)
    yield "uniform", rng.random((3, 700, 3), dtype=np.float32)
    plane = rng.random((2, 500, 3), dtype=np.float32)
    plane[..., 2] = 0.25                                         # flat boxes (zero extent in z)
    yield "plane", plane
    clusters = rng.normal(size=(2, 600, 3)).astype(np.float32) * 0.01
    clusters[:, 300:] += 5.0                                     # two far-apart tight clusters
    yield "clusters", clusters
    grid = np.stack(np.meshgrid(*[np.arange(8)] * 3, indexing="ij"), -1).reshape(1, -1, 3)
    yield "grid (many equal distances)", grid.astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fps_matches_brute_force(backend):
    for name, pts in clouds():
        m = min(120, pts.shape[1])
        got = fps(torch.from_numpy(pts), m, backend=backend).numpy()
        assert got.shape == (pts.shape[0], m) and got.dtype == np.int64
        for b in range(pts.shape[0]):
            np.testing.assert_array_equal(got[b], brute_fps(pts[b], m), err_msg=name)


def test_fps_indices_are_distinct_even_with_duplicate_points():
    pts = np.zeros((2, 64, 3), np.float32)
    pts[:, 32:] = 1.0                          # only two distinct positions
    for backend in BACKENDS:
        idx = fps(torch.from_numpy(pts), 64, backend=backend)
        for row in idx:
            assert sorted(row.tolist()) == list(range(64))
        # the two positions come first, then the duplicates
        assert set(pts[0][idx[0, :2].numpy()][:, 0].tolist()) == {0.0, 1.0}


def test_fps_is_farthest_first():
    rng = np.random.default_rng(1)
    pts = rng.random((1, 300, 3), dtype=np.float32)
    idx = fps(torch.from_numpy(pts), 10)[0].numpy()
    # the second sample is the point farthest from the first one
    d = ((pts[0] - pts[0, idx[0]]) ** 2).sum(-1)
    assert idx[1] == int(np.argmax(d))


def test_generator_picks_the_start_and_is_reproducible():
    pts = torch.rand(4, 200, 3)
    a = fps(pts, 20, generator=torch.Generator().manual_seed(3))
    b = fps(pts, 20, generator=torch.Generator().manual_seed(3), backend="torch")
    expected_start = torch.randint(0, 200, (4,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(a[:, 0], expected_start)
    for row, pts_b, s in zip(a.numpy(), pts.numpy(), expected_start.tolist()):
        np.testing.assert_array_equal(row, brute_fps(pts_b, 20, s))


def test_large_cloud_tree_matches_vanilla_kernel_and_threaded_build():
    # >= 2**16 points: the kd-tree is built in two threads
    rng = np.random.default_rng(2)
    pts = rng.random((70_000, 3), dtype=np.float32) * np.float32([4, 3, 1])
    got = fps(torch.from_numpy(pts)[None], 300, backend="numba")[0].numpy()
    np.testing.assert_array_equal(got, _kernels.fps_vanilla(pts, 300, 0))
    single = _kernels.build_tree(pts, 64)
    threaded = _kernels.build(pts, 64, threads=2)
    for a, b in zip(single, threaded):
        np.testing.assert_array_equal(a, b)


def test_tree_is_a_valid_kd_tree():
    rng = np.random.default_rng(3)
    pts = rng.random((1000, 3), dtype=np.float32)
    tree_pts, perm, lo, hi, bmin, bmax = _kernels.build_tree(pts, 16)
    assert sorted(perm.tolist()) == list(range(1000))
    np.testing.assert_array_equal(tree_pts, pts[perm])
    leaves = range((len(lo) - 1) // 2, len(lo))
    assert all(1 <= hi[n] - lo[n] <= 16 for n in leaves)
    for n in range(len(lo)):
        seg = tree_pts[lo[n]:hi[n]]
        np.testing.assert_array_equal(seg.min(0), bmin[n])     # tight boxes
        np.testing.assert_array_equal(seg.max(0), bmax[n])


def test_fps_errors():
    with pytest.raises(ValueError):
        fps(torch.rand(1, 10, 3), 11)
    with pytest.raises(ValueError):
        fps(torch.rand(10, 3), 2)
    with pytest.raises(ValueError):
        fps(torch.rand(1, 10, 3), 2, backend="cuda-magic")


def test_gather_points():
    x = torch.arange(24.0).reshape(2, 4, 3).requires_grad_()
    idx = torch.tensor([[3, 0], [1, 1]])
    out = gather_points(x, idx)
    assert torch.equal(out[0, 0], x[0, 3]) and torch.equal(out[1, 1], x[1, 1])
    out.sum().backward()
    assert x.grad[1, 1].tolist() == [2.0, 2.0, 2.0] and x.grad[0, 2].tolist() == [0.0, 0.0, 0.0]
