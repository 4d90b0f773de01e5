"""PyTorch Geometric's graph-building ops on pcseg's kernels, so PyG's point layers run without pyg-lib.

torch-geometric 2.8 delegates ``fps``, ``knn``, ``knn_graph``, ``radius``, ``radius_graph`` and
``knn_interpolate`` to pyg-lib / torch_cluster, which do not install on many machines. These functions take
PyG's arguments and return PyG's layout, computed by :mod:`pcseg.ops` (numba kd-trees for CPU tensors, the
PyTorch path on CUDA). Swapping ``from torch_geometric.nn import fps, radius, knn_interpolate`` for
``from pcseg.ops.pyg import fps, radius, knn_interpolate`` is all a PyG point-cloud script needs.

Conventions (torch_cluster's documentation and source, ``torch_cluster/{fps,knn,radius}.py``):

- points of several examples are stacked, ``batch`` assigns each row to its example and must be sorted
  (``None`` = one example); examples may hold different numbers of points (ragged);
- ``knn(x, y, k)`` / ``radius(x, y, r)`` return ``(2, E)`` int64 with row 0 indexing the queries ``y`` and
  row 1 the points ``x``, queries in order, each query's neighbours nearest first (ties by index);
- ``knn`` returns fewer than ``k`` neighbours when an example holds fewer than ``k`` points, and none for a
  query whose example has no points in ``x``;
- ``radius`` keeps points with squared distance strictly below ``r * r``, at most ``max_num_neighbors``
  per query: the nearest ones (torch_cluster keeps an arbitrary subset; the nearest is one of them);
- ``*_graph(flow="source_to_target")`` returns ``[neighbour, centre]`` rows (messages flow from the
  neighbours into the centre), ``"target_to_source"`` the reverse; ``loop=False`` asks for ``k + 1``
  (``max_num_neighbors + 1``) neighbours and drops the pairs ``i == j``, as torch_cluster does;
- ``fps`` takes ``ceil(ratio * n)`` points from an example of n points, starting at a random point of each
  example (``random_start``, drawn from torch's global generator) or at its first point; returned indices
  are global row numbers, example by example, in sampling order.

Examples of equal size (every model batch) are searched in one batched call; ragged ones one by one.
"""

from __future__ import annotations

import math

import torch

from pcseg.ops import neighbors, sampling
from pcseg.ops._backend import resolve

FLOWS = ("source_to_target", "target_to_source")


def _examples(batch: torch.Tensor | None, n: int, size: int | None, name: str) -> torch.Tensor:
    """Points per example from a sorted batch vector. Shapes: batch (n,) -> counts (num_examples,) int64."""
    if batch is None:
        return torch.tensor([n], dtype=torch.long)
    if batch.dim() != 1 or batch.numel() != n:
        raise ValueError(f"{name} must be a vector of {n} example indices, got shape {tuple(batch.shape)}")
    if n and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError(f"{name} must be sorted (PyG's convention: the points of each example contiguous)")
    if n and int(batch[0]) < 0:
        raise ValueError(f"{name} holds negative example indices")
    length = size if size is not None else (int(batch[-1]) + 1 if n else 0)
    return torch.bincount(batch.cpu(), minlength=length)


def _pair_counts(x: torch.Tensor, y: torch.Tensor, batch_x: torch.Tensor | None, batch_y: torch.Tensor | None,
                 batch_size: int | None) -> tuple[list[int], list[int]]:
    cx = _examples(batch_x, x.shape[0], batch_size, "batch_x")
    cy = _examples(batch_y, y.shape[0], batch_size, "batch_y")
    if (batch_x is None) != (batch_y is None) and max(len(cx), len(cy)) > 1:
        raise ValueError("give both batch_x and batch_y, or neither")
    length = max(len(cx), len(cy))
    pad = torch.zeros(length, dtype=torch.long)
    return (pad.clone().index_copy_(0, torch.arange(len(cx)), cx).tolist(),
            pad.index_copy_(0, torch.arange(len(cy)), cy).tolist())


