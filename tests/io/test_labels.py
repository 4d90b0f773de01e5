"""Per-point label files (.label, .npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import S3DIS, SEMANTICKITTI
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


def test_label_formats_learning_and_raw(tmp_path: Path) -> None:
    learning = np.array([0, 1, 6, 19])                       # Open3D-ML / mmdetection3d: 0 = unlabeled
    np.save(tmp_path / "learning.npy", learning.astype(np.int32))
    np.testing.assert_array_equal(read_labels(tmp_path / "learning.npy", SEMANTICKITTI, "learning"),
                                  [-1, 0, 5, 18])
    with pytest.raises(PcsegError, match=r"outside -1\.\.18 .*fit --label-format learning"):
        read_labels(tmp_path / "learning.npy", SEMANTICKITTI)
    np.save(tmp_path / "raw.npy", np.array([0, 10, 30, 81, 252]))
    np.testing.assert_array_equal(read_labels(tmp_path / "raw.npy", SEMANTICKITTI, "raw"), [-1, 0, 5, 18, 0])
    with pytest.raises(PcsegError, match="fit --label-format raw"):
        read_labels(tmp_path / "raw.npy", SEMANTICKITTI)
    with pytest.raises(PcsegError, match="learning ids are 0 .* or more"):
        read_labels(_save(tmp_path / "neg.npy", np.array([-1, 2])), SEMANTICKITTI, "learning")
    with pytest.raises(PcsegError, match=r"fit --classes semantickitti"):
        read_labels(_save(tmp_path / "k.npy", np.array([0, 15])), S3DIS)
    with pytest.raises(PcsegError, match="not --label-format learning"):
        read_labels(_save(tmp_path / "x.npy", np.array([1])).with_suffix(".label"), SEMANTICKITTI, "learning")


def _save(path: Path, values: np.ndarray) -> Path:
    np.save(path, values)
    return path


def test_real_open3d_ml_labels_read_as_learning_ids(realdata: Path) -> None:
    path = realdata / "semantickitti-open3d-ml/labels/000700.npy"
    learning = np.load(path).reshape(-1)
    labels = read_labels(path, SEMANTICKITTI, "learning")
    np.testing.assert_array_equal(labels, learning.astype(np.int64) - 1)
    assert labels.min() >= -1 and labels.max() <= 18
