"""tools/scan_texture.py: range-image occupancy and per-class roughness of labelled scans."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import scan_texture  # noqa: E402

from pcseg.data.synth_lidar import Street, StreetScanner, box  # noqa: E402

from tests.range.kitti_files import write_scan  # noqa: E402


def _scan() -> tuple[np.ndarray, np.ndarray]:
    """A road and, 8-12 m ahead, a hedge: the hedge returns from inside its leaves."""
    street = Street()
    rng = np.random.default_rng(0)
    street.add(box((0.0, 0.0, -0.05), (60.0, 60.0, 0.1)), "road", rng)
    street.add(box((10.0, 0.0, 1.0), (4.0, 8.0, 2.0)), "vegetation", rng, depth=0.15)
    pts, raw = StreetScanner(street).scan((0.0, 0.0, 1.73), np.random.default_rng(1))
    pts[:, 2] -= 1.73
    return pts, np.where((raw & 0xFFFF) == 40, 0, 1)


def test_foliage_reads_rougher_than_road_and_occupancy_is_a_share():
    pts, label = _scan()
    occupancy, per_class = scan_texture.texture(pts[:, :3], label, 2)
    assert 0.3 < occupancy < 1.0
    assert set(per_class) == {0, 1}
    assert per_class[1][1] > 3 * per_class[0][1]


def test_cli_reads_scans_and_says_one_line_for_bad_input(tmp_path, capsys):
    pts, _ = _scan()
    scan = write_scan(tmp_path, pts, np.full(len(pts), 40))
    assert scan_texture.main([str(scan)]) == 0
    out = capsys.readouterr().out
    assert "| road |" in out and str(scan) in out
    assert scan_texture.main([str(tmp_path / "missing.bin")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("scan_texture: ") and "missing.bin" in err[0]
