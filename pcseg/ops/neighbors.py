"""Neighbour search, batched: k nearest neighbours and the annular "ring" query of A-CNN.

Both backends (numba kd-tree for CPU tensors, chunked brute force in PyTorch for any device) compute float32
squared distances as ``dx*dx + dy*dy + dz*dz`` and sort neighbours by (distance, index), so they return
identical results, ties included.
"""

from __future__ import annotations

import numpy as np
import torch

from pcseg.ops._backend import num_threads, parallel_map, resolve, split_range

KNN_LEAF_SIZE = 32            # kd-tree bucket size; tools/bench_ops.py --sweep: fastest at both sizes
_CHUNK_ELEMENTS = 1 << 22     # torch fallback: query x reference pairs per chunk (bounds memory)
_NO_KEY = torch.iinfo(torch.int64).max


def _check_pair(query: torch.Tensor, ref: torch.Tensor, k: int, name: str) -> None:
    if query.dim() != 3 or query.shape[-1] != 3 or ref.dim() != 3 or ref.shape[-1] != 3:
        raise ValueError(f"{name} expects (B, M, 3) queries and (B, N, 3) points, "
                         f"got {tuple(query.shape)} and {tuple(ref.shape)}")
    if query.shape[0] != ref.shape[0]:
        raise ValueError(f"{name}: batch sizes differ ({query.shape[0]} vs {ref.shape[0]})")
    if ref.shape[1] == 0:
        raise ValueError(f"{name}: no reference points")
    if k < 1:
        raise ValueError(f"{name}: k must be >= 1, got {k}")


