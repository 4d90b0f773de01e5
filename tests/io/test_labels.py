"""Per-point label files (.label, .npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import SEMANTICKITTI
from pcseg.errors import PcsegError
from pcseg.io.files import read_labels, write_labels


def test_labels_npy_and_write_labels(tmp_path: Path) -> None:
    labels = np.array([-1, 0, 5, 18])
    write_labels(tmp_path / "l.label", labels, SEMANTICKITTI)
    raw = np.fromfile(tmp_path / "l.label", dtype=np.uint32)
    np.testing.assert_array_equal(raw, [0, 10, 30, 81])  # learning ids 0, 1, 6, 19
    np.testing.assert_array_equal(read_labels(tmp_path / "l.label"), labels)
    write_labels(tmp_path / "l.npy", labels)
    assert np.load(tmp_path / "l.npy").dtype == np.int64
    np.testing.assert_array_equal(read_labels(tmp_path / "l.npy", SEMANTICKITTI), labels)
    np.save(tmp_path / "big.npy", np.array([0, 19]))
    with pytest.raises(PcsegError, match=r"big\.npy: label 19 at point 1 is outside -1\.\.18"):
        read_labels(tmp_path / "big.npy", SEMANTICKITTI)
    with pytest.raises(PcsegError, match="outside -1..18"):
        write_labels(tmp_path / "x.label", np.array([19]), SEMANTICKITTI)
    assert not (tmp_path / "x.label").exists()
