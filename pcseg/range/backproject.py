"""Back-projection of range-image predictions to every point, with RangeNet++'s kNN post-processing.

Reference: Milioto et al., "RangeNet++" (IROS 2019), Sec. III-D, and PRBonn/lidar-bonnetal
`train/tasks/semantic/postproc/KNN.py`. For every point (also the points that lost their pixel to a closer
one) the S x S window of pixels around its pixel is read; the window's centre takes the point's own range;
the distance of each window pixel is |pixel range - point range| weighted by (1 - Gaussian(sigma)) over the
window offsets; the k nearest pixels vote with their predicted class, votes farther than the cutoff are void,
and the class with most votes wins. Defaults k=5, S=5, sigma=1, cutoff=1 m are the reference's
(`config/arch/*.yaml`, post.KNN.params).

Differences from the reference, on purpose:
- Window pixels outside the image count as empty (infinite distance); the reference's zero padding gives
  them range 0 (distance = the point's own range).
- The reference forbids the vote for its learning class 0 (unlabeled); pcseg classes have no unlabeled class
  (IGNORE is never predicted), so every class can win.
- Empty pixels never vote; the reference lets them (with whatever the network said there) when the cutoff
  is disabled (cutoff <= 0).
- The votes are returned per class, (N, K), so callers can combine them (several viewpoints) or break ties;
  the reference returns the argmax (ties to the lower class, as ``argmax`` of these votes does too).
- Instead of unfolding the whole image (H*W*S*S values) and then indexing the points' columns, the window
  values are read straight from a padded image at each point's pixel: on CPU by a compiled numba kernel
  (pcseg.range._knn_kernel: a small sorted k-buffer per point, no (N, S*S) arrays), elsewhere (CUDA, or
  without numba) by PyTorch gathers of (chunk, S*S) values, chunked so memory stays bounded for
  million-point rooms. Both paths compute the same float32 distances; they can differ only in which of
  several exactly equal distances top-k keeps.
"""

from __future__ import annotations

import torch

from pcseg.ops._backend import resolve


def inverse_gaussian_window(window: int, sigma: float, device: torch.device | str | None = None) -> torch.Tensor:
    """1 - the normalised 2D Gaussian over a window x window grid, flattened row-major (as ``F.unfold``
    orders the window). Same kernel as lidar-bonnetal KNN.py `get_gaussian_kernel`.

    Shapes: -> (window * window,) float32
    """
    ax = torch.arange(window, dtype=torch.float32, device=device) - (window - 1) / 2.0
    d2 = ax[:, None] ** 2 + ax[None, :] ** 2
    g = torch.exp(-d2 / (2.0 * sigma ** 2))
    g = g / g.sum()
    return (1.0 - g).reshape(-1)


