"""Inverse-distance interpolation from a sparse point set to a dense one (PointNet++ feature propagation).

PointNet++ (Qi et al., NeurIPS 2017, sec. 3.4, eq. 2): ``f(x) = sum_i w_i f_i / sum_i w_i`` over the
k = 3 nearest sparse points with ``w_i = 1 / d(x, x_i)^p``, p = 2 ("we use p = 2, k = 3 by default"), i.e.
the inverse squared distance, which is what the reference CUDA op computes (``three_nn`` returns squared
distances, clamped at 1e-10, in charlesq34/pointnet2 ``tf_ops/3d_interpolation``; A-CNN uses it as is).
"""

from __future__ import annotations

import numpy as np
import torch

from pcseg.errors import PcsegError
from pcseg.ops.neighbors import knn


def three_nn_weights(dense: torch.Tensor, sparse: torch.Tensor, k: int = 3,
                     backend: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """Indices and normalised inverse-squared-distance weights of the ``k`` nearest sparse points
    (fewer when the sparse set has fewer points; one sparse point gets weight 1).

    Shapes: dense (B, N, 3), sparse (B, M, 3) -> idx (B, N, k') int64, weight (B, N, k') float32,
    k' = min(k, M); weights sum to 1 over the last axis.
    """
    dist2, idx = knn(dense, sparse, min(k, sparse.shape[1]), backend=backend)
    w = 1.0 / dist2.clamp_min(1e-10)
    return idx, w / w.sum(dim=-1, keepdim=True)


def interpolate(features: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted sum of sparse features at ``idx`` (differentiable in ``features``).

    Shapes: features (B, C, M), idx (B, N, k) int64, weight (B, N, k) -> (B, C, N).
    """
    b, c, m = features.shape
    rows = idx + (torch.arange(b, device=idx.device) * m).view(b, 1, 1)
    table = features.transpose(1, 2).reshape(b * m, c)
    w = weight.to(features.dtype).unsqueeze(-1)                                  # (B, N, k, 1)
    # one term per neighbour: a broadcast sum over k would give a stride-0 gradient that is slow on CPU
    n = idx.shape[1]

    def term(j: int) -> torch.Tensor:
        return torch.index_select(table, 0, rows[..., j].reshape(-1)).view(b, n, c) * w[:, :, j]

    out = term(0)
    for j in range(1, idx.shape[-1]):
        out = out + term(j)
    return out.transpose(1, 2)                                                   # (B, C, N)


def three_nn_interpolate(features: torch.Tensor, dense: torch.Tensor, sparse: torch.Tensor, k: int = 3,
                         backend: str = "auto") -> torch.Tensor:
    """Features of the sparse points spread to the dense points (PointNet++ eq. 2, p = 2, k = 3).

    Shapes: features (B, C, M) at sparse (B, M, 3), dense (B, N, 3) -> (B, C, N).
    """
    idx, weight = three_nn_weights(dense, sparse, k, backend)
    return interpolate(features, idx, weight)


def fill_from_nearest(coord: np.ndarray, scores: torch.Tensor, known: np.ndarray,
                      backend: str = "auto") -> torch.Tensor:
    """Points without scores take those of their nearest point with scores (3D distance, pcseg's kNN).

    Used by block inference (points no block covered) and range-image inference (points no view saw).
    Raises PcsegError when no point has scores.

    Shapes: coord (N, 3), scores (N, K), known (N,) bool -> scores (N, K), modified in place.
    """
    known = np.asarray(known, dtype=bool)
    if not known.any():
        raise PcsegError("input", "no point of the cloud received scores (none was covered by the model's input)")
    src = np.flatnonzero(known)
    dst = np.flatnonzero(~known)
    if len(dst) == 0:
        return scores
    xyz = torch.tensor(np.asarray(coord), dtype=torch.float32)     # a copy: coord may be a read-only view
    _, nearest = knn(xyz[torch.from_numpy(dst)].unsqueeze(0), xyz[torch.from_numpy(src)].unsqueeze(0), 1, backend)
    scores[torch.from_numpy(dst)] = scores[torch.from_numpy(src)[nearest[0, :, 0]]]
    return scores
