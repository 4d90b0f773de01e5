import math

import pytest
import torch

from pcseg.ops import pyg


def brute(x, y, bx, by, k=None, r=None, cap=None):
    """Reference [query, point] pairs by sorting every distance; ties by index."""
    pairs = []
    for j in range(len(y)):
        cand = [i for i in range(len(x)) if bx[i] == by[j]]
        d2 = [float(((x[i] - y[j]) ** 2).sum()) for i in cand]
        order = sorted(zip(d2, cand))
        if r is not None:
            order = [(d, i) for d, i in order if d < r * r][:cap]
        else:
            order = order[:k]
        pairs += [(j, i) for _, i in order]
    return pairs


def as_pairs(edge):
    return [tuple(p) for p in edge.t().tolist()]


@pytest.fixture
def ragged():
    g = torch.Generator().manual_seed(0)
    counts = [7, 2, 0, 11]                           # example 2 has no points; example 1 fewer than k
    x = torch.rand(sum(counts), 3, generator=g)
    bx = torch.repeat_interleave(torch.arange(4), torch.tensor(counts))
    y = torch.rand(9, 3, generator=g)
    by = torch.tensor([0, 0, 1, 1, 2, 3, 3, 3, 3])  # example 2 has a query but no points
    return x, y, bx, by


def test_knn_matches_brute_force_on_ragged_batches(ragged):
    x, y, bx, by = ragged
    edge = pyg.knn(x, y, 4, bx, by)
    assert edge.dtype == torch.long and edge.shape[0] == 2
    assert as_pairs(edge) == brute(x, y, bx, by, k=4)
    # example 1 holds 2 points: its queries get 2 neighbours, not 4; the query of example 2 none
    assert (edge[0] == 2).sum() == 2 and (edge[0] == 4).sum() == 0


def test_knn_equal_sizes_is_one_batched_call_with_global_indices():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3 * 50, 3, generator=g)
    b = torch.arange(3).repeat_interleave(50)
    edge = pyg.knn(x, x, 5, b, b)
    assert edge.shape == (2, 150 * 5)
    assert as_pairs(edge) == brute(x, x, b, b, k=5)
    assert (b[edge[0]] == b[edge[1]]).all()


def test_radius_keeps_strictly_closer_points_and_caps_at_the_nearest(ragged):
    x, y, bx, by = ragged
    for r, cap in ((0.3, 32), (0.8, 3), (2.0, 32)):
        assert as_pairs(pyg.radius(x, y, r, bx, by, max_num_neighbors=cap)) == brute(x, y, bx, by, r=r, cap=cap)
    # a point exactly at distance r is out (squared distance < r * r)
    pts = torch.tensor([[0.0, 0, 0], [0.5, 0, 0], [0.25, 0, 0]])
    assert as_pairs(pyg.radius(pts, pts[:1], 0.5)) == [(0, 0), (0, 2)]


def test_radius_edge_lists_are_the_same_from_the_compiled_and_the_torch_compaction(ragged, monkeypatch):
    x, y, bx, by = ragged
    compiled = pyg.radius(x, y, 0.8, bx, by, max_num_neighbors=3)
    monkeypatch.setattr(pyg, "resolve", lambda backend, *tensors: "torch")   # as on CUDA or without numba
    assert torch.equal(pyg.radius(x, y, 0.8, bx, by, max_num_neighbors=3), compiled)
    assert as_pairs(compiled) == brute(x, y, bx, by, r=0.8, cap=3)


def test_knn_graph_direction_and_self_loops():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(30, 3, generator=g)
    b = torch.tensor([0] * 12 + [1] * 18)
    edge = pyg.knn_graph(x, 3, b)                    # source_to_target: row 0 neighbour, row 1 centre
    assert edge.shape == (2, 30 * 3)
    assert not (edge[0] == edge[1]).any()
    ref = brute(x, x, b, b, k=4)
    want = [(i, j) for j, i in ref if i != j]
    assert as_pairs(edge) == want
    flipped = pyg.knn_graph(x, 3, b, flow="target_to_source")
    assert torch.equal(flipped, edge.flip(0))
    looped = pyg.knn_graph(x, 3, b, loop=True)
    assert looped.shape == (2, 90) and (looped[0] == looped[1]).sum() == 30
    with pytest.raises(ValueError, match="flow"):
        pyg.knn_graph(x, 3, b, flow="up")


