"""Levelling a LiDAR scan on its ground plane (pcseg/range/ground.py) and its use in predict_scan."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcseg.config import config_from_dict
from pcseg.errors import PcsegError
from pcseg.range.ground import fit_ground, level_on_ground, levelling_rotation
from pcseg.range.spec import range_spec


def _turn(xyz: np.ndarray, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Points turned about the sensor by ``pitch`` (about y) then ``roll`` (about x)."""
    p, r = np.radians(pitch_deg), np.radians(roll_deg)
    ry = np.array([[np.cos(p), 0, np.sin(p)], [0, 1, 0], [-np.sin(p), 0, np.cos(p)]])
    rx = np.array([[1, 0, 0], [0, np.cos(r), -np.sin(r)], [0, np.sin(r), np.cos(r)]])
    return xyz @ (rx @ ry).T


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> np.ndarray:
    """One synthetic scan: level ground 1.73 m below the sensor."""
    from pcseg.data.synth_lidar import synth_lidar

    out = tmp_path_factory.mktemp("scan")
    synth_lidar(out, sequences=["00"], scans=1, seed=5)
    return np.fromfile(out / "sequences" / "00" / "velodyne" / "000000.bin", np.float32).reshape(-1, 4)[:, :3]


def test_rotation_turns_the_normal_onto_z():
    for normal in ([0.0, 0.0, 1.0], [0.03, -0.02, 1.0], [0.0, 0.15, 1.0]):
        n = np.asarray(normal) / np.linalg.norm(normal)
        rot = levelling_rotation(tuple(n))
        assert np.allclose(rot @ n, [0, 0, 1], atol=1e-12)
        assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(rot), 1.0)


def test_fit_finds_a_tilted_ground_at_its_height():
    rng = np.random.default_rng(0)
    ground = np.c_[rng.uniform(-25, 25, (30_000, 2)), np.full(30_000, -1.9) + rng.normal(0, 0.01, 30_000)]
    clutter = np.c_[rng.uniform(-25, 25, (5_000, 2)), rng.uniform(-1.5, 3, 5_000)]
    xyz = _turn(np.r_[ground, clutter], 2.0, -1.0)
    found = fit_ground(xyz)
    assert found is not None
    assert abs(found.height - 1.9) < 0.02
    assert abs(found.tilt_deg - np.degrees(np.arccos(np.cos(np.radians(2)) * np.cos(np.radians(1))))) < 0.2


def test_levelling_undoes_a_tilt_and_a_height_error(street):
    level, _ = level_on_ground(torch.from_numpy(street.copy()), 1.73)
    moved = (_turn(street.astype(np.float64), 2.5, 1.5) + [0, 0, -0.2]).astype(np.float32)
    again, ground = level_on_ground(torch.from_numpy(moved), 1.73)
    assert ground is not None and 2.0 < ground.tilt_deg < 3.5 and abs(ground.height - 1.93) < 0.05
    # the same scan as the levelled original, up to a turn about z (which the levelling leaves free) and the
    # fit's own error (RANSAC with 8 cm inliers over 25 m: up to about 0.2 deg, ~10 cm at 25 m)
    near = torch.from_numpy(np.hypot(street[:, 0], street[:, 1]) < 25)
    assert float((again[near, 2] - level[near, 2]).abs().quantile(0.99)) < 0.15
    refit = fit_ground(again.numpy())
    assert refit is not None and refit.tilt_deg < 0.4 and abs(refit.height - 1.73) < 0.05


def test_fit_is_the_same_every_time(street):
    assert fit_ground(street) == fit_ground(street)


@pytest.mark.parametrize("case", ["above", "few", "too_far_below", "steep"])
def test_no_plausible_ground_leaves_the_scan_as_given(case):
    rng = np.random.default_rng(1)
    plane = np.c_[rng.uniform(-20, 20, (20_000, 2)), np.full(20_000, -1.7)]
    xyz = {"above": plane + [0, 0, 3.0], "few": plane[:100], "too_far_below": plane + [0, 0, -4.0],
           "steep": _turn(plane, 25.0, 0.0)}[case].astype(np.float32)
    out, ground = level_on_ground(torch.from_numpy(xyz), 1.73)
    assert ground is None and torch.equal(out, torch.from_numpy(xyz))


def test_real_kitti_scan_stands_nearly_level(realdata):
    """A sensor-frame KITTI scan: the sensor is mounted level, 1.73 m above the road (Geiger et al. 2013)."""
    scan = np.fromfile(realdata / "torch-points3d" / "KITTI" / "000000.bin", np.float32).reshape(-1, 4)[:, :3]
    ground = fit_ground(scan)
    assert ground is not None and ground.tilt_deg < 3.0 and 1.5 < ground.height < 2.0


def _kitti_cfg(**range_args):
    return config_from_dict({"data": {"dataset": "semantickitti"}, "range": range_args})


def test_spec_takes_a_ground_height_for_scans_only():
    assert range_spec(_kitti_cfg(level_ground=1.73)).level_ground == 1.73
    assert range_spec(_kitti_cfg()).level_ground is None
    with pytest.raises(PcsegError, match="range.level_ground"):
        range_spec(_kitti_cfg(level_ground=-1.0))
    with pytest.raises(PcsegError, match="range.level_ground"):
        range_spec(config_from_dict({"data": {"dataset": "s3dis"}, "range": {"level_ground": 1.73}}))


class _Height(torch.nn.Module):
    """Scores class 1 where the (normalised) z channel is above its mean, class 0 elsewhere."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = (x[:, 3:4] > 0).float()
        return torch.cat([1 - up, up], dim=1) * 10


def test_predict_scan_labels_the_levelled_scan(street, capsys):
    from pcseg.io.cloud import Cloud
    from pcseg.range.inference import predict_scan

    moved = (_turn(street.astype(np.float64), 3.0, 0.0) + [0, 0, 0.3]).astype(np.float32)
    cfg = _kitti_cfg(channels=["range", "x", "y", "z"], mean=[0, 0, 0, -1.0], std=[1, 1, 1, 1], knn=False)
    as_given = predict_scan(_Height(), Cloud(moved), cfg, "cpu").argmax(1)
    cfg.range.level_ground = 1.73
    levelled = predict_scan(_Height(), Cloud(moved), cfg, "cpu").argmax(1)
    original = predict_scan(_Height(), Cloud(street), cfg, "cpu").argmax(1)
    assert float((levelled == original).float().mean()) > 0.97
    assert float((as_given == original).float().mean()) < 0.9
    assert "not levelled" not in capsys.readouterr().err
    predict_scan(_Height(), Cloud((street + [0, 0, 5.0]).astype(np.float32), meta={"source": "mast.bin"}), cfg, "cpu")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mast.bin" in err[0] and "not levelled" in err[0]
