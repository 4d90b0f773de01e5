"""Per-point label files: ``.label`` (raw SemanticKITTI ids) and ``.npy`` (class indices, or learning / raw
ids with ``label_format``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from pcseg.classes import SEMANTICKITTI, SEMANTICKITTI_LEARNING_MAP, ClassSet, kitti_class_to_raw, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.kitti_bin import read_kitti_label
from pcseg.io.npy import _load_npy
from pcseg.utils import atomic_path


# How the integers of a label file map to pcseg class indices (``--label-format``):
#   index     pcseg class indices, -1 = ignore (what `pcseg segment` writes to .npy)
#   learning  learning ids 0..K with 0 = unlabeled, i.e. index + 1: SemanticKITTI labels as Open3D-ML
#             (isl-org/Open3D-ML `ml3d/datasets/semantickitti.py`, labels remapped by learning_map) and
#             mmdetection3d (`tools/dataset_converters/semantickitti_converter.py` + `seg_label_mapping`) store
#             them in .npy files
#   raw       raw SemanticKITTI ids (10 car, 40 road ...; the .label convention), mapped by learning_map
# A ``.label`` file is always raw; a ``.npy`` is ``index`` unless told otherwise.
LABEL_FORMATS = ("index", "learning", "raw")
SEMANTICKITTI_RAW_IDS = frozenset(SEMANTICKITTI_LEARNING_MAP)


def labels_from_format(values: np.ndarray, label_format: str, where: str | os.PathLike | None) -> np.ndarray:
    """Integers of a label file in ``label_format`` -> pcseg class indices (-1 = ignore).

    Shapes: values (...) int -> same shape int64."""
    values = np.asarray(values).astype(np.int64)
    if label_format == "index":
        return values
    if label_format == "learning":
        if values.size and values.min() < 0:
            raise PcsegError(where, f"learning ids are 0 (unlabeled) or more; found {int(values.min())} "
                                    "(pcseg class indices with -1 = ignore are --label-format index)")
        return values - 1
    if label_format == "raw":
        if values.size and (values.min() < 0 or values.max() >= 1 << 32):
            raise PcsegError(where, "raw SemanticKITTI ids are unsigned 32-bit integers")
        return kitti_raw_to_class(values)
    raise PcsegError(where, f"unknown label format {label_format!r} (known: {', '.join(LABEL_FORMATS)})")


def label_hint(values: np.ndarray, class_set: ClassSet | None, label_format: str = "index") -> str:
    """What would make out-of-range labels fit: another ``--classes`` and/or ``--label-format``, as text
    to append to an error ("" when nothing obvious fits)."""
    from pcseg.classes import CLASS_SETS

    values = np.asarray(values).astype(np.int64).reshape(-1)
    if values.size == 0:
        return ""
    lo, hi = int(values.min()), int(values.max())
    fits: list[str] = []
    if label_format == "index":
        for cs in CLASS_SETS.values():
            if lo >= -1 and hi < cs.num_classes and (class_set is None or cs.name != class_set.name):
                fits.append(f"--classes {cs.name}")
        for cs in CLASS_SETS.values():
            if lo >= 0 and hi <= cs.num_classes and hi >= 1 and (class_set is None or hi >= class_set.num_classes
                                                                or cs.name == class_set.name):
                fits.append(f"--label-format learning (ids 0..{cs.num_classes}, 0 = unlabeled, as Open3D-ML and "
                            f"mmdetection3d store {cs.name})" + ("" if class_set is not None
                                                                  and cs.name == class_set.name
                                                                  else f" with --classes {cs.name}"))
                break
    if label_format != "raw" and lo >= 0 and hi in SEMANTICKITTI_RAW_IDS and hi >= 40 \
            and np.isin(values, list(SEMANTICKITTI_RAW_IDS)).all():
        fits.append("--label-format raw (raw SemanticKITTI ids) with --classes semantickitti")
    return ("; it would fit " + " or ".join(fits)) if fits else ""


def read_labels(path: str | os.PathLike, class_set: ClassSet | None = None,
                label_format: str | None = None) -> np.ndarray:
    """Per-point labels from a file: ``.label`` (raw SemanticKITTI ids -> SEMANTICKITTI classes) or ``.npy``
    (integers in ``label_format``, default ``index``: pcseg class indices with -1 = ignore; see
    LABEL_FORMATS). Checked against ``class_set`` when given; an out-of-range value names what would fit.

    Shapes: -> (N,) int64.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if label_format is not None and label_format not in LABEL_FORMATS:
        raise PcsegError(path, f"unknown label format {label_format!r} (known: {', '.join(LABEL_FORMATS)})")
    if ext == ".label":
        if class_set is not None and class_set.name != SEMANTICKITTI.name:
            raise PcsegError(path, f".label files hold SemanticKITTI ids, not {class_set.name} classes")
        if label_format not in (None, "raw"):
            raise PcsegError(path, f".label files hold raw SemanticKITTI ids, not --label-format {label_format}")
        return kitti_raw_to_class(read_kitti_label(path))
    if ext != ".npy":
        raise PcsegError(path, "unknown label file type (expected .label or .npy)")
    arr = _load_npy(path)
    if arr.dtype.kind not in "iu" or arr.ndim not in (1, 2) \
            or (arr.ndim == 2 and arr.shape[1] != 1):
        raise PcsegError(path, f"expected (N,) integer labels, found {arr.dtype} {arr.shape}")
    fmt = label_format or "index"
    if fmt == "raw" and class_set is not None and class_set.name != SEMANTICKITTI.name:
        raise PcsegError(path, f"raw ids are SemanticKITTI ids, not {class_set.name} classes")
    values = arr.reshape(-1).astype(np.int64)
    labels = labels_from_format(values, fmt, path)
    top = class_set.num_classes if class_set is not None else None
    bad = (labels < -1) if top is None else ((labels < -1) | (labels >= top))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        allowed = "-1 or above" if top is None else f"-1..{top - 1}"
        name = f" of class set {class_set.name!r}" if class_set is not None else ""
        raise PcsegError(path, f"label {labels[i]} at point {i} is outside {allowed}{name} (--label-format {fmt})"
                               + label_hint(values, class_set, fmt))
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
