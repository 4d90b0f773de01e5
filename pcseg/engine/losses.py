"""Training losses, kept outside the models: cross-entropy (optionally class-weighted) and CE + Lovasz.

Both work on any layout torch's cross-entropy accepts: logits (B, K, N) for point models and (B, K, H, W)
for range-image models, labels (B, N) / (B, H, W) with -1 = ignore. ``unweighting`` / ``unweight`` undo a
class-weighted loss's bias in a model's probabilities at labelling time (``train.unweight_labels``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F

from pcseg.classes import IGNORE
from pcseg.errors import PcsegError

if TYPE_CHECKING:
    from pcseg.config import Config


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


def unweighting(cfg: Config, num_classes: int) -> torch.Tensor | None:
    """The per-class factors ``train.unweight_labels`` applies to a model's probabilities: w_k ** -a for the
    loss weights w (``train.class_weight_values``) and a = ``train.unweight_power``, 0 for a class training
    never saw (weight 0). A loss weighted by w_k makes a model's probabilities p(k|x) w_k / Z rather than
    p(k|x), so dividing by w_k (a = 1) and renormalising (``unweight``) gives back the posterior of the
    training data; a < 1 divides out part of the weighting and leaves rare classes some of its lift. None:
    labelling uses the probabilities as they are.

    Shapes: -> (K,) float32 or None
    """
    if not cfg.train.unweight_labels:
        return None
    values = cfg.train.class_weight_values
    if values is None:
        raise PcsegError("train.unweight_labels", "needs the class weights the model was trained with "
                                                  "(train.class_weights: inverse_sqrt, whose values training "
                                                  "stores in train.class_weight_values)")
    if len(values) != num_classes:
        raise PcsegError("train.class_weight_values", f"has {len(values)} values for {num_classes} classes")
    power = float(cfg.train.unweight_power)
    if not 0.0 <= power <= 1.0:
        raise PcsegError("train.unweight_power", f"must be between 0 and 1, got {cfg.train.unweight_power!r}")
    w = torch.tensor([float(v) for v in values], dtype=torch.float32)
    return torch.where(w > 0, w.clamp(min=1e-12) ** -power, torch.zeros_like(w))


def unweight(probs: torch.Tensor, factors: torch.Tensor, dim: int) -> torch.Tensor:
    """``probs`` times ``factors`` along the class dimension ``dim``, renormalised to sum 1 there.

    Shapes: probs (..., K, ...) with K at ``dim``, factors (K,) -> same as probs
    """
    shape = [1] * probs.dim()
    shape[dim] = -1
    p = probs * factors.to(probs.device, probs.dtype).view(shape)
    return p / p.sum(dim=dim, keepdim=True).clamp(min=1e-12)


def _lovasz_fn() -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    try:
        from pcseg.engine.losses_range import lovasz_softmax  # the range-image helper's implementation
    except ImportError:
        raise PcsegError("train.loss", "ce+lovasz needs pcseg.engine.losses_range.lovasz_softmax, "
                                       "which is not available") from None
    return lovasz_softmax


def _labelled_sample(logits: torch.Tensor, labels: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``n`` labelled points / pixels drawn without replacement (torch's global generator), every one
    when there are no more, as a batch of points with the class dimension 1.
    Shapes: logits (B, K, ...), labels (B, ...) -> (M, K), (M,)"""
    k = logits.shape[1]
    flat = logits.movedim(1, -1).reshape(-1, k)
    lab = labels.reshape(-1)
    idx = torch.nonzero(lab != IGNORE).squeeze(1)
    if idx.numel() > n:
        idx = idx[torch.randperm(idx.numel(), device=idx.device)[:n]]
    return flat[idx], lab[idx]


def build_loss(name: str, weight: torch.Tensor | None = None,
               lovasz_points: int = 0) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``loss(logits, labels) -> scalar``: ``ce`` (mean over labelled points) or ``ce+lovasz`` (sum of both).

    ``lovasz_points`` > 0 computes the Lovasz term on that many labelled points / pixels drawn at random each
    call (``train.lovasz_points``): its sort is O(P log P) per class, 1.3 s for a batch of four 64 x 2048
    range images on 2 CPU cores, 0.08 s for 65,536 pixels. The cross-entropy always sees every point.
    Shapes: logits (B, K, ...) float, labels (B, ...) int64 with -1 ignored.
    """
    if lovasz_points < 0:
        raise PcsegError("train.lovasz_points", f"must be 0 (every point) or a positive count, "
                                                f"got {lovasz_points}")
    if lovasz_points and name != "ce+lovasz":
        raise PcsegError("train.lovasz_points", f"samples the Lovasz term of ce+lovasz; train.loss is {name!r}")
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
            if lovasz_points:
                logits, labels = _labelled_sample(logits, labels, lovasz_points)
            return ce_term + lovasz(F.softmax(logits.float(), dim=1), labels)
        return ce_lovasz
    raise PcsegError("train.loss", f"must be ce or ce+lovasz, got {name!r}")


__all__ = ["class_weights", "build_loss"]
