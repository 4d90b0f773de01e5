"""Checkpoints: written atomically, loaded with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict that the restricted unpickler accepts (tensors, dicts, lists, str, numbers,
None):

    format        "pcseg-checkpoint-1"
    model         registered model name ("pointnet", ...)
    model_args    keyword arguments of create_model (as resolved: in_channels, num_classes, ...)
    class_set     "s3dis" | "semantickitti"
    class_names   list of class names (their count is K)
    config        the resolved run config as a plain dict (pcseg.config.config_to_dict)
    epoch         completed epochs (an interrupted epoch is described by ``partial``)
    step          optimiser steps taken
    state_dict    model weights
    optimizer, scheduler, scaler   their state dicts (training checkpoints only)
    rng           {"torch", "numpy", "python", "loader"}: RNG states stored as tensors
    best_miou, best_epoch, history (list of the metrics.jsonl records), partial (mid-epoch resume point)

``eval`` and ``segment`` need nothing but this file: the model is rebuilt from ``model``/``model_args`` and
the block/projection settings come from ``config``.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pcseg.errors import PcsegError
from pcseg.utils import atomic_path

FORMAT = "pcseg-checkpoint-1"


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format tag) to ``path`` atomically: a reader never sees half a file."""
    state = {"format": FORMAT, **state}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike, model: str | None = None, num_classes: int | None = None,
                    map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    ``model`` / ``num_classes``, when given, must match the checkpoint. A missing, corrupt or foreign file, or
    a mismatch, raises PcsegError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise PcsegError(path, "is a folder; expected a checkpoint file (.pt)")
    if not path.is_file():
        raise PcsegError(path, "checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError,
            AttributeError, TypeError, KeyError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PcsegError(path, f"not a readable checkpoint ({first[:200]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise PcsegError(path, "not a pcseg checkpoint (no 'format: pcseg-checkpoint-1' entry)")
    for key in ("model", "model_args", "class_names", "config", "epoch", "state_dict"):
        if key not in ckpt:
            raise PcsegError(path, f"checkpoint has no {key!r} entry")
    if model is not None and ckpt["model"] != model:
        raise PcsegError(path, f"checkpoint holds a {ckpt['model']!r} model, expected {model!r}")
    if num_classes is not None and len(ckpt["class_names"]) != num_classes:
        raise PcsegError(path, f"checkpoint has {len(ckpt['class_names'])} classes, expected {num_classes}")
    return ckpt


def build_model_from_checkpoint(ckpt: dict[str, Any], path: str | os.PathLike = "checkpoint") -> torch.nn.Module:
    """Recreate the registered model and load its weights (PcsegError if they do not fit)."""
    from pcseg.models import create_model

    try:
        net = create_model(ckpt["model"], **ckpt["model_args"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PcsegError(path, f"cannot rebuild model {ckpt['model']!r}: {exc}") from None
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise PcsegError(path, f"weights do not fit model {ckpt['model']!r}: "
                               f"{str(exc).splitlines()[0][:200]}") from None
    return net


# --- RNG states as tensors (weights_only=True loads only tensors and plain containers) -------------------

def rng_state(loader_generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Capture the torch, numpy and python global RNG states (and a DataLoader generator's) as tensors."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    assert kind == "MT19937"
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.concatenate([keys.astype(np.int64), [pos, has_gauss]]).astype(np.int64)),
        "numpy_gauss": torch.tensor([cached], dtype=torch.float64),
        "python": torch.tensor(list(internal), dtype=torch.int64),
        "python_meta": torch.tensor([version, 0 if gauss_next is None else 1], dtype=torch.int64),
        "python_gauss": torch.tensor([0.0 if gauss_next is None else gauss_next], dtype=torch.float64),
    }
    if loader_generator is not None:
        state["loader"] = loader_generator.get_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, torch.Tensor], loader_generator: torch.Generator | None = None) -> None:
    """Restore what :func:`rng_state` captured."""
    torch.set_rng_state(state["torch"].to(torch.uint8))
    arr = state["numpy"].numpy()
    np.random.set_state(("MT19937", arr[:624].astype(np.uint32), int(arr[624]), int(arr[625]),
                         float(state["numpy_gauss"][0])))
    version, has_gauss = (int(v) for v in state["python_meta"])
    gauss = float(state["python_gauss"][0]) if has_gauss else None
    random.setstate((version, tuple(int(v) for v in state["python"]), gauss))
    if loader_generator is not None and "loader" in state:
        loader_generator.set_state(state["loader"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


__all__ = ["save_checkpoint", "load_checkpoint", "build_model_from_checkpoint", "rng_state", "set_rng_state",
           "FORMAT"]