def _padded(range_image: torch.Tensor, pred: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Range (empty and outside = +inf) and label (outside = 0) images padded by ``pad``, flattened."""
    h, w = range_image.shape
    device = range_image.device
    rng = torch.full((h + 2 * pad, w + 2 * pad), float("inf"), dtype=torch.float32, device=device)
    inner = range_image.to(torch.float32)
    rng[pad:pad + h, pad:pad + w] = torch.where(inner < 0, torch.full_like(inner, float("inf")), inner)
    lab = torch.zeros((h + 2 * pad, w + 2 * pad), dtype=torch.int64, device=device)
    lab[pad:pad + h, pad:pad + w] = pred.to(torch.int64)
    return rng.reshape(-1), lab.reshape(-1)


def knn_votes(range_image: torch.Tensor, pred: torch.Tensor, px: torch.Tensor, py: torch.Tensor,
              point_range: torch.Tensor, num_classes: int, k: int = 5, window: int = 5, sigma: float = 1.0,
              cutoff: float = 1.0, chunk: int = 262_144, backend: str = "auto") -> torch.Tensor:
    """Class votes of the k range-nearest window pixels for every point (see the module docstring).

    Args:
        range_image: pixel ranges, negative for empty pixels.
        pred: predicted class per pixel (argmax of the network output).
        px, py: each point's pixel column and row.
        point_range: each point's range.
        cutoff: votes from pixels whose weighted range distance exceeds it are void; <= 0 disables.
        chunk: points per step of the PyTorch path (bounds its (chunk, S*S) intermediates).
        backend: "auto" (the compiled numba kernel for CPU tensors when numba imports, else PyTorch),
            "numba" or "torch".

    Shapes: range_image (H, W) float, pred (H, W) int, px/py/point_range (N,) -> votes (N, K) float32
    """
    if window % 2 == 0 or window < 1:
        raise ValueError(f"kNN window must be a positive odd number, got {window}")
    s2 = window * window
    if not 1 <= k <= s2:
        raise ValueError(f"knn_k must be in [1, {s2}] for a {window}x{window} window, got {k}")
    use_kernel = resolve(backend, range_image, kernels="pcseg.range._knn_kernel") == "numba"
    h, w = range_image.shape
    pad = window // 2
    wp = w + 2 * pad
    rng, lab = _padded(range_image, pred, pad)
    weight = inverse_gaussian_window(window, sigma, range_image.device)
    n = len(px)
    if use_kernel:
        return _knn_votes_numba(rng, lab, wp, window, weight, px, py, point_range, num_classes, k, cutoff)

    dy, dx = torch.meshgrid(torch.arange(-pad, pad + 1, device=rng.device),
                            torch.arange(-pad, pad + 1, device=rng.device), indexing="ij")
    offsets = (dy * wp + dx).reshape(1, -1)
    weight = weight.reshape(1, -1)
    center = s2 // 2
    votes = torch.zeros((n, num_classes + 1), dtype=torch.float32, device=rng.device)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        r = point_range[sl].to(torch.float32)
        base = (py[sl] + pad) * wp + (px[sl] + pad)
        nbr = base[:, None] + offsets                      # (n, S*S) flat pixel index of every window pixel
        dist = rng[nbr]
        dist[:, center] = r
        dist.sub_(r[:, None]).abs_().mul_(weight)
        near, pick = dist.topk(k, dim=1, largest=False, sorted=False)
        cls = lab[nbr.gather(1, pick)]
        void = ~torch.isfinite(near) if cutoff <= 0 else near > cutoff
        cls.masked_fill_(void, num_classes)                # void votes go to the extra last bin
        votes[sl].scatter_add_(1, cls, torch.ones_like(near))
    return votes[:, :num_classes]


def _knn_votes_numba(rng: torch.Tensor, lab: torch.Tensor, wp: int, window: int, weight: torch.Tensor,
                     px: torch.Tensor, py: torch.Tensor, point_range: torch.Tensor, num_classes: int, k: int,
                     cutoff: float) -> torch.Tensor:
    """The compiled kernel over the points, one chunk per torch intra-op thread (it releases the GIL)."""
    import numpy as np

    from pcseg.ops._threads import parallel_map, split_range
    from pcseg.range._knn_kernel import knn_vote_kernel

    n = len(px)
    votes = np.zeros((n, num_classes), dtype=np.float32)
    args = (rng.numpy(), lab.numpy(), int(wp), int(window), weight.numpy(), px.to(torch.int64).numpy(),
            py.to(torch.int64).numpy(), point_range.to(torch.float32).numpy(), int(k), float(cutoff), votes)
    threads = max(1, torch.get_num_threads()) if n >= 50_000 else 1
    parallel_map(lambda se: knn_vote_kernel(*args, se[0], se[1]), split_range(n, threads))
    return torch.from_numpy(votes)


def pixel_scores(scores: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Each point takes its pixel's scores (no post-processing).

    Shapes: scores (K, H, W), px/py (N,) -> (N, K)
    """
    return scores[:, py, px].t()


__all__ = ["inverse_gaussian_window", "knn_votes", "pixel_scores"]