def test_knn_graph_with_duplicate_points_drops_only_true_self_pairs():
    # five copies of one point: ties go by index, so copies 3 and 4 do not find themselves among their
    # k + 1 nearest and keep all k + 1 (torch_cluster's behaviour); the others lose their self pair
    g = torch.Generator().manual_seed(4)
    x = torch.cat([torch.zeros(5, 3), torch.rand(20, 3, generator=g) + 1.0]).repeat(2, 1)
    b = torch.arange(2).repeat_interleave(25)
    edge = pyg.knn_graph(x, 2, b)
    want = [(i, j) for j, i in brute(x, x, b, b, k=3) if i != j]
    assert as_pairs(edge) == want
    assert (edge[1] == 3).sum() == 3 and (edge[1] == 0).sum() == 2
    plain = torch.rand(50, 3, generator=g)           # no duplicates: the strided fast path
    assert as_pairs(pyg.knn_graph(plain, 4)) == [(i, j) for j, i in brute(plain, plain, [0] * 50, [0] * 50, k=5)
                                                 if i != j]


def test_radius_graph_is_symmetric_without_cap():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(40, 3, generator=g)
    edge = pyg.radius_graph(x, 0.3, max_num_neighbors=100)
    pairs = set(as_pairs(edge))
    assert pairs == {(j, i) for i, j in pairs} and all(i != j for i, j in pairs)
    want = {(i, j) for j, i in brute(x, x, [0] * 40, [0] * 40, r=0.3, cap=100) if i != j}
    assert pairs == want
    capped = pyg.radius_graph(x, 0.3, max_num_neighbors=2)
    assert torch.bincount(capped[1], minlength=40).max() <= 2


def test_fps_counts_per_example_start_and_spread():
    g = torch.Generator().manual_seed(4)
    counts = [10, 3, 25]
    x = torch.rand(sum(counts), 3, generator=g)
    b = torch.repeat_interleave(torch.arange(3), torch.tensor(counts))
    idx = pyg.fps(x, b, ratio=0.3, random_start=False)
    per = [math.ceil(0.3 * n) for n in counts]       # torch_cluster: ceil(ratio * n) per example
    assert idx.tolist()[:1] == [0] and len(idx) == sum(per)
    assert torch.equal(torch.bincount(b[idx]), torch.tensor(per))
    assert idx[per[0]] == 10 and idx[per[0] + per[1]] == 13       # each example starts at its first point
    assert all(len(set(idx[b[idx] == e].tolist())) == p for e, p in enumerate(per))
    # the second pick is the point farthest from the first
    first = x[:10]
    assert idx[1] == ((first - first[0]) ** 2).sum(1).argmax()
    torch.manual_seed(5)
    a = pyg.fps(x, b, ratio=0.5)
    torch.manual_seed(5)
    assert torch.equal(a, pyg.fps(x, b, ratio=0.5))  # random starts follow torch's global seed
    assert torch.equal(pyg.fps(x[:20], None, 1.0, False).sort().values, torch.arange(20))


