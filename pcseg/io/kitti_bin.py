"""KITTI / SemanticKITTI raw files: Velodyne ``.bin`` scans and ``.label`` files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _check_file, _finish


def read_kitti_bin(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """KITTI Velodyne scan: float32 records ``x y z remission`` (remission -> Cloud.intensity).

    Shapes: -> coord (N, 3), intensity (N,).
    """
    path = Path(path)
    _check_file(path)
    size = path.stat().st_size
    if size % 16:
        raise PcsegError(path, f"size {size} is not a multiple of 16 bytes (float32 x y z remission)")
    scan = np.fromfile(path, dtype="<f4").reshape(-1, 4)
    return _finish(path, scan[:, :3], intensity=scan[:, 3], meta={"format": "kitti bin"},
                   external_labels=external_labels)


def read_kitti_label(path: str | os.PathLike) -> np.ndarray:
    """A SemanticKITTI ``.label`` file -> raw semantic ids (the low 16 bits; the high 16 are the instance).

    Shapes: -> (N,) uint32.
    """
    path = Path(path)
    _check_file(path)
    size = path.stat().st_size
    if size % 4:
        raise PcsegError(path, f"size {size} is not a multiple of 4 bytes (uint32 labels)")
    return np.fromfile(path, dtype="<u4") & np.uint32(0xFFFF)


def find_kitti_labels(scan: str | os.PathLike) -> Path | None:
    """The ``.label`` file of a scan: ``../labels/<stem>.label`` (SemanticKITTI layout), else
    ``<stem>.label`` beside it, else None."""
    scan = Path(scan)
    for candidate in (scan.parent.parent / "labels" / f"{scan.stem}.label", scan.with_suffix(".label")):
        if candidate.is_file():
            return candidate
    return None
