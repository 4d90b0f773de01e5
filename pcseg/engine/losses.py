"""Training losses, kept outside the models: cross-entropy (optionally class-weighted) and CE + Lovasz.

Both work on any layout torch's cross-entropy accepts: logits (B, K, N) for point models and (B, K, H, W)
for range-image models, labels (B, N) / (B, H, W) with -1 = ignore.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from pcseg.classes import IGNORE
from pcseg.errors import PcsegError


def class_weights(counts: np.ndarray, mode: str) -> np.ndarray | None:
    """Per-class loss weights from training label counts.

    ``none`` -> None. ``inverse_sqrt``: w_k = 1 / sqrt(f_k) with f_k the class frequency, normalised to mean 1
    over the classes that occur (the weighting of the range-image networks, e.g. SalsaNext's
    1/sqrt(frequency)); classes that never occur in training get weight 0.

    Shapes: counts (K,) -> (K,) float32 or None.
    """
    if mode == "none":
        return None
    if mode != "inverse_sqrt":
        raise PcsegError("train.class_weights", f"must be none or inverse_sqrt, got {mode!r}")
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        return None
    freq = counts / counts.sum()
    w = np.zeros_like(freq)
    w[present] = 1.0 / np.sqrt(freq[present])
    w[present] /= w[present].mean()
    return w.astype(np.float32)


def _lovasz_fn() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    try:
        from pcseg.engine.losses_range import lovasz_softmax  # the range-image helper's implementation
    except ImportError:
        raise PcsegError("train.loss", "ce+lovasz needs pcseg.engine.losses_range.lovasz_softmax, "
                                       "which is not available") from None
    return lovasz_softmax


def build_loss(name: str, weight: torch.Tensor | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss(logits, labels) -> scalar``: ``ce`` (mean over labelled points) or ``ce+lovasz`` (sum of both).

    Shapes: logits (B, K, ...) float, labels (B, ...) int64 with -1 ignored.
    """
    if name == "ce":
        def ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            w = None if weight is None else weight.to(logits.device, logits.dtype)
            return F.cross_entropy(logits, labels, weight=w, ignore_index=IGNORE)
        return ce
    if name == "ce+lovasz":
        lovasz = _lovasz_fn()

        def ce_lovasz(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            w = None if weight is None else weight.to(logits.device, logits.dtype)
            ce_term = F.cross_entropy(logits, labels, weight=w, ignore_index=IGNORE)
            return ce_term + lovasz(F.softmax(logits.float(), dim=1), labels)
        return ce_lovasz
    raise PcsegError("train.loss", f"must be ce or ce+lovasz, got {name!r}")


__all__ = ["class_weights", "build_loss"]