def _check_pos(*tensors: torch.Tensor) -> None:
    for t in tensors:
        if t.dim() != 2 or t.shape[1] != 3:
            raise ValueError(f"expected positions of shape (N, 3), got {tuple(t.shape)}")


def _neighbours(x: torch.Tensor, y: torch.Tensor, k: int, r: float | None, batch_x: torch.Tensor | None,
                batch_y: torch.Tensor | None, batch_size: int | None,
                drop_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """kNN (r None) or the capped radius search: (query rows in y, point rows in x), query by query.
    ``drop_self`` (kNN of a cloud on itself, x is y) leaves out the pairs of a point with itself."""
    _check_pos(x, y)
    if k < 1:
        raise ValueError(f"k / max_num_neighbors must be >= 1, got {k}")
    nx, ny = _pair_counts(x, y, batch_x, batch_y, batch_size)
    device = y.device
    # (examples, points per example, queries per example, first point row, first query row) per call
    if len(set(nx)) == 1 and len(set(ny)) == 1 and nx[0] > 0 and ny[0] > 0:
        calls = [(len(nx), nx[0], ny[0], 0, 0)]                # equal sizes: one batched call
    else:
        calls, x_off, y_off = [], 0, 0
        for n, m in zip(nx, ny):
            if n > 0 and m > 0:
                calls.append((1, n, m, x_off, y_off))
            x_off, y_off = x_off + n, y_off + m
    rows, cols = [], []
    for b, n, m, x_off, y_off in calls:
        q = y[y_off:y_off + b * m].reshape(b, m, 3)
        ref = x[x_off:x_off + b * n].reshape(b, n, 3)
        kk = min(k, n)
        # query -> global row in y; neighbour -> global row in x (its example's first point + its index)
        if r is None:                                         # every slot is a neighbour
            idx = _global(neighbors.knn(q, ref, kk)[1], n, x_off)
            own = torch.arange(y_off, y_off + b * m, device=idx.device).view(-1, 1)
            if not drop_self:
                rows.append(own.expand(-1, kk).reshape(-1))
                cols.append(idx.reshape(-1))
                continue
            # a row holds its own point at most once (indices in a row are distinct); nearly always it is
            # the nearest, in slot 0, and then dropping the slot is one strided copy (a boolean mask over
            # the slots costs 20x more; it is kept for duplicate points, where another may come first)
            if bool((idx[:, 0] == own[:, 0]).all()):
                cols.append(idx[:, 1:].reshape(-1))
                rows.append(own.expand(-1, kk - 1).reshape(-1))
                continue
            keep = idx != own
            cols.append(idx[keep])
            rows.append(own.view(-1).repeat_interleave(keep.sum(1)))
        else:                                                 # slots beyond count repeat the nearest
            idx, count = neighbors.ring_query(q, ref, 0.0, r, kk)
            row, col = _compact(_global(idx, n, x_off), count.reshape(-1).to(torch.long), y_off)
            rows.append(row)
            cols.append(col)
    if not rows:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty
    if len(rows) == 1:
        return rows[0].to(device), cols[0].to(device)
    return torch.cat(rows).to(device), torch.cat(cols).to(device)


def _global(idx: torch.Tensor, n: int, x_off: int) -> torch.Tensor:
    """Per-example neighbour indices (B, M, k) made global rows of x, in place: example e's first row is
    ``x_off + e * n``. Shapes: -> (B * M, k)"""
    b, k = idx.shape[0], idx.shape[-1]
    if b > 1 or x_off:
        idx.add_((torch.arange(b, device=idx.device) * n + x_off).view(b, 1, 1))
    return idx.view(-1, k)


def _compact(idx: torch.Tensor, count: torch.Tensor, first_row: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, index) pairs of the first ``count`` slots of each row of ``idx``: one compiled pass on CPU
    (boolean indexing and repeat_interleave cost a fifth of the radius search itself), torch elsewhere.

    Shapes: idx (Q, k) int64, count (Q,) int64 -> rows (E,), cols (E,), E = count.sum()
    """
    if resolve("auto", idx) == "numba":
        from pcseg.ops import _kernels as K

        total = int(count.sum())
        rows, cols = torch.empty(total, dtype=torch.long), torch.empty(total, dtype=torch.long)
        K.compact_slots(idx.contiguous().numpy(), count.contiguous().numpy(), first_row, rows.numpy(), cols.numpy())
        return rows, cols
    used = torch.arange(idx.shape[1], device=idx.device) < count.view(-1, 1)
    own = torch.arange(first_row, first_row + idx.shape[0], device=idx.device)
    return own.repeat_interleave(count), idx[used]


def _check_flow(flow: str, cosine: bool = False) -> None:
    if flow not in FLOWS:
        raise ValueError(f"flow must be one of {FLOWS}, got {flow!r}")
    if cosine:
        raise NotImplementedError("pcseg.ops.pyg: cosine distance is not supported")


def knn(x: torch.Tensor, y: torch.Tensor, k: int, batch_x: torch.Tensor | None = None,
        batch_y: torch.Tensor | None = None, cosine: bool = False, num_workers: int = 1,
        batch_size: int | None = None) -> torch.Tensor:
    """For each point of ``y``, its ``k`` nearest points of ``x`` in the same example (PyG ``knn``).

    ``cosine`` is not supported (Euclidean only); ``num_workers`` is accepted and ignored (the kernels use
    torch's thread count).

    Shapes: x (N, 3), y (M, 3), batch_x (N,), batch_y (M,) -> edge_index (2, E) int64, row 0 into y,
    row 1 into x, E = M * k when every example holds at least k points.
    """
    _check_flow(FLOWS[0], cosine)
    return torch.stack(_neighbours(x, y, int(k), None, batch_x, batch_y, batch_size))


def radius(x: torch.Tensor, y: torch.Tensor, r: float, batch_x: torch.Tensor | None = None,
           batch_y: torch.Tensor | None = None, max_num_neighbors: int = 32, num_workers: int = 1,
           batch_size: int | None = None) -> torch.Tensor:
    """For each point of ``y``, the points of ``x`` in the same example closer than ``r``, at most
    ``max_num_neighbors`` (the nearest) (PyG ``radius``).

    Shapes: x (N, 3), y (M, 3) -> edge_index (2, E) int64, row 0 into y, row 1 into x.
    """
    if not r > 0:
        raise ValueError(f"radius: r must be > 0, got {r}")
    return torch.stack(_neighbours(x, y, int(max_num_neighbors), float(r), batch_x, batch_y, batch_size))


def _graph(centre: torch.Tensor, neighbour: torch.Tensor, loop: bool, flow: str) -> torch.Tensor:
    first, second = (neighbour, centre) if flow == "source_to_target" else (centre, neighbour)
    if loop:
        return torch.stack([first, second])
    keep = (centre != neighbour).nonzero().squeeze(1)
    out = torch.empty(2, len(keep), dtype=centre.dtype, device=centre.device)
    torch.index_select(first, 0, keep, out=out[0])         # written in place: no second copy of the edges
    torch.index_select(second, 0, keep, out=out[1])
    return out


def knn_graph(x: torch.Tensor, k: int, batch: torch.Tensor | None = None, loop: bool = False,
              flow: str = "source_to_target", cosine: bool = False, num_workers: int = 1,
              batch_size: int | None = None) -> torch.Tensor:
    """The k-nearest-neighbour graph of ``x`` (PyG ``knn_graph``); see the module docstring for ``loop``
    and ``flow``.

    Shapes: x (N, 3), batch (N,) -> edge_index (2, E) int64.
    """
    _check_flow(flow, cosine)
    centre, neighbour = _neighbours(x, x, int(k) if loop else int(k) + 1, None, batch, batch, batch_size,
                                    drop_self=not loop)
    return _graph(centre, neighbour, True, flow)


def radius_graph(x: torch.Tensor, r: float, batch: torch.Tensor | None = None, loop: bool = False,
                 max_num_neighbors: int = 32, flow: str = "source_to_target", num_workers: int = 1,
                 batch_size: int | None = None) -> torch.Tensor:
    """The graph joining points of ``x`` closer than ``r`` (PyG ``radius_graph``).

    Shapes: x (N, 3), batch (N,) -> edge_index (2, E) int64.
    """
    _check_flow(flow)
    if not r > 0:
        raise ValueError(f"radius_graph: r must be > 0, got {r}")
    cap = int(max_num_neighbors) if loop else int(max_num_neighbors) + 1
    return _graph(*_neighbours(x, x, cap, float(r), batch, batch, batch_size), loop, flow)


def fps(x: torch.Tensor, batch: torch.Tensor | None = None, ratio: float = 0.5, random_start: bool = True,
        batch_size: int | None = None) -> torch.Tensor:
    """Farthest point sampling of ``ceil(ratio * n)`` points of every example (PyG ``fps``).

    Shapes: x (N, 3), batch (N,) -> idx (S,) int64 global row numbers, example by example.
    """
    _check_pos(x)
    ratio = float(ratio)
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"fps: ratio must be in (0, 1], got {ratio}")
    counts = _examples(batch, x.shape[0], batch_size, "batch").tolist()
    # start indices from torch's global generator, so torch.manual_seed pins them as it does for PyG
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, ()))) if random_start else None
    if counts and len(set(counts)) == 1 and counts[0] > 0:
        b, n = len(counts), counts[0]
        idx = sampling.fps(x.reshape(b, n, 3), math.ceil(ratio * n), generator=gen)
        return (idx + (torch.arange(b, device=idx.device) * n)[:, None]).reshape(-1)
    out, start = [], 0
    for n in counts:
        if n > 0:
            out.append(sampling.fps(x[start:start + n][None], math.ceil(ratio * n), generator=gen)[0] + start)
        start += n
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=x.device)


def knn_interpolate(x: torch.Tensor, pos_x: torch.Tensor, pos_y: torch.Tensor,
                    batch_x: torch.Tensor | None = None, batch_y: torch.Tensor | None = None, k: int = 3,
                    num_workers: int = 1) -> torch.Tensor:
    """Features of ``pos_x`` spread to ``pos_y`` by inverse squared distance over the ``k`` nearest
    (PyTorch Geometric ``knn_interpolate``, PointNet++ eq. 2 with p = 2; weights ``1 / max(d^2, 1e-16)``).
    Differentiable in ``x``; a point of ``pos_y`` whose example has no ``pos_x`` points gets NaN, as in PyG.

    Shapes: x (N, C), pos_x (N, 3), pos_y (M, 3) -> (M, C).
    """
    with torch.no_grad():
        y_idx, x_idx = _neighbours(pos_x, pos_y, int(k), None, batch_x, batch_y, None)
        diff = pos_x[x_idx] - pos_y[y_idx]
        w = 1.0 / (diff * diff).sum(-1, keepdim=True).clamp_min(1e-16)
        m = pos_y.shape[0]
        den = torch.zeros(m, 1, dtype=w.dtype, device=w.device).index_add_(0, y_idx, w)
        # normalised before any cast: a raw weight reaches 1e16, past float16's 65504 under mixed precision
        w = w / den[y_idx]
    out = torch.zeros(m, x.shape[1], dtype=x.dtype, device=x.device).index_add_(0, y_idx, x[x_idx] * w.to(x.dtype))
    return torch.where(den > 0, out, torch.nan)


__all__ = ["fps", "knn", "knn_graph", "radius", "radius_graph", "knn_interpolate"]
