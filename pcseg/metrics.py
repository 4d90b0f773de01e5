"""The one per-point metric: a confusion matrix and the scores derived from it.

Every branch (block models, range-image models) ends with one predicted label per original point and feeds
it here, so all numbers in pcseg are comparable. Rows are the ground truth, columns the prediction.

Conventions (the usual S3DIS / SemanticKITTI ones, e.g. charlesq34/pointnet `sem_seg/eval_iou_accuracy.py`):
  IoU_k  = TP_k / (TP_k + FP_k + FN_k)        F1_k = 2 TP_k / (2 TP_k + FP_k + FN_k)
  acc_k  = TP_k / (TP_k + FN_k)               (per-class recall; mAcc is its mean)
  OA     = sum_k TP_k / N
  fwIoU  = sum_k (N_k / N) IoU_k              (frequency-weighted IoU, Long et al., FCN, CVPR 2015, sec. 5)
A class that occurs neither in the target nor in the prediction has IoU = F1 = NaN and is left out of the
means (mIoU, mAcc); its per-class accuracy is NaN whenever it is absent from the target. A class present in
the prediction only has IoU = F1 = 0 (it counts against the mean). With no points at all every score is NaN.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Sequence

import numpy as np


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else math.nan


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _to_json_value(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class ConfusionMatrix:
    """Accumulates (target, prediction) label pairs into a K x K int64 matrix.

    ``update`` takes numpy arrays or torch tensors of any equal shape holding integer labels; positions whose
    target equals ``ignore_index`` are dropped. Torch tensors are counted with ``torch.bincount`` on their own
    device (a CUDA tensor is never copied to the host; only the K x K counts are, when a score is asked for).

    Shapes:
        update(pred (...), target (...)) integer labels, pred in [0, K), target in [0, K) or ignore_index;
        matrix (K, K) int64, rows = target, columns = prediction.
    """

    def __init__(self, num_classes: int, ignore_index: int = -1,
                 class_names: Sequence[str] | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for {num_classes} classes")
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.class_names = (tuple(str(n) for n in class_names) if class_names is not None
                            else tuple(f"class_{k}" for k in range(num_classes)))
        self._host = np.zeros((num_classes, num_classes), dtype=np.int64)
        self._device: dict[Any, Any] = {}   # torch.device -> (K*K,) int64 tensor accumulated there

    # ------------------------------------------------------------------ accumulation
    def reset(self) -> None:
        self._host[:] = 0
        self._device.clear()

    def update(self, pred: Any, target: Any) -> "ConfusionMatrix":
        """Count one batch. Raises ValueError on a shape mismatch, non-integer labels, a prediction outside
        [0, K) or a target outside [0, K) that is not ``ignore_index``."""
        if _is_tensor(pred) or _is_tensor(target):
            self._update_torch(pred, target)
        else:
            self._update_numpy(np.asarray(pred), np.asarray(target))
        return self

    def _check(self, pred_shape: tuple, target_shape: tuple, pred_int: bool, target_int: bool) -> None:
        if tuple(pred_shape) != tuple(target_shape):
            raise ValueError(f"prediction shape {tuple(pred_shape)} != target shape {tuple(target_shape)}")
        if not (pred_int and target_int):
            raise ValueError("ConfusionMatrix.update takes integer labels (argmax the logits first)")

    def _update_numpy(self, pred: np.ndarray, target: np.ndarray) -> None:
        self._check(pred.shape, target.shape, pred.dtype.kind in "iub", target.dtype.kind in "iub")
        pred = pred.reshape(-1).astype(np.int64, copy=False)
        target = target.reshape(-1).astype(np.int64, copy=False)
        keep = target != self.ignore_index
        if not keep.all():
            pred, target = pred[keep], target[keep]
        k = self.num_classes
        if len(pred) and (pred.min() < 0 or pred.max() >= k):
            raise ValueError(f"prediction outside [0, {k}): {int(pred.min())}..{int(pred.max())}")
        if len(target) and (target.min() < 0 or target.max() >= k):
            raise ValueError(f"target outside [0, {k}) and not ignore_index={self.ignore_index}: "
                             f"{int(target.min())}..{int(target.max())}")
        self._host += np.bincount(target * k + pred, minlength=k * k).reshape(k, k)

    def _update_torch(self, pred: Any, target: Any) -> None:
        import torch

        pred = torch.as_tensor(pred)
        target = torch.as_tensor(target, device=pred.device)
        int_kinds = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)
        self._check(pred.shape, target.shape, pred.dtype in int_kinds, target.dtype in int_kinds)
        pred = pred.reshape(-1).long()
        target = target.reshape(-1).long()
        keep = target != self.ignore_index
        pred, target = pred[keep], target[keep]
        k = self.num_classes
        # one scalar sync for validation; the labels themselves stay on their device
        bad_pred = ((pred < 0) | (pred >= k)).any()
        bad_target = ((target < 0) | (target >= k)).any()
        if bool(bad_pred):
            raise ValueError(f"prediction outside [0, {k}): {int(pred.min())}..{int(pred.max())}")
        if bool(bad_target):
            raise ValueError(f"target outside [0, {k}) and not ignore_index={self.ignore_index}")
        counts = torch.bincount(target * k + pred, minlength=k * k)
        acc = self._device.get(pred.device)
        self._device[pred.device] = counts if acc is None else acc + counts

    @property
    def matrix(self) -> np.ndarray:
        """(K, K) int64 counts, rows = target, columns = prediction (folds in device-side counts)."""
        for device, counts in list(self._device.items()):
            self._host += counts.detach().cpu().numpy().reshape(self.num_classes, self.num_classes)
            del self._device[device]
        return self._host

    def merge(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        """Add another matrix's counts into this one (6-fold pooling is a sum). Returns self."""
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge {other.num_classes}-class counts into {self.num_classes} classes")
        self.matrix  # fold device counts first
        self._host += other.matrix
        return self

    def __add__(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        out = ConfusionMatrix(self.num_classes, self.ignore_index, self.class_names)
        return out.merge(self).merge(other)

    def __iadd__(self, other: "ConfusionMatrix") -> "ConfusionMatrix":
        return self.merge(other)

    def all_reduce(self) -> "ConfusionMatrix":
        """Sum the counts over all processes when torch.distributed is initialised; no-op otherwise."""
        try:
            import torch
            import torch.distributed as dist
        except ImportError:  # pragma: no cover - torch is a dependency
            return self
        if not (dist.is_available() and dist.is_initialized()):
            return self
        from pcseg.engine.distributed import collective_device

        t = torch.from_numpy(self.matrix.copy()).to(collective_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        self._host[:] = t.cpu().numpy()
        return self

    # ------------------------------------------------------------------ scores
    @property
    def num_points(self) -> int:
        return int(self.matrix.sum())

    def _tp_fp_fn(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = self.matrix.astype(np.float64)
        tp = np.diag(m)
        return tp, m.sum(axis=0) - tp, m.sum(axis=1) - tp

    def iou(self) -> np.ndarray:
        """(K,) float64 IoU per class; NaN for a class absent from both target and prediction."""
        tp, fp, fn = self._tp_fp_fn()
        return _divide(tp, tp + fp + fn)

    def f1(self) -> np.ndarray:
        """(K,) float64 F1 per class; NaN for a class absent from both target and prediction."""
        tp, fp, fn = self._tp_fp_fn()
        return _divide(2 * tp, 2 * tp + fp + fn)

    def acc(self) -> np.ndarray:
        """(K,) float64 per-class accuracy (recall); NaN for a class absent from the target."""
        tp, _, fn = self._tp_fp_fn()
        return _divide(tp, tp + fn)

    @property
    def miou(self) -> float:
        return _nanmean(self.iou())

    @property
    def miou_present(self) -> float:
        """Mean IoU over the classes present in the target only: a class that is only predicted (a false
        positive class) lowers the IoU of the true classes it takes points from but is not averaged in
        itself. This is the score for a single real sample that holds a few of the classes."""
        present = self.matrix.sum(axis=1) > 0
        return _nanmean(self.iou()[present]) if present.any() else math.nan

    @property
    def macc(self) -> float:
        return _nanmean(self.acc())

    @property
    def oa(self) -> float:
        m = self.matrix
        total = m.sum()
        return float(np.trace(m) / total) if total else math.nan

    @property
    def fwiou(self) -> float:
        m = self.matrix
        total = m.sum()
        if not total:
            return math.nan
        freq = m.sum(axis=1) / total
        present = freq > 0          # a class in the target always has a defined IoU
        return float((freq[present] * self.iou()[present]).sum())

    # ------------------------------------------------------------------ reporting
    def table(self, digits: int = 1) -> str:
        """A plain-text table: class, IoU %, acc %, target points; then mIoU / OA / mAcc / fwIoU lines."""
        def pct(v: float) -> str:
            return "-" if math.isnan(v) else f"{100 * v:.{digits}f}"

        width = max(len("class"), max(len(n) for n in self.class_names))
        rows = [f"{'class':<{width}}  {'IoU':>7}  {'acc':>7}  {'points':>12}"]
        iou, acc, points = self.iou(), self.acc(), self.matrix.sum(axis=1)
        for name, i, a, p in zip(self.class_names, iou, acc, points):
            rows.append(f"{name:<{width}}  {pct(i):>7}  {pct(a):>7}  {int(p):>12,d}")
        for label, value in (("mIoU", self.miou), ("OA", self.oa), ("mAcc", self.macc),
                             ("fwIoU", self.fwiou)):
            rows.append(f"{label:<{width}}  {pct(value):>7}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready scores in [0, 1]; NaN becomes None (null)."""
        def per_class(values: np.ndarray) -> dict[str, float | None]:
            return {n: _to_json_value(v) for n, v in zip(self.class_names, values)}

        return {
            "miou": _to_json_value(self.miou), "miou_present": _to_json_value(self.miou_present),
            "oa": _to_json_value(self.oa),
            "macc": _to_json_value(self.macc), "fwiou": _to_json_value(self.fwiou),
            "iou": per_class(self.iou()), "f1": per_class(self.f1()), "acc": per_class(self.acc()),
            "confusion": self.matrix.tolist(), "num_points": self.num_points,
            "class_names": list(self.class_names), "ignore_index": self.ignore_index,
        }

    def save_json(self, path: str | os.PathLike) -> None:
        """Write ``to_dict()`` as JSON, atomically."""
        from pcseg.utils import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ConfusionMatrix":
        """Rebuild from ``to_dict()`` output (only ``confusion`` and the class names are read)."""
        confusion = np.asarray(data["confusion"], dtype=np.int64)
        if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
            raise ValueError(f"confusion must be a square matrix, got shape {confusion.shape}")
        names = data.get("class_names") or list(data.get("iou", {})) or None
        cm = cls(len(confusion), int(data.get("ignore_index", -1)), names)
        cm._host[:] = confusion
        return cm

    def __repr__(self) -> str:
        return (f"ConfusionMatrix(num_classes={self.num_classes}, points={self.num_points}, "
                f"miou={self.miou:.4f})")


def _is_tensor(x: Any) -> bool:
    # avoid importing torch for numpy-only callers
    return type(x).__module__.startswith("torch") and hasattr(x, "device")


__all__ = ["ConfusionMatrix"]
