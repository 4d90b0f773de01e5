"""Per-point label files: ``.label`` (raw SemanticKITTI ids) and ``.npy`` (class indices)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from pcseg.classes import SEMANTICKITTI, ClassSet, kitti_class_to_raw, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.kitti_bin import read_kitti_label
from pcseg.io.npy import _load_npy
from pcseg.utils import atomic_path


def read_labels(path: str | os.PathLike, class_set: ClassSet | None = None) -> np.ndarray:
    """Per-point labels from a file: ``.label`` (raw SemanticKITTI ids -> SEMANTICKITTI classes) or ``.npy``
    (class indices as pcseg saves them: integers, -1 = ignore; checked against ``class_set`` when given).

    Shapes: -> (N,) int64.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".label":
        if class_set is not None and class_set.name != SEMANTICKITTI.name:
            raise PcsegError(path, f".label files hold SemanticKITTI ids, not {class_set.name} classes")
        return kitti_raw_to_class(read_kitti_label(path))
    if ext != ".npy":
        raise PcsegError(path, "unknown label file type (expected .label or .npy)")
    arr = _load_npy(path)
    if arr.dtype.kind not in "iu" or arr.ndim not in (1, 2) \
            or (arr.ndim == 2 and arr.shape[1] != 1):
        raise PcsegError(path, f"expected (N,) integer class indices, found {arr.dtype} {arr.shape}")
    labels = arr.reshape(-1).astype(np.int64)
    top = class_set.num_classes if class_set is not None else None
    bad = (labels < -1) if top is None else ((labels < -1) | (labels >= top))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        allowed = "-1 or above" if top is None else f"-1..{top - 1}"
        raise PcsegError(path, f"label {labels[i]} at point {i} is outside {allowed}")
    return labels


def write_labels(path: str | os.PathLike, labels: np.ndarray, class_set: ClassSet | None = None) -> None:
    """Per-point labels: ``.label`` -> raw SemanticKITTI ids (uint32; needs the SEMANTICKITTI class set),
    ``.npy`` -> int64 class indices (-1 = ignore). Written atomically.

    Shapes: labels (N,) int.
    """
    labels = np.asarray(labels).reshape(-1)
    write_labels_chunks(path, len(labels), [labels], class_set)


def write_labels_chunks(path: str | os.PathLike, n: int, chunks: Iterable[np.ndarray],
                        class_set: ClassSet | None = None) -> None:
    """:func:`write_labels` of ``n`` labels given as consecutive chunks; memory is one chunk. Written
    atomically; the ``.npy`` is byte for byte what ``np.save`` writes for the (n,) int64 array."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".label", ".npy"):
        raise PcsegError(path, "unknown label file type (expected .label or .npy)")
    if ext == ".label" and class_set is not None and class_set.name != SEMANTICKITTI.name:
        raise PcsegError(path, f".label files hold SemanticKITTI ids; cannot write {class_set.name} classes")
    with atomic_path(path, suffix=ext) as tmp:
        with open(tmp, "wb") as f:
            if ext == ".npy":
                np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (n,)})
            written = 0
            for chunk in chunks:
                chunk = np.asarray(chunk).reshape(-1).astype(np.int64)
                if ext == ".label":
                    if len(chunk) and (chunk.min() < -1 or chunk.max() >= SEMANTICKITTI.num_classes):
                        raise PcsegError(path, f"labels outside -1..{SEMANTICKITTI.num_classes - 1}")
                    chunk = kitti_class_to_raw(chunk)
                f.write(chunk.astype("<u4" if ext == ".label" else "<i8").tobytes())
                written += len(chunk)
            if written != n:
                raise ValueError(f"write_labels_chunks: {written} labels written, {n} announced")
