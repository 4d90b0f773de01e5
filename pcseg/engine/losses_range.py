"""Lovasz-softmax loss (the IoU surrogate the range-image networks add to cross-entropy).

Berman, Rannen Triki, Blaschko, "The Lovasz-Softmax loss: A tractable surrogate for the optimization of the
intersection-over-union measure in neural networks" (CVPR 2018), Eq. 8-9 and Alg. 1; used with weighted
cross-entropy by SalsaNext (Cortinhal et al., 2020, Sec. III-C). pcseg.engine.losses.build_loss("ce+lovasz")
adds it to the cross-entropy.

Per class c: the errors m_i = |[y_i = c] - p_i(c)| of the labelled points are sorted in decreasing order and
dotted with the gradient of the Lovasz extension of the Jaccard loss at the sorted ground truth; the loss is
the mean over the classes present in the batch (``classes="present"``, the paper's choice for
segmentation) or over all classes. All classes are processed at once (one sort of a (P, K) matrix).
"""

from __future__ import annotations

import torch

from pcseg.classes import IGNORE


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension w.r.t. sorted errors (Berman et al., Alg. 1), column-wise.

    Shapes: gt_sorted (P, K) float {0, 1} -> (P, K)
    """
    gts = gt_sorted.sum(0, keepdim=True)
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1.0 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union.clamp_min(1e-12)
    if len(jaccard) > 1:
        jaccard = torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]], 0)
    return jaccard


def lovasz_softmax(probs: torch.Tensor, labels: torch.Tensor, classes: str = "present",
                   ignore: int = IGNORE) -> torch.Tensor:
    """Lovasz-softmax loss of class probabilities (softmax outputs, not logits).

    Args:
        probs: probabilities, class dimension 1.
        labels: class indices, ``ignore`` for points / pixels that do not count.
        classes: "present" (mean over classes in ``labels``) or "all".

    Shapes: probs (B, K, ...) float, labels (B, ...) int -> scalar
    """
    if classes not in ("present", "all"):
        raise ValueError(f"classes must be 'present' or 'all', got {classes!r}")
    k = probs.shape[1]
    flat = probs.movedim(1, -1).reshape(-1, k)
    lab = labels.reshape(-1)
    if flat.shape[0] != lab.shape[0]:
        raise ValueError(f"probs {tuple(probs.shape)} and labels {tuple(labels.shape)} do not match")
    keep = lab != ignore
    flat, lab = flat[keep], lab[keep]
    if lab.numel() == 0:
        return probs.sum() * 0.0
    fg = torch.nn.functional.one_hot(lab, k).to(flat.dtype)          # (P, K)
    errors = (fg - flat).abs()
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    fg_sorted = fg.gather(0, perm)
    per_class = (errors_sorted * lovasz_grad(fg_sorted)).sum(0)      # (K,)
    if classes == "present":
        present = fg.sum(0) > 0
        return per_class[present].mean()
    return per_class.mean()


__all__ = ["lovasz_softmax", "lovasz_grad"]
