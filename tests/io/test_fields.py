"""Conventions shared by every reader: non-finite points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud


def test_nan_points_dropped_or_refused(tmp_path: Path) -> None:
    scan = np.ones((5, 4), dtype=np.float32)
    scan[2, 1] = np.inf
    scan.tofile(tmp_path / "s.bin")
    cloud = read_cloud(tmp_path / "s.bin")
    assert len(cloud) == 4 and cloud.meta["dropped_nan"] == 1
    np.save(tmp_path / "s_labels.npy", np.zeros(5, dtype=np.int64))
    with pytest.raises(PcsegError, match=r"s\.bin: 1 points have NaN/inf coordinates"):
        read_cloud(tmp_path / "s.bin", labels=tmp_path / "s_labels.npy")
