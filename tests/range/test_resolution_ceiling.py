"""tools/resolution_ceiling.py: a scan's true labels pooled to a coarser grid and upsampled back."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import resolution_ceiling  # noqa: E402

from pcseg.data.synth_lidar import Street, StreetScanner, box  # noqa: E402

from tests.range.kitti_files import write_scan  # noqa: E402


def _scan() -> tuple[np.ndarray, np.ndarray]:
    """A road and, 20 m ahead, a pole 12 cm thick: about two columns of the range image wide."""
    street = Street()
    rng = np.random.default_rng(0)
    street.add(box((0.0, 0.0, -0.05), (60.0, 60.0, 0.1)), "road", rng)
    street.add(box((20.0, 0.0, 2.0), (0.12, 0.12, 4.0)), "pole", rng)
    pts, raw = StreetScanner(street).scan((0.0, 0.0, 1.73), np.random.default_rng(1))
    pts[:, 2] -= 1.73
    return pts, np.where((raw & 0xFFFF) == 40, 0, 1)


def _iou(cm: np.ndarray, c: int) -> float:
    return cm[c, c] / (cm[c].sum() + cm[:, c].sum() - cm[c, c])


def test_a_thin_pole_is_lost_to_coarse_grids_and_kept_at_fine_ones():
    pts, label = _scan()
    assert (label == 1).sum() >= 20
    cms = resolution_ceiling.pooled_confusions(pts[:, :3], label, 2, [(1, 1), (1, 2), (4, 8), (2, 4)])
    ious = {grid: _iou(cm, 1) for grid, cm in cms.items()}
    assert ious[(1, 1)] == 1.0                              # no pooling: the labels themselves
    assert ious[(1, 2)] > 0.5 > ious[(4, 8)]
    cm = cms[(2, 4)]
    assert 0.5 * len(pts) < cm.sum() <= len(pts)           # one count per filled pixel
    assert 0 < cm[1].sum() <= (label == 1).sum()


def test_cli_prints_a_row_per_grid_and_says_one_line_for_bad_input(tmp_path, capsys):
    pts, label = _scan()
    scan = write_scan(tmp_path, pts, np.where(label == 1, 80, 40))
    assert resolution_ceiling.main([str(scan)]) == 0
    out = capsys.readouterr().out
    assert "| road | pole |" in out
    assert [line.split(" |")[0] for line in out.splitlines() if line[2:3].isdigit()] == \
        ["| 1 x 2", "| 2 x 4", "| 4 x 4"]
    assert resolution_ceiling.main([str(tmp_path / "missing.bin")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("resolution_ceiling: ") and "missing.bin" in err[0]
