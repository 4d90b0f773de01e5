"""read_cloud: the extension dispatcher, separate label files, missing / empty / unknown files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import SEMANTICKITTI
from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud, write_labels


def test_real_open3d_ml_pair(realdata: Path, tmp_path: Path) -> None:
    points = realdata / "semantickitti-open3d-ml/points/000700.npy"
    cloud = read_cloud(points)
    assert len(cloud) == 85_962 and cloud.meta["columns"] == "xyz"
    learning = np.load(realdata / "semantickitti-open3d-ml/labels/000700.npy").reshape(-1)
    labels = learning.astype(np.int64) - 1  # learning id 0 (unlabeled) -> IGNORE
    for name in ("000700.label", "000700.npy"):
        write_labels(tmp_path / name, labels, SEMANTICKITTI)
        again = read_cloud(points, labels=tmp_path / name, class_set=SEMANTICKITTI)
        np.testing.assert_array_equal(again.label, labels)


def test_missing_empty_unknown(tmp_path: Path) -> None:
    with pytest.raises(PcsegError, match=r"nope\.ply: no such file"):
        read_cloud(tmp_path / "nope.ply")
    (tmp_path / "e.pcd").write_bytes(b"")
    with pytest.raises(PcsegError, match=r"e\.pcd: empty file"):
        read_cloud(tmp_path / "e.pcd")
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(PcsegError, match=r"x\.xyz: unknown point-cloud file type '\.xyz'"):
        read_cloud(tmp_path / "x.xyz")
    (tmp_path / "bad.las").write_bytes(b"LASF" + bytes(100))
    with pytest.raises(PcsegError, match=r"bad\.las: not a readable LAS/LAZ file"):
        read_cloud(tmp_path / "bad.las")
