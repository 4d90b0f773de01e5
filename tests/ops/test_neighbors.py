import numpy as np
import pytest
import torch

from pcseg.ops.neighbors import group, knn, ring_query

BACKENDS = ["numba", "torch"]


def d2_table(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """float32 squared distances, (M, N), written out like the ops compute them."""
    d = q[:, None, :].astype(np.float32) - r[None, :, :].astype(np.float32)
    return d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1] + d[..., 2] * d[..., 2]


def brute_knn(q, r, k):
    d2 = d2_table(q, r)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]          # ties: smaller index first
    return np.take_along_axis(d2, idx, 1), idx


def brute_ring(q, r, r_in, r_out, k):
    """The documented ring rules, one query at a time."""
    d2 = d2_table(q, r)
    lo, hi = np.float32(r_in * r_in), np.float32(r_out * r_out)
    out, counts = np.zeros((len(q), k), np.int64), np.zeros(len(q), np.int64)
    for i, row in enumerate(d2):
        order = np.argsort(row, kind="stable")
        inside = [j for j in order if lo <= row[j] < hi][:k]
        counts[i] = len(inside)
        if not inside:
            beyond = [j for j in order if row[j] >= lo]
            inside = [beyond[0] if beyond else order[0]]
        out[i] = inside + [inside[0]] * (k - len(inside))
    return out, counts


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_matches_brute_force(backend):
    rng = np.random.default_rng(0)
    ref = rng.random((3, 400, 3), dtype=np.float32)
    query = rng.random((3, 90, 3), dtype=np.float32)
    d2, idx = knn(torch.from_numpy(query), torch.from_numpy(ref), 17, backend=backend)
    assert d2.shape == idx.shape == (3, 90, 17) and d2.dtype == torch.float32 and idx.dtype == torch.int64
    for b in range(3):
        want_d, want_i = brute_knn(query[b], ref[b], 17)
        np.testing.assert_array_equal(idx[b].numpy(), want_i)
        np.testing.assert_array_equal(d2[b].numpy(), want_d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_self_query_ties_and_k_equal_n(backend):
    grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(1, -1, 3).astype(np.float32)
    pts = np.concatenate([grid, grid[:, :5]], 1)                   # duplicates and many equal distances
    t = torch.from_numpy(pts)
    d2, idx = knn(t, t, pts.shape[1], backend=backend)
    want_d, want_i = brute_knn(pts[0], pts[0], pts.shape[1])
    np.testing.assert_array_equal(idx[0].numpy(), want_i)
    np.testing.assert_array_equal(d2[0].numpy(), want_d)
    assert (d2[0, :, 0] == 0).all() and (idx[0, :64, 0] == torch.arange(64)).all()


def test_knn_large_single_cloud_split_over_threads():
    rng = np.random.default_rng(1)
    ref = rng.random((1, 70_000, 3), dtype=np.float32)          # > PARALLEL_MIN_POINTS: threaded
    query = ref[:, ::97].copy()
    a = knn(torch.from_numpy(query), torch.from_numpy(ref), 8, backend="numba")
    b = knn(torch.from_numpy(query), torch.from_numpy(ref), 8, backend="torch")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("r_in,r_out,k", [(0.0, 0.1, 16), (0.1, 0.2, 48), (0.3, 0.4, 8), (0.7, 0.72, 4),
                                         (5.0, 6.0, 3)])
def test_ring_query_matches_brute_force(backend, r_in, r_out, k):
    rng = np.random.default_rng(2)
    ref = rng.random((2, 500, 3), dtype=np.float32)
    query = ref[:, :60].copy()
    idx, count = ring_query(torch.from_numpy(query), torch.from_numpy(ref), r_in, r_out, k, backend=backend)
    assert idx.shape == (2, 60, k) and count.shape == (2, 60)
    for b in range(2):
        want_i, want_c = brute_ring(query[b], ref[b], r_in, r_out, k)
        np.testing.assert_array_equal(count[b].numpy(), want_c)
        np.testing.assert_array_equal(idx[b].numpy(), want_i)


def test_ring_query_rules_by_hand():
    # points on the x axis at distances 0, 0.05, 0.15, 0.18, 0.5 from the query at the origin
    ref = torch.tensor([[[0.0, 0, 0], [0.05, 0, 0], [0.15, 0, 0], [-0.18, 0, 0], [0.5, 0, 0]]])
    q = torch.zeros(1, 1, 3)
    for backend in BACKENDS:
        idx, count = ring_query(q, ref, 0.1, 0.2, 4, backend=backend)
        assert idx.tolist() == [[[2, 3, 2, 2]]] and count.tolist() == [[2]]     # padding repeats the first
        idx, count = ring_query(q, ref, 0.0, 0.1, 3, backend=backend)
        assert idx.tolist() == [[[0, 1, 0]]]                                     # the centroid itself counts
        idx, count = ring_query(q, ref, 0.2, 0.3, 2, backend=backend)            # empty: grows outwards
        assert idx.tolist() == [[[4, 4]]] and count.tolist() == [[0]]
        idx, count = ring_query(q, ref, 1.0, 2.0, 2, backend=backend)            # everything inside r_in
        assert idx.tolist() == [[[0, 0]]] and count.tolist() == [[0]]


def test_ring_query_more_slots_than_points():
    ref = torch.rand(1, 5, 3)
    for backend in BACKENDS:
        idx, count = ring_query(ref, ref, 0.0, 10.0, 8, backend=backend)
        assert (count == 5).all()
        assert (idx[..., 5:] == idx[..., :1]).all()


def test_bad_arguments():
    with pytest.raises(ValueError):
        knn(torch.rand(1, 4, 3), torch.rand(1, 3, 3), 4)
    with pytest.raises(ValueError):
        knn(torch.rand(2, 4, 3), torch.rand(1, 3, 3), 1)
    with pytest.raises(ValueError):
        ring_query(torch.rand(1, 4, 3), torch.rand(1, 3, 3), 0.2, 0.1, 2)
    with pytest.raises(ValueError):
        knn(torch.rand(1, 4, 3), torch.rand(1, 3, 3), 1, backend="fast")


def test_group_gathers_channel_first_features_with_gradient():
    x = torch.randn(2, 5, 7, requires_grad=True)
    idx = torch.randint(0, 7, (2, 3, 4))
    out = group(x, idx)
    assert out.shape == (2, 5, 3, 4)
    assert torch.equal(out[1, :, 2, 3], x[1, :, idx[1, 2, 3]])
    out.sum().backward()
    counts = torch.stack([torch.bincount(i.flatten(), minlength=7) for i in idx]).float()
    assert torch.equal(x.grad, counts[:, None, :].expand(-1, 5, -1))
