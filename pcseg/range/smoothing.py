"""Smoothing a scan's point scores in 3D: each point's scores blended with those of the points around it.

A range-image network labels pixels, and the kNN vote of back-projection (pcseg.range.backproject) looks
only at a 5 x 5 window of the image: a car, a trunk or a stretch of facade comes out with patches of another
class that a view of the points in space would not give it. ``smooth_scores`` blends each point's scores
with the mean scores of the points in the box of 3 x 3 x 3 cells of ``cell`` metres around its own cell (a
box filter over a sparse voxel grid: one mean per occupied cell, then the sum over the 27 neighbouring cells,
found by binary search in the sorted cell keys; a compiled numba kernel on the CPU, pcseg.range._smooth_kernel,
and 27 vectorised searches in PyTorch elsewhere, which give the same means).

Only points labelled with a class outside ``skip`` take part, and only they are changed: the ground classes
(road, sidewalk, parking, terrain) meet along kerbs and verges where a box of a metre or more would blur the
boundary the labels have to find, while things standing on the ground (cars, trunks, poles, facades,
foliage) are where the network's patches are.

Shapes: coord (N, 3), scores (N, K) -> (N, K) float32. Runs on the scores' device.
"""

from __future__ import annotations

from typing import Sequence

import torch

from pcseg.ops._backend import resolve

# the 27 cells of a 3 x 3 x 3 box, as offsets in x, y and z
_BOX = [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)]


def _box_sums_torch(cells: torch.Tensor, total: torch.Tensor, count: torch.Tensor, ny: int, nz: int
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The 3 x 3 x 3 box sums by 27 vectorised binary searches (GPU tensors, or no numba)."""
    box_total, box_count = torch.zeros_like(total), torch.zeros_like(count)
    last = len(cells) - 1
    for dx, dy, dz in _BOX:
        wanted = cells + (dx * ny + dy) * nz + dz
        at = torch.searchsorted(cells, wanted).clamp_(max=last)
        hit = cells[at] == wanted
        box_total[hit] += total[at[hit]]
        box_count[hit] += count[at[hit]]
    return box_total, box_count


def box_means(coord: torch.Tensor, scores: torch.Tensor, cell: float, backend: str = "auto") -> torch.Tensor:
    """The mean scores of the points in the 3 x 3 x 3 cells of ``cell`` metres around each point's cell
    (its own included, so every point has at least itself). ``backend``: "auto" (the compiled numba kernel
    for CPU tensors when numba imports, else PyTorch), "numba" or "torch".

    Shapes: coord (N, 3), scores (N, K) -> (N, K)
    """
    use_kernel = resolve(backend, scores, kernels="pcseg.range._smooth_kernel") == "numba"
    g = torch.floor(coord.double() / cell).long()
    g = g - g.min(0).values + 1                       # every neighbour index stays >= 0
    dims = g.max(0).values + 2
    ny, nz = int(dims[1]), int(dims[2])
    key = (g[:, 0] * ny + g[:, 1]) * nz + g[:, 2]
    cells, inverse = torch.unique(key, sorted=True, return_inverse=True)
    total = torch.zeros(len(cells), scores.shape[1], dtype=torch.float32, device=scores.device)
    total.index_add_(0, inverse, scores.float())
    count = torch.bincount(inverse, minlength=len(cells)).float()
    if use_kernel:
        from pcseg.range._smooth_kernel import box_sums

        box_total, box_count = (torch.from_numpy(a) for a in box_sums(cells.numpy(), total.numpy(),
                                                                       count.numpy(), ny, nz))
    else:
        box_total, box_count = _box_sums_torch(cells, total, count, ny, nz)
    return (box_total / box_count.unsqueeze(1))[inverse]


def smooth_scores(coord: torch.Tensor, scores: torch.Tensor, cell: float, weight: float,
                  skip: Sequence[int] = ()) -> torch.Tensor:
    """``(1 - weight) * scores + weight * box mean`` for the points whose best class is not in ``skip``;
    the other points keep their scores and are left out of every mean.

    Shapes: coord (N, 3), scores (N, K) -> (N, K) float32
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the smoothing weight must be between 0 and 1, got {weight}")
    if cell <= 0:
        raise ValueError(f"the smoothing cell must be positive, got {cell}")
    coord = torch.as_tensor(coord).to(scores.device)
    label = scores.argmax(1)
    take = torch.ones(len(scores), dtype=torch.bool, device=scores.device)
    if len(skip):
        take &= ~torch.isin(label, torch.as_tensor(list(skip), device=scores.device))
    out = scores.clone()
    if weight == 0.0 or not bool(take.any()):
        return out
    mine = scores[take]
    out[take] = (1.0 - weight) * mine + weight * box_means(coord[take], mine, cell)
    return out


__all__ = ["smooth_scores", "box_means"]
