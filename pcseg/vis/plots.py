"""Report plots: learning curves, confusion matrix, per-class IoU bars (matplotlib, Agg, written atomically)."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pcseg.errors import PcsegError
from pcseg.utils import atomic_path


def _figure(width_in: float, height_in: float) -> Any:
    """A matplotlib Figure on the Agg canvas (no pyplot state, no GUI)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend under a running pyplot session
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, out_png: str | os.PathLike) -> None:
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def read_metrics(metrics_jsonl: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (one JSON object per line; blank lines skipped)."""
    path = Path(metrics_jsonl)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise PcsegError(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PcsegError(path, f"cannot read ({exc})") from None
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PcsegError(path, f"line {lineno} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise PcsegError(path, f"line {lineno} is not a JSON object")
        records.append(record)
    return records


def _series(records: list[dict[str, Any]], key: str, x_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, str]:
    """(x, y, x label) of the records holding a finite number under ``key``; x is the first of ``x_keys``
    present in all of them, else the record position."""
    rows = [r for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    for x_key in x_keys:
        if rows and all(isinstance(r.get(x_key), (int, float)) for r in rows):
            return (np.array([r[x_key] for r in rows], dtype=float), np.array([r[key] for r in rows], dtype=float),
                    x_key)
    return np.arange(1, len(rows) + 1, dtype=float), np.array([r[key] for r in rows], dtype=float), "record"


def save_learning_curves(metrics_jsonl: Path, out_png: Path) -> None:
    """Two panels from a metrics.jsonl log: training loss (with the learning rate on a second axis) and the
    validation mIoU / OA, each against the step (loss) or epoch (validation) when the records carry them.

    Raises PcsegError when the file is missing, malformed or holds neither loss nor validation scores."""
    records = read_metrics(metrics_jsonl)
    loss_x, loss_y, loss_xl = _series(records, "loss", ("step", "epoch"))
    lr_x, lr_y, lr_xl = _series(records, "lr", ("step", "epoch"))
    val = {key: _series(records, key, ("epoch", "step")) for key in ("val_miou", "val_oa", "val_macc")}
    if not len(loss_y) and not any(len(v[1]) for v in val.values()):
        raise PcsegError(metrics_jsonl, "no 'loss' or 'val_*' values to plot")

    fig = _figure(11, 4.2)
    ax_loss, ax_val = fig.subplots(1, 2)
    if len(loss_y):
        ax_loss.plot(loss_x, loss_y, color="tab:blue", lw=1.2, marker="o" if len(loss_y) < 30 else None, ms=3,
                     label="train loss")
        ax_loss.set_xlabel(loss_xl)
        if len(lr_y) and lr_xl == loss_xl:
            ax_lr = ax_loss.twinx()
            ax_lr.plot(lr_x, lr_y, color="tab:gray", lw=1, ls="--", label="learning rate")
            ax_lr.set_ylabel("learning rate", color="tab:gray")
            ax_lr.tick_params(axis="y", colors="tab:gray")
            if lr_y.min() > 0 and lr_y.max() / lr_y.min() > 20:
                ax_lr.set_yscale("log")
    else:
        ax_loss.text(0.5, 0.5, "no loss values", ha="center", va="center", transform=ax_loss.transAxes)
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("training loss")
    ax_loss.grid(alpha=0.3)

    styles = {"val_miou": ("mIoU", "tab:red"), "val_oa": ("OA", "tab:green"), "val_macc": ("mAcc", "tab:orange")}
    plotted = False
    for key, (x, y, xl) in val.items():
        if len(y):
            name, color = styles[key]
            ax_val.plot(x, y, color=color, marker="o", ms=3, lw=1.2, label=f"{name} (best {y.max():.3f})")
            ax_val.set_xlabel(xl)
            plotted = True
    if plotted:
        ax_val.set_ylim(0, 1)
        ax_val.legend(loc="lower right", fontsize=9)
    else:
        ax_val.text(0.5, 0.5, "no validation scores yet", ha="center", va="center", transform=ax_val.transAxes)
    ax_val.set_title("validation")
    ax_val.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, out_png)


def save_confusion_matrix(confusion: np.ndarray, class_names: Sequence[str], out_png: Path,
                          title: str = "") -> None:
    """A row-normalised confusion matrix (rows = ground truth, columns = prediction), each cell annotated
    with its share in percent; rows without any point are left blank (grey) and say so.

    Shapes: confusion (K, K) counts, len(class_names) == K."""
    confusion = np.asarray(confusion, dtype=np.float64)
    k = len(class_names)
    if confusion.shape != (k, k):
        raise ValueError(f"confusion matrix of shape {confusion.shape} for {k} class names")
    if np.any(confusion < 0) or not np.all(np.isfinite(confusion)):
        raise ValueError("confusion matrix holds negative or non-finite counts")
    totals = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(totals > 0, confusion / np.where(totals > 0, totals, 1), np.nan)

    side = float(np.clip(0.45 * k + 2.5, 4.5, 14))
    fig = _figure(side + 1.2, side)
    ax = fig.subplots()
    import matplotlib

    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(norm), cmap=cmap, vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    font = float(np.clip(12 - 0.2 * k, 7, 10))
    for i in range(k):
        if totals[i, 0] == 0:
            ax.text(k / 2 - 0.5, i, "no points of this class", ha="center", va="center", fontsize=font,
                    color="#555555")
            continue
        for j in range(k):
            value = norm[i, j]
            if value >= 0.005:
                ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=font,
                        color="white" if value > 0.55 else "black")
    ax.set_xticks(range(k), labels=list(class_names), rotation=60, ha="right", fontsize=font + 1)
    ax.set_yticks(range(k), labels=list(class_names), fontsize=font + 1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("ground truth")
    ax.set_title(title or "confusion matrix (row-normalised, %)")
    fig.tight_layout()
    _save(fig, out_png)


def _class_colors(names: Sequence[str]) -> list[str] | None:
    """Palette colours of ``names`` when they all belong to one known class set (matplotlib hex strings)."""
    from pcseg.classes import CLASS_SETS

    for class_set in CLASS_SETS.values():
        if all(name in class_set.names for name in names):
            return ["#%02x%02x%02x" % class_set.colors[class_set.index(name)] for name in names]
    return None


def save_iou_bars(iou: dict[str, float | None], out_png: Path, title: str = "") -> None:
    """Horizontal per-class IoU bars in class order, coloured by the class palette when the names are those
    of a known class set, with the mean over the classes that have a value as a dashed line. Classes with
    None/NaN (absent from the data) get no bar and the word "absent".

    IoU values are fractions in [0, 1]."""
    names = list(iou)
    if not names:
        raise ValueError("no classes to plot")
    values = np.array([np.nan if v is None else float(v) for v in iou.values()], dtype=np.float64)
    present = np.isfinite(values)
    if np.any(values[present] < 0) or np.any(values[present] > 1):
        raise ValueError("IoU values must lie in [0, 1]")
    colors = _class_colors(names) or ["tab:blue"] * len(names)

    fig = _figure(8, float(np.clip(0.32 * len(names) + 1.4, 3, 9)))
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y[present], values[present], color=[c for c, p in zip(colors, present) if p], edgecolor="#444444",
            linewidth=0.6)
    for yi, value, ok in zip(y, values, present):
        ax.text(value + 0.01 if ok else 0.01, yi, f"{value:.3f}" if ok else "absent", va="center", fontsize=8,
                color="black" if ok else "#888888")
    if present.any():
        mean = float(values[present].mean())
        ax.axvline(mean, color="black", ls="--", lw=1)
        ax.text(mean, -0.9, f" mean {mean:.3f}", fontsize=8, va="bottom")
    ax.set_yticks(y, labels=names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.1)
    ax.set_ylim(len(names) - 0.5, -1.2)
    ax.set_xlabel("IoU")
    ax.set_title(title or "per-class IoU")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    _save(fig, out_png)


__all__ = ["read_metrics", "save_confusion_matrix", "save_iou_bars", "save_learning_curves"]
