"""Farthest point sampling (FPS), batched.

FPS (Eldar et al., "The farthest point strategy for progressive image sampling", IEEE TIP 1997; used for
centroids by PointNet++, Qi et al. 2017, and A-CNN) picks a start point, then repeatedly the point farthest
from everything picked so far.

Rules shared by both backends (so they return identical indices, which the tests check):
- the start is index 0 of every batch item, or a random index per item drawn from ``generator``;
- distances are float32 squared Euclidean, ``dx*dx + dy*dy + dz*dz``; ties go to the smaller index;
- an already selected point is never picked again while an unselected one remains, so the result has
  ``m`` distinct indices whenever ``m <= N`` (duplicate positions are taken after every distinct one).

Backends: the numba kd-tree version (QuickFPS-style pruning, :mod:`pcseg.ops._kernels`, one thread per
batch item) for CPU tensors, and a pure PyTorch loop (any device). ``tools/bench_ops.py`` compares them with
Open3D and fpsample.
"""

from __future__ import annotations

import numpy as np
import torch

from pcseg.ops._backend import num_threads, parallel_map, resolve

FPS_LEAF_SIZE = 64     # kd-tree bucket size; tools/bench_ops.py --sweep: 32 and 64 are fastest at both sizes


def _check(xyz: torch.Tensor, m: int) -> None:
    if xyz.dim() != 3 or xyz.shape[-1] != 3:
        raise ValueError(f"fps expects xyz of shape (B, N, 3), got {tuple(xyz.shape)}")
    if not 1 <= m <= xyz.shape[1]:
        raise ValueError(f"fps: cannot sample {m} of {xyz.shape[1]} points")


def fps(xyz: torch.Tensor, m: int, generator: torch.Generator | None = None,
        backend: str = "auto") -> torch.Tensor:
    """Farthest point sampling of ``m`` points per batch item.

    Args:
        xyz: point coordinates (float; computed in float32).
        m: samples per item, 1 <= m <= N.
        generator: when given, the start index of each item is drawn from it (CPU generator); otherwise
            every item starts at index 0 (the reference convention).
        backend: "auto" | "numba" | "torch" (see :mod:`pcseg.ops._backend`).

    Shapes: xyz (B, N, 3) -> idx (B, m) int64 on xyz's device.
    """
    _check(xyz, m)
    b, n, _ = xyz.shape
    if generator is None:
        start = torch.zeros(b, dtype=torch.long)
    else:
        start = torch.randint(0, n, (b,), generator=generator)
    with torch.no_grad():
        if resolve(backend, xyz) == "numba":
            return _fps_numba(xyz, m, start)
        return _fps_torch(xyz, m, start.to(xyz.device))


def _fps_numba(xyz: torch.Tensor, m: int, start: torch.Tensor) -> torch.Tensor:
    from pcseg.ops import _kernels as K

    pts = xyz.detach().to(torch.float32).contiguous().numpy()
    starts = start.tolist()
    threads = num_threads(pts.shape[0] * pts.shape[1])
    # one item: its tree is built in two threads; several: one item per thread
    build_threads = threads if pts.shape[0] == 1 else 1

    def one(i: int) -> np.ndarray:
        return K.fps_on_tree(*K.build(pts[i], FPS_LEAF_SIZE, build_threads), m, starts[i])

    rows = parallel_map(one, range(pts.shape[0]), threads)
    return torch.from_numpy(np.stack(rows)).to(xyz.device)


def _fps_torch(xyz: torch.Tensor, m: int, start: torch.Tensor) -> torch.Tensor:
    """The vanilla O(N m) loop, vectorised over the batch; works on any device."""
    pts = xyz.detach().to(torch.float32)
    b, n, _ = pts.shape
    x, y, z = pts[..., 0], pts[..., 1], pts[..., 2]
    rows = torch.arange(b, device=pts.device)
    dist = torch.full((b, n), float("inf"), device=pts.device)
    out = torch.empty((b, m), dtype=torch.long, device=pts.device)
    s = start
    for i in range(m):
        out[:, i] = s
        c = pts[rows, s]
        dx = x - c[:, 0:1]
        dy = y - c[:, 1:2]
        dz = z - c[:, 2:3]
        dist = torch.minimum(dist, dx * dx + dy * dy + dz * dz)
        dist[rows, s] = -1.0
        s = dist.argmax(dim=1)
    return out


def gather_points(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Pick points by index, differentiably.

    Shapes: x (B, N, C), idx (B, ...) int64 -> (B, ..., C).
    """
    b = x.shape[0]
    flat = idx.reshape(b, -1)
    out = torch.gather(x, 1, flat.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return out.reshape(*idx.shape, x.shape[-1])
