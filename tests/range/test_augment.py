"""Whole-scan augmentations for range-image training (pcseg/range/augment.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pcseg.data.transforms import tilt_matrix
from pcseg.io.cloud import Cloud
from pcseg.range.augment import (BeamDrop, GroundWarp, PointDrop, RemissionDrop, RemissionJitter, SensorHeight,
                                 Tilt, VoxelThin, build_scan_augmentation)


def _scan(n: int = 5000, seed: int = 0) -> Cloud:
    rng = np.random.default_rng(seed)
    az = rng.uniform(-np.pi, np.pi, n)
    elev = np.radians(rng.choice(np.linspace(2.0, -24.0, 64), n))
    r = rng.uniform(3, 40, n)
    coord = np.stack([r * np.cos(elev) * np.cos(az), r * np.cos(elev) * np.sin(az), r * np.sin(elev)], 1)
    return Cloud(coord.astype(np.float32), intensity=rng.random(n, dtype=np.float32), label=rng.integers(0, 19, n))


def test_remission_drop_removes_the_channel_only():
    scan = _scan()
    out = RemissionDrop(1.0)(scan, np.random.default_rng(0))
    assert out.intensity is None and np.array_equal(out.coord, scan.coord)
    assert RemissionDrop(0.0)(scan, np.random.default_rng(0)) is scan


def test_remission_jitter_stays_in_range_and_keeps_order_roughly():
    scan = _scan()
    out = RemissionJitter()(scan, np.random.default_rng(1))
    assert out.intensity.min() >= 0 and out.intensity.max() <= 1
    assert np.corrcoef(out.intensity, scan.intensity)[0, 1] > 0.8
    assert not np.allclose(out.intensity, scan.intensity)


def test_point_and_beam_drop_keep_labels_aligned():
    scan = _scan()
    for aug in (PointDrop(0.5), BeamDrop(p=1.0), VoxelThin(p=1.0, low=0.5, high=0.5)):
        out = aug(scan, np.random.default_rng(2))
        assert 0 < len(out) < len(scan)
        # every kept point is an original point with its own label and remission
        index = {tuple(p): i for i, p in enumerate(scan.coord)}
        src = np.array([index[tuple(p)] for p in out.coord])
        assert np.array_equal(out.label, scan.label[src]) and np.array_equal(out.intensity, scan.intensity[src])


def test_voxel_thinning_leaves_one_point_per_cell_and_thins_the_near_scan_most():
    scan = _scan(20000)
    out = VoxelThin(p=1.0, low=0.1, high=0.1)(scan, np.random.default_rng(5))
    cells = np.floor(np.asarray(out.coord, np.float64) / 0.1).astype(np.int64)
    assert len(np.unique(cells, axis=0)) == len(out)                  # one point per cell
    full = np.floor(np.asarray(scan.coord, np.float64) / 0.1).astype(np.int64)
    assert len(out) == len(np.unique(full, axis=0))                   # and every occupied cell keeps one
    near = lambda c: (np.linalg.norm(c, axis=1) < 6).sum()
    far = lambda c: (np.linalg.norm(c, axis=1) > 30).sum()
    assert near(out.coord) / near(scan.coord) < far(out.coord) / far(scan.coord)
    assert VoxelThin(p=0.0)(scan, np.random.default_rng(5)) is scan


def test_beam_drop_removes_whole_beams():
    scan = _scan()
    out = BeamDrop(p=1.0, max_share=0.5)(scan, np.random.default_rng(3))
    elev = lambda c: np.round(np.degrees(np.arctan2(c[:, 2], np.hypot(c[:, 0], c[:, 1]))), 3)
    kept, before = set(elev(out.coord)), set(elev(scan.coord))
    assert kept < before                                   # some beams are gone entirely
    lost = before - kept
    assert not (lost & kept)


def test_geometric_scan_augmentations():
    scan = _scan()
    up = SensorHeight(0.3)(scan, np.random.default_rng(4))
    dz = up.coord[:, 2] - scan.coord[:, 2]
    assert np.allclose(dz, dz[0], atol=1e-5) and 0 < abs(dz[0]) <= 0.3
    tilted = Tilt(3.0)(scan, np.random.default_rng(5))
    assert np.allclose(np.linalg.norm(tilted.coord, axis=1), np.linalg.norm(scan.coord, axis=1), rtol=1e-5)
    # the rotation is the matrix's, computed without BLAS: the same float32 points as the matrix product
    rot = tilt_matrix(np.random.default_rng(5), 3.0)
    assert np.abs(np.degrees(np.arccos(rot[2, 2]))) > 0.01
    assert np.array_equal(tilted.coord, (scan.coord.astype(np.float64) @ rot.T).astype(np.float32))


def test_ground_warp_is_smooth_bounded_and_zero_under_the_sensor():
    scan = _scan(20000)
    warp = GroundWarp(amplitude=0.3, low=40.0, high=80.0, waves=2)
    out = warp(scan, np.random.default_rng(6))
    assert np.array_equal(out.coord[:, :2], scan.coord[:, :2]) and np.array_equal(out.label, scan.label)
    dz = out.coord[:, 2].astype(np.float64) - scan.coord[:, 2]
    assert 0.02 < np.abs(dz).max() <= 2 * 2 * 0.3 + 1e-5           # each wave moves by at most 2 x amplitude
    # a function of x and y alone: the same column of points moves together (a wall stays vertical)
    column = Cloud(np.array([[10.0, 5.0, z] for z in (-1.7, 0.0, 2.5)], np.float32))
    moved = warp(column, np.random.default_rng(6)).coord[:, 2] - column.coord[:, 2]
    assert np.ptp(moved) < 1e-5 and abs(moved[0]) > 0
    # nothing moves under the sensor, and slopes stay street-like: at most 2 pi amplitude / wavelength a wave
    origin = warp(Cloud(np.zeros((1, 3), np.float32)), np.random.default_rng(6)).coord
    assert np.abs(origin).max() < 1e-6
    near = np.hypot(scan.coord[:, 0], scan.coord[:, 1])
    assert np.all(np.abs(dz) <= near * 2 * (2 * np.pi * 0.3 / 40.0) + 1e-4)
    assert repr(build_scan_augmentation(["warp:amplitude=0.1,waves=3"])) == \
        "ScanCompose([GroundWarp(amplitude=0.1, low=40.0, high=160.0, waves=3)])"


def test_build_from_config_words():
    assert build_scan_augmentation([]) is None
    chain = build_scan_augmentation(["remission_drop", "height"])
    assert repr(chain) == "ScanCompose([RemissionDrop(p=0.4), SensorHeight(max_shift=0.25)])"
    with pytest.raises(ValueError, match="unknown scan augmentation 'fog'"):
        build_scan_augmentation(["fog"])


def test_build_with_arguments():
    chain = build_scan_augmentation(["remission_drop:p=0.8", "point_drop: max_drop=0.1"])
    assert repr(chain) == "ScanCompose([RemissionDrop(p=0.8), PointDrop(max_drop=0.1)])"
    with pytest.raises(ValueError, match="RemissionDrop|remission_drop takes p"):
        build_scan_augmentation(["remission_drop:q=0.8"])
    with pytest.raises(ValueError, match="is not key=number"):
        build_scan_augmentation(["remission_drop:p=high"])
    with pytest.raises(ValueError, match="is not key=number"):
        build_scan_augmentation(["remission_drop:0.8"])


def test_laser_mix_takes_alternate_inclination_bands():
    from pcseg.range.augment import LaserMix

    rng = np.random.default_rng(0)
    n = 4000
    pitch = np.radians(rng.uniform(-24, 2, n))
    yaw = rng.uniform(-np.pi, np.pi, n)
    coord = 10 * np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], 1)
    coord = coord.astype(np.float32)
    a = Cloud(coord, intensity=np.zeros(n, np.float32), label=np.zeros(n, np.int64))
    b = Cloud(coord + 0.01, intensity=np.ones(n, np.float32), label=np.ones(n, np.int64))
    mixed = LaserMix(p=1.0).mix(a, b, np.random.default_rng(3), 3.0, -25.0)
    assert 0.3 * n < (mixed.label == 0).sum() < 0.7 * n and 0.3 * n < (mixed.label == 1).sum() < 0.7 * n
    assert np.array_equal(mixed.intensity, mixed.label.astype(np.float32))     # each point keeps its own scan
    z_ratio = mixed.coord[:, 2] / np.linalg.norm(mixed.coord[:, :2], axis=1)
    order = np.argsort(z_ratio)
    assert (np.diff(mixed.label[order]) != 0).sum() <= 5                       # bands, not a salt-and-pepper
    assert LaserMix(p=1.0).mix(a, Cloud(coord, label=np.ones(n, np.int64)), np.random.default_rng(3), 3.0,
                               -25.0).intensity is None
    assert LaserMix()(a, rng) is a
    assert repr(build_scan_augmentation(["mix:p=0.3"])) == "ScanCompose([LaserMix(p=0.3)])"


def test_range_dataset_mixes_training_scans():
    from functools import partial

    from pcseg.range.dataset import RangeDataset
    from pcseg.range.spec import RangeSpec

    rng = np.random.default_rng(1)
    n = 3000
    pitch, yaw = np.radians(rng.uniform(-24, 2, n)), rng.uniform(-np.pi, np.pi, n)
    coord = 8 * np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], 1)
    coord = coord.astype(np.float32)
    sources = [partial(Cloud, coord, intensity=np.full(n, 0.5, np.float32), label=np.full(n, k, np.int64))
               for k in range(2)]
    spec = RangeSpec(16, 128, 3.0, -25.0, ("range", "x", "y", "z", "remission"), (0.0,) * 5, (1.0,) * 5, 0, 1.5, 0.25)
    for chain, want in ((["mix:p=1.0"], {0, 1}), (["polarmix:p=1.0"], {0, 1}), (["height"], {0})):
        ds = RangeDataset(sources, spec, 2, augment=True, scan_augment=build_scan_augmentation(chain))
        labels = ds[0]["label"]
        assert set(labels[labels >= 0].unique().tolist()) == want


def test_polar_mix_swaps_half_the_azimuth_and_pastes_turned_objects():
    from pcseg.range.augment import PolarMix

    rng = np.random.default_rng(4)
    n = 6000
    yaw = rng.uniform(-np.pi, np.pi, n)
    r = rng.uniform(5, 30, n)
    coord = np.stack([r * np.cos(yaw), r * np.sin(yaw), rng.uniform(-1.7, 1.0, n)], 1).astype(np.float32)
    a = Cloud(coord, intensity=np.zeros(n, np.float32), label=np.full(n, 8, np.int64))        # road
    b_label = np.where(np.abs(yaw) < 0.2, 0, 12)                                                # a car at 0 deg
    b = Cloud(coord + 0.01, intensity=np.ones(n, np.float32), label=b_label)
    mixed = PolarMix(p=1.0, copies=2).mix(a, b, np.random.default_rng(7))
    from_a = mixed.intensity == 0
    assert 0.4 * n < from_a.sum() < 0.6 * n                                   # half the circle is a's
    az = np.arctan2(mixed.coord[:, 1], mixed.coord[:, 0])
    hist_a, _ = np.histogram(az[from_a], bins=36, range=(-np.pi, np.pi))
    assert (hist_a == 0).sum() >= 16 and (hist_a > 0).sum() >= 16             # ... as one half, not points
    car = mixed.label == 0
    cars_b = (np.abs(yaw) < 0.2).sum()
    assert 2 * cars_b <= car.sum() <= 3 * cars_b            # two turned copies, and the car itself if in b's half
    rng_car = np.linalg.norm(mixed.coord[car, :2], axis=1)
    assert rng_car.min() > 4.9 and rng_car.max() < 30.1                        # at their own range
    assert np.array_equal(mixed.intensity[car], np.ones(car.sum(), np.float32))  # each point keeps its scan
    assert len(np.unique(np.round(az[car], 0))) > 1                             # at other headings
    flora = PolarMix(p=1.0, copies=1, flora=1).mix(a, Cloud(coord, label=np.full(n, 14)), np.random.default_rng(1))
    assert (flora.label == 14).sum() > n and flora.intensity is None           # vegetation pasted; no remission
    assert abs(len(PolarMix(p=1.0, copies=0).mix(a, b, np.random.default_rng(7))) - n) < 0.1 * n   # swap only
    assert PolarMix()(a, rng) is a
    assert repr(build_scan_augmentation(["polarmix:p=0.4,copies=3"])) == \
        "ScanCompose([PolarMix(p=0.4, copies=3, flora=0)])"
    for bad in ("polarmix:copies=1.5", "polarmix:flora=2", "polarmix:p=2"):
        with pytest.raises(ValueError):
            build_scan_augmentation([bad])


def test_the_config_comment_names_every_scan_augmentation():
    """pcseg/config.py lists the words range.scan_augment accepts in a comment; it must not drift from the
    registry that parses them."""
    import inspect
    import re

    import pcseg.config
    from pcseg.range.augment import SCAN_AUGMENTATIONS

    src = inspect.getsource(pcseg.config)
    comment = src[src.index("SCAN_AUGMENTATIONS:"):src.index("scan_augment: list[str]")]
    listed = set(re.findall(r"[a-z_]+", comment.split(";")[0].split(":", 1)[1]))
    assert listed == set(SCAN_AUGMENTATIONS)
