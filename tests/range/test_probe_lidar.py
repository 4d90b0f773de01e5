"""tools/probe_lidar.py: the one-change probes of synthetic scans."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import probe_lidar  # noqa: E402

IDS = {"road": 0, "sidewalk": 1, "building": 2, "terrain": 3}


def _street() -> tuple[np.ndarray, np.ndarray]:
    """Road at z -1.73, a sidewalk 0.15 m up beside it, terrain behind, a wall 12 m out."""
    rng = np.random.default_rng(0)
    road = np.c_[rng.uniform(-20, 20, 2000), rng.uniform(-4, 4, 2000), np.full(2000, -1.73)]
    walk = np.c_[rng.uniform(-20, 20, 800), rng.uniform(4, 7, 800), np.full(800, -1.58)]
    grass = np.c_[rng.uniform(-20, 20, 800), rng.uniform(7, 11, 800), np.full(800, -1.6)]
    wall = np.c_[rng.uniform(-20, 20, 3000), np.full(3000, 12.0), rng.uniform(-1.7, 1.0, 3000)]
    coord = np.concatenate([road, walk, grass, wall])
    label = np.repeat([0, 1, 3, 2], [2000, 800, 800, 3000])
    return coord, label


def test_flush_sidewalk_and_raised_terrain_move_their_class_only():
    coord, label = _street()
    moved, keep = probe_lidar.flush_sidewalk(coord, label, IDS)
    assert keep.all()
    assert np.allclose(moved[label == 1, 2], -1.73)
    assert np.array_equal(moved[label != 1], coord[label != 1])
    moved, keep = probe_lidar.raised_terrain(coord, label, IDS)
    assert np.allclose(moved[label == 3, 2] - coord[label == 3, 2], 0.25)
    assert np.array_equal(moved[label != 3], coord[label != 3])


def test_facade_holes_take_whole_cells_of_building_only():
    coord, label = _street()
    _, keep = probe_lidar.facade_holes(0.5)(coord, label, IDS)
    assert keep[label != 2].all()
    gone = ~keep & (label == 2)
    assert 0.3 < gone.sum() / (label == 2).sum() < 0.7
    cells = lambda m: {tuple(c) for c in np.floor(coord[m]).astype(int)}
    assert not cells(gone) & cells(keep & (label == 2))        # a cell goes whole or not at all


def test_combined_probes_move_then_thin():
    coord, label = _street()
    probe = probe_lidar.combined(probe_lidar.flush_sidewalk, probe_lidar.facade_holes(0.5),
                                 probe_lidar.origin_off((0.25, 0.0, 0.0)))
    moved, keep = probe(coord, label, IDS)
    _, holes = probe_lidar.facade_holes(0.5)(coord, label, IDS)
    assert np.array_equal(keep, holes)
    assert np.allclose(moved[keep & (label == 1), 2], -1.73)
    assert np.allclose(moved[keep, 0], coord[keep, 0] - 0.25)


def test_a_bad_checkpoint_is_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "lidar.pt"
    bad.write_bytes(b"not a checkpoint")
    assert probe_lidar.main(["--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lidar.pt" in err[0]


def test_no_streets_or_a_json_in_a_missing_folder_is_one_line_and_status_2(tmp_path, capsys):
    for argv, named in ((["--sequences", "0"], "--sequences"), (["--json", str(tmp_path / "no" / "p.json")], "p.json")):
        assert probe_lidar.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and named in err[0]
