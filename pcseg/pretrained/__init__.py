"""Bundled models: small weights shipped inside the package, used by ``pcseg segment --model NAME`` and
listed by ``pcseg models``.

Each bundled model is a pcseg checkpoint (``<name>.pt`` beside this file, loaded like any checkpoint with
``torch.load(weights_only=True)``, see pcseg.engine.checkpoint) and one entry of ``manifest.json``:

    {"<name>": {
        "file":        "<name>.pt",
        "classes":     "s3dis" | "semantickitti",
        "inputs":      what the model reads and what stands in for a missing channel (one line),
        "for":         what clouds it is meant for (one line),
        "trained_on":  the synthetic data it was trained on (one line),
        "command":     the one command that retrains it from synthetic data alone,
        "seed":        int,
        "train_minutes": float, wall time of that command on the 2-core CPU machine it ran on (machines of that
                       kind differ: README, "Bundled models"),
        "scores": {"synthetic_val": {"miou": float, "oa": float},
                   "real": {"<sample>": {"miou": float, "oa": float, "points": int}}}
    }}

mIoU here is over the classes present in the sample's ground truth (pcseg.metrics.ConfusionMatrix
``miou_present``); ``scores`` is written by ``tools/bench_real.py --write``, never by hand.

Adding a model: train it with its documented command, then ``pack_checkpoint(run/best.pt, name)`` keeps
only what inference needs (model, arguments, classes, config, training history) and writes ``<name>.pt``;
add the manifest entry; run ``python tools/bench_real.py --models NAME --write``.

Nothing here imports torch until a checkpoint is packed, so ``pcseg models`` starts quickly.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pcseg.errors import PcsegError

PRETRAINED_DIR = Path(__file__).resolve().parent
MANIFEST = "manifest.json"

# what a packed checkpoint keeps of a training checkpoint (optimiser, scheduler and RNG states are dropped)
_KEEP = ("format", "model", "model_args", "class_set", "class_names", "config", "epoch", "step", "state_dict",
         "best_miou", "best_epoch", "history")


def _directory(directory: str | os.PathLike | None) -> Path:
    return Path(directory) if directory is not None else PRETRAINED_DIR


def load_manifest(directory: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """The manifest as a dict (name -> entry); an empty dict when there is none."""
    path = _directory(directory) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PcsegError(path, f"unreadable bundled-model manifest ({exc})") from None
    if not isinstance(data, dict):
        raise PcsegError(path, "bundled-model manifest must be a JSON object of name -> entry")
    return data


def bundled_names(directory: str | os.PathLike | None = None) -> list[str]:
    """Names of the bundled models, sorted."""
    return sorted(load_manifest(directory))


def bundled_checkpoint(name: str, directory: str | os.PathLike | None = None) -> Path:
    """The checkpoint file of bundled model ``name``.

    An unknown name, or a listed model whose weights are not in the package, raises PcsegError (the first
    lists the valid names, the second gives the command that builds the weights).
    """
    manifest = load_manifest(directory)
    if name not in manifest:
        valid = ", ".join(sorted(manifest)) or "none are installed"
        raise PcsegError("--model", f"unknown bundled model {name!r}; valid: {valid}")
    entry = manifest[name]
    path = _directory(directory) / str(entry.get("file", f"{name}.pt"))
    if not path.is_file():
        how = entry.get("command")
        raise PcsegError(path, f"weights of bundled model {name!r} are missing" + (f"; build them with: {how}"
                                                                                  if how else ""))
    return path


def describe(directory: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """One record per bundled model for ``pcseg models``: the manifest entry plus ``name``, ``size_mb``
    (None when the weights are missing)."""
    out = []
    base = _directory(directory)
    for name, entry in sorted(load_manifest(directory).items()):
        path = base / str(entry.get("file", f"{name}.pt"))
        size = path.stat().st_size / 1e6 if path.is_file() else None
        out.append({"name": name, "size_mb": size, **entry})
    return out


def pack_checkpoint(src: str | os.PathLike, name: str, directory: str | os.PathLike | None = None) -> Path:
    """Write ``<directory>/<name>.pt``: the training checkpoint ``src`` less its optimiser, scheduler and
    RNG states (what eval, segment and export do not need). Returns the written path."""
    from pcseg.engine.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(src)
    packed = {k: ckpt[k] for k in _KEEP if k in ckpt and k != "format"}
    dst = _directory(directory) / f"{name}.pt"
    save_checkpoint(dst, packed)
    return dst


def packed_validation(checkpoint: str | os.PathLike) -> dict[str, float] | None:
    """{"miou", "oa"} on the synthetic validation data of the epoch whose weights ``checkpoint`` holds (a
    bundled model packs the last epoch, which need not be the best one); None when that epoch was not
    validated."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for rec in ckpt.get("history", []):
        if rec.get("epoch") == ckpt.get("epoch") and rec.get("val_miou") is not None:
            return {"miou": float(rec["val_miou"]), "oa": float(rec["val_oa"])}
    return None


def format_table(records: list[dict[str, Any]]) -> str:
    """The ``pcseg models`` listing: one block per model."""
    if not records:
        return "no bundled models are installed"
    lines = []
    for r in records:
        size = "weights missing" if r["size_mb"] is None else f"{r['size_mb']:.1f} MB"
        lines.append(f"{r['name']}  ({r.get('classes', '?')} classes, {size})")
        for key, label in (("for", "for"), ("inputs", "inputs"), ("trained_on", "trained on"),
                           ("command", "rebuild"), ("seed", "seed"), ("train_minutes", "train minutes")):
            if r.get(key) is not None:
                lines.append(f"  {label:<14}{r[key]}")
        scores = r.get("scores") or {}
        syn = scores.get("synthetic_val")
        if syn:
            lines.append(f"  {'synthetic val':<14}mIoU {100 * syn['miou']:.1f}  OA {100 * syn['oa']:.1f}")
        for sample, s in sorted((scores.get("real") or {}).items()):
            lines.append(f"  {'real':<14}{sample}: mIoU {100 * s['miou']:.1f} (classes present)  "
                         f"OA {100 * s['oa']:.1f}")
        if not (scores.get("real")):
            lines.append(f"  {'real':<14}not scored yet (python tools/bench_real.py --write)")
    return "\n".join(lines)


def cli(args: Any) -> int:
    """``pcseg models``."""
    records = describe()
    if getattr(args, "json", False):
        print(json.dumps(records, indent=2))
    else:
        print(format_table(records))
    return 0


__all__ = ["PRETRAINED_DIR", "load_manifest", "bundled_names", "bundled_checkpoint", "describe", "pack_checkpoint",
           "packed_validation", "format_table", "cli"]