def knn(query: torch.Tensor, ref: torch.Tensor, k: int,
        backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest reference points of every query, nearest first.

    Args:
        query, ref: coordinates (computed in float32); a query that is also a reference point finds itself
            at distance 0.
        k: neighbours per query, 1 <= k <= N.

    Shapes: query (B, M, 3), ref (B, N, 3) -> dist2 (B, M, k) float32 squared distances (ascending),
    idx (B, M, k) int64 indices into ref.
    """
    _check_pair(query, ref, k, "knn")
    if k > ref.shape[1]:
        raise ValueError(f"knn: k={k} is more than the {ref.shape[1]} reference points")
    with torch.no_grad():
        if resolve(backend, query, ref) == "numba":
            return _knn_numba(query, ref, k)
        return _knn_torch(query, ref, k)


def ring_query(query: torch.Tensor, ref: torch.Tensor, r_in: float, r_out: float, k: int,
               backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """A-CNN ring query: the ``k`` nearest reference points with ``r_in <= d < r_out`` around each query.

    Rules (the reference is ``ring_point`` in artemkomarichev/a-cnn ``tf_ops/grouping_ring``):
    - the found points are sorted by distance (the reference leaves them unsorted; A-CNN orders them by
      angle afterwards anyway, see :mod:`pcseg.ops.ordering`);
    - slots beyond the ``count`` found points repeat the first (nearest) found point, as the reference does;
    - an empty ring (count 0) grows outwards: every slot takes the nearest point with ``d >= r_in``, or,
      when every point lies inside ``r_in``, the nearest point of all. (The reference falls back to the
      centroid itself, which carries no information from the ring's scale.)
    Comparisons are made on float32 squared distances: ``r_in**2 <= d2 < r_out**2``.

    Shapes: query (B, M, 3), ref (B, N, 3) -> idx (B, M, k) int64 into ref, count (B, M) int64 (points
    really inside the ring, <= k).
    """
    _check_pair(query, ref, k, "ring_query")
    if not 0 <= r_in < r_out:
        raise ValueError(f"ring_query: need 0 <= r_in < r_out, got {r_in}, {r_out}")
    r_in2 = float(np.float32(r_in * r_in))
    r_out2 = float(np.float32(r_out * r_out)) if np.isfinite(r_out) else float("inf")
    with torch.no_grad():
        if resolve(backend, query, ref) == "numba":
            return _ring_numba(query, ref, r_in2, r_out2, k)
        return _ring_torch(query, ref, r_in2, r_out2, k)


def group(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gather channel-first features at neighbour indices, differentiably.

    Shapes: x (B, C, N), idx (B, M, k) int64 -> (B, C, M, k).
    """
    b, c, _ = x.shape
    flat = idx.reshape(b, 1, -1).expand(-1, c, -1)
    return torch.gather(x, 2, flat).reshape(b, c, *idx.shape[1:])


# --------------------------------------------------------------------------- numba backend

def _as_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).contiguous().numpy()


def _run_trees(query: np.ndarray, ref: np.ndarray, work) -> None:
    """Build one kd-tree per batch item, then run ``work(tree, b, q0, q1)`` over query chunks in threads."""
    from pcseg.ops import _kernels as K

    b = ref.shape[0]
    threads = num_threads(b * max(ref.shape[1], query.shape[1]))
    trees = parallel_map(lambda i: K.build(ref[i], KNN_LEAF_SIZE, threads if b == 1 else 1), range(b),
                         threads)
    per_item = max(1, threads // b)
    tasks = [(i, q0, q1) for i in range(b) for q0, q1 in split_range(query.shape[1], per_item)]
    parallel_map(lambda t: work(trees[t[0]], *t), tasks, threads)


def _knn_numba(query: torch.Tensor, ref: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    from pcseg.ops import _kernels as K

    q, r = _as_np(query), _as_np(ref)
    out_d = np.empty((q.shape[0], q.shape[1], k), np.float32)
    out_i = np.empty((q.shape[0], q.shape[1], k), np.int64)

    def work(tree, i, q0, q1):
        K.knn_tree(*tree, q[i, q0:q1], k, out_d[i, q0:q1], out_i[i, q0:q1])

    _run_trees(q, r, work)
    return torch.from_numpy(out_d).to(query.device), torch.from_numpy(out_i).to(query.device)


def _ring_numba(query: torch.Tensor, ref: torch.Tensor, r_in2: float, r_out2: float,
                k: int) -> tuple[torch.Tensor, torch.Tensor]:
    from pcseg.ops import _kernels as K

    q, r = _as_np(query), _as_np(ref)
    out_i = np.empty((q.shape[0], q.shape[1], k), np.int64)
    out_c = np.empty((q.shape[0], q.shape[1]), np.int64)
    lo2, hi2 = np.float32(r_in2), np.float32(r_out2)

    def work(tree, i, q0, q1):
        K.ring_tree(*tree, q[i, q0:q1], k, lo2, hi2, out_i[i, q0:q1], out_c[i, q0:q1])

    _run_trees(q, r, work)
    return torch.from_numpy(out_i).to(query.device), torch.from_numpy(out_c).to(query.device)


# --------------------------------------------------------------------------- torch backend

def _dist2(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Shapes: q (B, M, 3), r (B, N, 3) -> (B, M, N) float32, same arithmetic as the kernels."""
    dx = q[:, :, None, 0] - r[:, None, :, 0]
    dy = q[:, :, None, 1] - r[:, None, :, 1]
    dz = q[:, :, None, 2] - r[:, None, :, 2]
    return dx * dx + dy * dy + dz * dz


def _smallest(d2: torch.Tensor, valid: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k smallest valid entries of each row by (d2, index), exactly: the key packs the float32 bit
    pattern (order-preserving for d2 >= 0) above the index. Invalid entries sort last with key _NO_KEY.

    Shapes: d2, valid (B, M, N) -> key (B, M, k) int64 ascending, idx (B, M, k) int64."""
    n = d2.shape[-1]
    bits = d2.contiguous().view(torch.int32).to(torch.int64)
    key = (bits << 32) | torch.arange(n, device=d2.device)
    key = torch.where(valid, key, torch.full_like(key, _NO_KEY))
    key = torch.topk(key, k, dim=-1, largest=False, sorted=True).values
    return key, key & 0xFFFFFFFF


def _chunks(m: int, b: int, n: int) -> list[tuple[int, int]]:
    step = max(1, _CHUNK_ELEMENTS // max(1, b * n))
    return [(s, min(m, s + step)) for s in range(0, m, step)]


def _knn_torch(query: torch.Tensor, ref: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    q, r = query.detach().to(torch.float32), ref.detach().to(torch.float32)
    d_out, i_out = [], []
    for s, e in _chunks(q.shape[1], q.shape[0], r.shape[1]):
        d2 = _dist2(q[:, s:e], r)
        key, idx = _smallest(d2, torch.ones_like(d2, dtype=torch.bool), k)
        d_out.append(torch.gather(d2, 2, idx))
        i_out.append(idx)
    return torch.cat(d_out, 1), torch.cat(i_out, 1)


def _ring_torch(query: torch.Tensor, ref: torch.Tensor, r_in2: float, r_out2: float,
                k: int) -> tuple[torch.Tensor, torch.Tensor]:
    q, r = query.detach().to(torch.float32), ref.detach().to(torch.float32)
    kk = min(k, r.shape[1])
    i_out, c_out = [], []
    for s, e in _chunks(q.shape[1], q.shape[0], r.shape[1]):
        d2 = _dist2(q[:, s:e], r)
        key, idx = _smallest(d2, (d2 >= r_in2) & (d2 < r_out2), kk)
        found = key != _NO_KEY
        count = found.sum(-1)
        # empty ring: the nearest point with d >= r_in, else the nearest point of all
        _, beyond = _smallest(d2, d2 >= r_in2, 1)
        has_beyond = (d2 >= r_in2).any(-1, keepdim=True)
        _, nearest = _smallest(d2, torch.ones_like(d2, dtype=torch.bool), 1)
        fallback = torch.where(has_beyond, beyond, nearest)
        first = torch.where(count[..., None] > 0, idx[..., :1], fallback)
        idx = torch.where(found, idx, first)
        if kk < k:
            idx = torch.cat([idx, first.expand(-1, -1, k - kk)], -1)
        i_out.append(idx)
        c_out.append(count)
    return torch.cat(i_out, 1), torch.cat(c_out, 1)
