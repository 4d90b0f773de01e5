"""KITTI .bin scans and their .label files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import SEMANTICKITTI, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud, read_labels
from pcseg.io.kitti_bin import read_kitti_bin

MMDET = "mmdetection3d/tests/data/semantickitti/sequences/00"


def test_real_kitti_bin(realdata: Path) -> None:
    cloud = read_cloud(realdata / "torch-points3d/KITTI/000000.bin")
    assert len(cloud) == 123_389 and cloud.label is None
    raw = np.fromfile(realdata / "torch-points3d/KITTI/000000.bin", dtype=np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(cloud.intensity, raw[:, 3])


def test_real_semantickitti_pair_finds_labels(realdata: Path) -> None:
    scan = realdata / MMDET / "velodyne/000000.bin"
    cloud = read_cloud(scan)  # labels auto-found at ../labels/000000.label
    assert len(cloud) == 50
    raw = cloud.meta["raw_label"]
    assert set(np.unique(raw)) == {0, 50, 52, 70, 71, 80}
    np.testing.assert_array_equal(cloud.label, kitti_raw_to_class(raw))
    # building (50) -> class 12, vegetation (70) -> 14, unlabeled (0) and other-structure (52) -> ignore
    assert set(cloud.label[raw == 50]) == {SEMANTICKITTI.index("building")}
    assert set(cloud.label[raw == 70]) == {SEMANTICKITTI.index("vegetation")}
    assert set(cloud.label[(raw == 0) | (raw == 52)]) == {-1}
    np.testing.assert_array_equal(read_labels(realdata / MMDET / "labels/000000.label"), cloud.label)


def test_kitti_bin_labels_and_errors(tmp_path: Path) -> None:
    scan = np.arange(40, dtype=np.float32).reshape(10, 4)
    scan.tofile(tmp_path / "000001.bin")
    raw = np.array([10, 40, 0, 50 | (3 << 16), 70, 72, 80, 81, 99, 252], dtype=np.uint32)
    raw.tofile(tmp_path / "000001.label")  # beside the scan
    cloud = read_cloud(tmp_path / "000001.bin")
    np.testing.assert_array_equal(cloud.meta["raw_label"], raw & 0xFFFF)  # instance bits dropped
    np.testing.assert_array_equal(cloud.label, [0, 8, -1, 12, 14, 16, 17, 18, -1, 0])
    raw[:9].tofile(tmp_path / "short.label")
    with pytest.raises(PcsegError, match=r"short\.label: 9 labels for 10 points in 000001\.bin"):
        read_cloud(tmp_path / "000001.bin", labels=tmp_path / "short.label")
    (tmp_path / "odd.bin").write_bytes(bytes(20))
    with pytest.raises(PcsegError, match=r"odd\.bin: size 20 is not a multiple of 16"):
        read_cloud(tmp_path / "odd.bin")


def _sweep(n: int, seed: int = 0) -> np.ndarray:
    """A nuScenes-like sweep: x y z around the sensor, intensity 0..255, ring 0..31 (5 float32 per point)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    r = rng.uniform(2, 50, n)
    return np.column_stack([r * np.cos(angle), r * np.sin(angle), rng.uniform(-2, 3, n),
                            rng.integers(0, 256, n), rng.integers(0, 32, n)]).astype(np.float32)


def test_nuscenes_pcd_bin_and_point_dims(tmp_path: Path) -> None:
    sweep = _sweep(400)                                   # 400 * 20 bytes: also a multiple of 16
    sweep.tofile(tmp_path / "sweep.pcd.bin")
    cloud = read_cloud(tmp_path / "sweep.pcd.bin")
    np.testing.assert_array_equal(cloud.coord, sweep[:, :3])
    np.testing.assert_array_equal(cloud.intensity, sweep[:, 3])
    np.testing.assert_array_equal(cloud.meta["fields"]["ring"], sweep[:, 4])
    sweep.tofile(tmp_path / "sweep.bin")                  # the same bytes without the .pcd.bin name
    with pytest.raises(PcsegError, match=r"does not look like 4 float32 per point .*with --point-dims 5"):
        read_cloud(tmp_path / "sweep.bin")
    np.testing.assert_array_equal(read_cloud(tmp_path / "sweep.bin", point_dims=5).coord, sweep[:, :3])
    rgb = np.column_stack([sweep[:, :3], np.full((400, 3), 255.0, np.float32)])
    rgb.tofile(tmp_path / "indoor.bin")
    indoor = read_kitti_bin(tmp_path / "indoor.bin", point_dims=6)
    assert indoor.intensity is None and np.allclose(indoor.color, 1.0)
    with pytest.raises(PcsegError, match="--point-dims.*3..64"):
        read_cloud(tmp_path / "sweep.bin", point_dims=2)