def test_knn_interpolate_matches_inverse_squared_distance():
    g = torch.Generator().manual_seed(6)
    pos_x, pos_y = torch.rand(20, 3, generator=g), torch.rand(15, 3, generator=g)
    bx = torch.tensor([0] * 8 + [1] * 12)
    by = torch.tensor([0] * 5 + [1] * 10)
    feat = torch.randn(20, 4, generator=g, requires_grad=True)
    out = pyg.knn_interpolate(feat, pos_x, pos_y, bx, by, k=3)
    want = []
    for j in range(15):
        cand = [i for i in range(20) if bx[i] == by[j]]
        near = sorted(cand, key=lambda i: float(((pos_x[i] - pos_y[j]) ** 2).sum()))[:3]
        w = torch.stack([1 / ((pos_x[i] - pos_y[j]) ** 2).sum() for i in near])
        want.append((feat[near] * w[:, None]).sum(0) / w.sum())
    torch.testing.assert_close(out, torch.stack(want))
    out.sum().backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0
    # a dense point on a sparse point takes its features
    same = pyg.knn_interpolate(feat, pos_x, pos_x[:3], bx, bx[:3])
    torch.testing.assert_close(same, feat[:3], rtol=1e-4, atol=1e-4)


def test_knn_interpolate_of_half_precision_features_stays_finite():
    """Under CUDA mixed precision the features are float16: a dense point on (or within 4 mm of) a sparse
    point has a raw weight beyond float16's range, which once gave inf / inf = NaN."""
    g = torch.Generator().manual_seed(7)
    pos_x = torch.rand(30, 3, generator=g)
    pos_y = torch.cat([pos_x[:4], pos_x[4:8] + 1e-3, torch.rand(8, 3, generator=g)])
    feat = torch.randn(30, 5, generator=g)
    full = pyg.knn_interpolate(feat, pos_x, pos_y)
    half = pyg.knn_interpolate(feat.half(), pos_x, pos_y)
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    torch.testing.assert_close(half.float(), full, rtol=1e-2, atol=1e-2)
    # an example with no points to interpolate from still gives NaN, as in PyG
    lone = pyg.knn_interpolate(feat, pos_x, pos_y[:2], torch.zeros(30, dtype=torch.long), torch.tensor([0, 1]))
    assert torch.isfinite(lone[0]).all() and torch.isnan(lone[1]).all()


def test_bad_batch_vectors_are_clear_errors():
    x = torch.rand(4, 3)
    with pytest.raises(ValueError, match="sorted"):
        pyg.knn(x, x, 2, torch.tensor([1, 0, 0, 1]), torch.tensor([0, 0, 1, 1]))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        pyg.fps(torch.rand(4, 2))
    with pytest.raises(ValueError, match="ratio"):
        pyg.fps(x, ratio=0.0)


def test_pyg_point_layers_run_on_these_graphs():
    nn = pytest.importorskip("torch_geometric.nn")
    from torch.nn import Linear, ReLU, Sequential

    torch.manual_seed(0)
    pos = torch.rand(2 * 64, 3)
    batch = torch.arange(2).repeat_interleave(64)
    feat = torch.randn(128, 5)
    # PointNet++ set abstraction: FPS centroids, radius neighbourhoods, PointNetConv
    idx = pyg.fps(pos, batch, ratio=0.25)
    row, col = pyg.radius(pos, pos[idx], 0.4, batch, batch[idx], max_num_neighbors=16)
    conv = nn.PointNetConv(Sequential(Linear(5 + 3, 16), ReLU()), add_self_loops=False)
    out = conv((feat, None), (pos, pos[idx]), torch.stack([col, row]))
    assert out.shape == (32, 16) and torch.isfinite(out).all()
    # Point Transformer on a kNN graph
    edge = pyg.knn_graph(pos, 8, batch)
    pt = nn.PointTransformerConv(5, 12)
    assert pt(feat, pos, edge).shape == (128, 12)
    # EdgeConv (DGCNN) on a kNN graph: each centre's output depends only on its neighbours
    ec = nn.EdgeConv(Sequential(Linear(10, 6)), aggr="max")
    y = ec(feat, edge)
    assert y.shape == (128, 6)
    hidden = torch.ones(128, dtype=torch.bool)
    hidden[edge[0][edge[1] == 0]] = False
    hidden[0] = False
    moved = feat.clone()
    moved[hidden] += 10.0
    assert torch.allclose(ec(moved, edge)[0], y[0])
