"""A scan and its labels written as a SemanticKITTI sequence folder holds them, for the tools' CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_scan(folder: Path, points: np.ndarray, raw_labels: np.ndarray) -> Path:
    """``folder``/velodyne/000000.bin (float32 x y z remission) and ``folder``/labels/000000.label (uint32
    raw SemanticKITTI ids); returns the scan's path."""
    scan = folder / "velodyne" / "000000.bin"
    scan.parent.mkdir(parents=True)
    np.asarray(points, dtype=np.float32).tofile(scan)
    (folder / "labels").mkdir()
    np.asarray(raw_labels, dtype=np.uint32).tofile(folder / "labels" / "000000.label")
    return scan
