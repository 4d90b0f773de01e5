"""A straightforward NumPy rendering of the RangeNet++ reference projection and kNN post-processing.

Not used by training or inference. It exists as the baseline of ``tools/bench_range.py`` and as an
independent oracle in the tests: it follows the reference code's approach step by step
(PRBonn/lidar-bonnetal `train/common/laserscan.py` `do_range_projection`: sort by decreasing range, write
all points, the last write wins; `train/tasks/semantic/postproc/KNN.py`: unfold the WHOLE range image into
(S*S, H*W), index the columns of every point, replace the centre by the point's range, inverse-Gaussian
weighting, top-k, cutoff, vote), with NumPy equivalents of the torch calls (``np.argpartition`` for
``topk``, ``np.bincount`` for ``scatter_add_``). Two deliberate departures, shared with pcseg.range:
empty pixels are -1 in the index (point 0 stays valid), and the unfold padding counts as empty (infinite
distance) instead of range 0.
"""

from __future__ import annotations

import numpy as np


def np_project(points: np.ndarray, height: int = 64, width: int = 2048, fov_up: float = 3.0,
               fov_down: float = -25.0) -> dict[str, np.ndarray]:
    """Shapes: points (N, 3) -> px, py (N,) int32, depth (N,) float32, range (H, W) float32 (-1 empty),
    index (H, W) int32 (-1 empty)"""
    fov_up_rad = fov_up / 180.0 * np.pi
    fov_down_rad = fov_down / 180.0 * np.pi
    fov = abs(fov_down_rad) + abs(fov_up_rad)
    depth = np.linalg.norm(points, 2, axis=1)
    yaw = -np.arctan2(points[:, 1], points[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        pitch = np.arcsin(points[:, 2] / depth)
    proj_x = 0.5 * (yaw / np.pi + 1.0) * width
    proj_y = (1.0 - (pitch + abs(fov_down_rad)) / fov) * height
    proj_x = np.maximum(0, np.minimum(width - 1, np.floor(proj_x))).astype(np.int32)
    proj_y = np.maximum(0, np.minimum(height - 1, np.floor(proj_y))).astype(np.int32)
    order = np.argsort(depth)[::-1]
    proj_range = np.full((height, width), -1, dtype=np.float32)
    proj_index = np.full((height, width), -1, dtype=np.int32)
    proj_range[proj_y[order], proj_x[order]] = depth[order]
    proj_index[proj_y[order], proj_x[order]] = np.arange(len(depth), dtype=np.int32)[order]
    return {"px": proj_x, "py": proj_y, "depth": depth.astype(np.float32), "range": proj_range,
            "index": proj_index}


def np_unfold(image: np.ndarray, window: int, fill: float) -> np.ndarray:
    """``F.unfold`` of one (H, W) image with ``window // 2`` padding of value ``fill``.

    Shapes: (H, W) -> (window * window, H * W)
    """
    pad = window // 2
    h, w = image.shape
    padded = np.pad(image, pad, constant_values=fill)
    return np.stack([padded[i:i + h, j:j + w].reshape(-1) for i in range(window) for j in range(window)])


def np_knn_votes(proj_range: np.ndarray, unproj_range: np.ndarray, proj_argmax: np.ndarray, px: np.ndarray,
                 py: np.ndarray, num_classes: int, k: int = 5, window: int = 5, sigma: float = 1.0,
                 cutoff: float = 1.0) -> np.ndarray:
    """Shapes: proj_range (H, W), unproj_range (N,), proj_argmax (H, W), px/py (N,) -> votes (N, K) int64"""
    h, w = proj_range.shape
    idx_list = py.astype(np.int64) * w + px
    rang = np_unfold(proj_range, window, -1.0)[:, idx_list]
    rang[rang < 0] = np.inf
    center = (window * window - 1) // 2
    rang[center, :] = unproj_range
    dist = np.abs(rang - unproj_range[None, :])
    ax = np.arange(window) - (window - 1) / 2.0
    g = np.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / (2.0 * sigma ** 2))
    g = g / g.sum()
    dist = dist * (1.0 - g).reshape(-1, 1).astype(np.float32)
    knn_idx = np.argpartition(dist, k - 1, axis=0)[:k]
    argmax = np_unfold(proj_argmax, window, 0)[:, idx_list]
    knn_argmax = np.take_along_axis(argmax, knn_idx, axis=0)
    if cutoff > 0:
        knn_argmax[np.take_along_axis(dist, knn_idx, axis=0) > cutoff] = num_classes
    n = len(unproj_range)
    flat = (np.arange(n)[None, :] * (num_classes + 1) + knn_argmax).reshape(-1)
    votes = np.bincount(flat, minlength=n * (num_classes + 1)).reshape(n, num_classes + 1)
    return votes[:, :num_classes]


__all__ = ["np_project", "np_unfold", "np_knn_votes"]
