"""Finding a LiDAR scan's sensor origin from the data (pcseg/range/origin.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.range.origin import estimate_sensor_origin, looks_sensor_centred, occupancy

REAL = Path(__file__).resolve().parents[3] / "shared" / "realdata"


@pytest.fixture(scope="module")
def synthetic_scan(tmp_path_factory) -> np.ndarray:
    from pcseg.data.synth_lidar import synth_lidar

    out = tmp_path_factory.mktemp("scan")
    synth_lidar(out, sequences=["00"], scans=1, seed=5)
    return np.fromfile(out / "sequences" / "00" / "velodyne" / "000000.bin", np.float32).reshape(-1, 4)[:, :3]


def test_occupancy_peaks_at_the_sensor(synthetic_scan):
    here = occupancy(synthetic_scan.astype(np.float64), np.zeros(3))
    for probe in ([2.0, 0, 0], [0, -2.0, 0], [0, 0, 0.8]):
        assert occupancy(synthetic_scan.astype(np.float64), np.array(probe)) < here


@pytest.mark.parametrize("shift", [(0.0, 0.0, 0.0), (23.4, -61.2, 1.7), (-140.0, 12.5, -3.0)])
def test_estimate_recovers_a_known_origin(synthetic_scan, shift):
    moved = synthetic_scan + np.array(shift, np.float32)
    assert np.allclose(estimate_sensor_origin(moved), shift, atol=0.35)
    assert looks_sensor_centred(moved) == (shift == (0.0, 0.0, 0.0))


@pytest.mark.skipif(not (REAL / "torch-points3d" / "KITTI" / "000000.bin").is_file(), reason="no real samples")
def test_real_kitti_scan_is_sensor_centred():
    scan = np.fromfile(REAL / "torch-points3d" / "KITTI" / "000000.bin", np.float32).reshape(-1, 4)[:, :3]
    assert looks_sensor_centred(scan)
    assert np.linalg.norm(estimate_sensor_origin(scan)) < 0.5
