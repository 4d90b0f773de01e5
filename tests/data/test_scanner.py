"""The simulated indoor scanner (pcseg/data/scanner.py) and the scanned style of pcseg synth s3dis."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pcseg.data.scanner import box_mesh, scan_room, scanner_positions
from pcseg.data.synth_s3dis import ALIGNED, synth_s3dis
from pcseg.errors import PcsegError


def _area(v: np.ndarray, t: np.ndarray) -> float:
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    return float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2)


def test_box_mesh_cuts_holes_out_of_a_face():
    lo, hi = np.array([0.0, 0.0, 0.0]), np.array([4.0, 0.0, 3.0])          # a 4 x 3 m wall in the y = 0 plane
    v, t = box_mesh(lo, hi, [(1, 1)])
    assert _area(v, t) == pytest.approx(12.0)
    door = (np.array([1.0, -0.01, 0.0]), np.array([2.0, 0.01, 2.0]))
    v, t = box_mesh(lo, hi, [(1, 1)], [door])
    assert _area(v, t) == pytest.approx(10.0)
    assert np.all(v[:, 1] == 0.0)


def _room(h: float = 3.0):
    """A 6 x 4 m box room with a closed 1 m cabinet in the middle."""
    part = lambda lo, hi, faces: SimpleNamespace(lo=np.array(lo, float), hi=np.array(hi, float), faces=faces,
                                                 holes=[])
    walls = [part((0, 0, 0), (6, 0, h), [(1, 1)]), part((0, 4, 0), (6, 4, h), [(1, 0)]),
             part((0, 0, 0), (0, 4, h), [(0, 1)]), part((6, 0, 0), (6, 4, h), [(0, 0)])]
    return [SimpleNamespace(parts=[part((0, 0, h), (6, 4, h), [(2, 0)])], color=np.array([200.0, 200, 200])),
            SimpleNamespace(parts=[part((0, 0, 0), (6, 4, 0), [(2, 1)])], color=np.array([100.0, 100, 100])),
            SimpleNamespace(parts=walls, color=np.array([180.0, 180, 170])),
            SimpleNamespace(parts=[part((2.5, 1.5, 0.0), (3.5, 2.5, 1.0), [(0, 0), (0, 1), (1, 0), (1, 1), (2, 1)])],
                            color=np.array([130.0, 90, 60]))]


def test_scan_sees_the_room_and_nothing_hidden():
    rng = np.random.default_rng(0)
    out = scan_room(_room(), np.array([6.0, 4.0, 3.0]), [(2.5, 1.5, 3.5, 2.5)], 60_000, rng, scans=2)
    ceiling, floor, walls, cabinet = out
    assert 40_000 < sum(len(o) for o in out) < 70_000
    assert np.allclose(ceiling[:, 2], 3.0, atol=0.08) and np.allclose(floor[:, 2], 0.0, atol=0.08)
    assert len(cabinet) > 500 and cabinet[:, 2].max() < 1.1
    # occlusion: the floor inside the cabinet's footprint gets no point, the open floor beside it does
    under = np.all((floor[:, :2] > [2.6, 1.6]) & (floor[:, :2] < [3.4, 2.4]), axis=1).sum()
    open_floor = np.all((floor[:, :2] > [0.7, 1.6]) & (floor[:, :2] < [1.5, 2.4]), axis=1).sum()
    assert open_floor > 50 and under == 0
    # colours: in range, and one material shows many colours (lights, exposure, noise)
    assert walls[:, 3:].min() >= 0 and walls[:, 3:].max() <= 255 and walls[:, 3].std() > 8


def test_scanner_positions_avoid_furniture_and_spread_out():
    rng = np.random.default_rng(1)
    pos = scanner_positions(np.array([8.0, 6.0, 3.0]), [(0.0, 0.0, 4.0, 3.0)], 3, rng)
    assert pos.shape == (3, 3)
    assert not np.any((pos[:, 0] < 4.2) & (pos[:, 1] < 3.2))
    assert np.all((pos[:, 2] >= 1.2) & (pos[:, 2] <= 1.7))
    assert min(np.linalg.norm(pos[i, :2] - pos[j, :2]) for i in range(3) for j in range(i)) > 1.0


def test_scan_style_rooms_are_deterministic_and_in_the_s3dis_layout(tmp_path):
    a = synth_s3dis(tmp_path / "a", areas=(1,), rooms_per_area=2, points_per_room=20_000, seed=4, style="scan")
    b = synth_s3dis(tmp_path / "b", areas=(1,), rooms_per_area=2, points_per_room=20_000, seed=4, style="scan")
    assert a["points"] == b["points"] and a["class_points"] == b["class_points"]
    room = tmp_path / "a" / ALIGNED / "Area_1" / "office_1"
    assert (room / "office_1.txt").read_bytes() == (tmp_path / "b" / ALIGNED / "Area_1" / "office_1" /
                                                    "office_1.txt").read_bytes()
    files = sorted(p.name for p in (room / "Annotations").iterdir())
    assert all(p.endswith(".txt") and "_" in p for p in files)
    assert {"ceiling_1.txt", "floor_1.txt", "wall_1.txt", "door_1.txt"} <= set(files)


def test_unknown_style_is_refused(tmp_path):
    with pytest.raises(PcsegError, match="--style"):
        synth_s3dis(tmp_path, style="photo")


def test_scanned_colour_is_a_fused_texture_with_lit_ceilings():
    """Luminaires are white patches of the ceiling, neighbouring points share their colour (a texture, not
    per-point camera noise) while the wall still shows many colours across the room, and surfaces are flat to
    a few mm (a fused reconstruction)."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(2)
    ceiling, _, walls, _ = scan_room(_room(), np.array([6.0, 4.0, 3.0]), [(2.5, 1.5, 3.5, 2.5)], 60_000, rng,
                                     scans=3)
    white = ceiling[:, 3:].min(axis=1) >= 235
    assert 0.01 < white.mean() < 0.5
    lamp_xy = ceiling[white, :2]
    assert np.ptp(lamp_xy, axis=0).max() > 0.5                    # patches, not single points
    tree = cKDTree(walls[:, :3])
    _, nb = tree.query(walls[:, :3], 2)
    step = np.abs(walls[nb[:, 1], 3:] - walls[:, 3:]).mean(axis=1)
    assert np.median(step) < 4.0 and walls[:, 3].std() > 8
    back = walls[(walls[:, 1] > 3.9) & (np.abs(walls[:, 0] - 3) < 2.9)]   # the y = 4 wall: flat to a few mm
    assert np.std(back[:, 1]) < 0.004


def _scene(parts):
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    for p in parts:
        v, t = box_mesh(np.array(p[0], float), np.array(p[1], float), p[2])
        scene.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(t.astype(np.uint32)))
    return scene


def test_lights_hang_under_a_soffit_and_unseen_ones_are_dropped():
    """A light drawn over a soffit hangs on its underside (not on the ceiling, so no luminaire patch); one
    drawn over the closed block that cuts a corner off the room is seen by no scan position and dropped."""
    from pcseg.data.scanner import _mount_lights

    h = 3.0
    scene = _scene([((0, 0, h), (6, 4, h), [(2, 0)]),                          # ceiling
                    ((0, 0, 2.6), (1.5, 4, h), [(2, 0), (0, 1)]),              # soffit along the x = 0 wall
                    ((4.5, 3, 0), (6, 4, h), [(0, 0), (1, 0)])])               # the corner block's two faces
    lights = np.array([[0.7, 2.0, h - 0.05], [3.0, 2.0, h - 0.05], [5.2, 3.5, h - 0.05]])
    half = np.array([[0.3, 0.6], [0.6, 0.3], [0.3, 0.6]])
    origins = np.array([[3.0, 1.5, 1.5], [2.0, 2.5, 1.4]])
    mounted, kept_half, on_ceiling = _mount_lights(scene, lights, half, origins, h)
    assert mounted.shape == (2, 3) and np.allclose(kept_half, half[:2])
    assert mounted[0, 2] == pytest.approx(2.55, abs=0.01) and mounted[1, 2] == pytest.approx(h - 0.05)
    assert on_ceiling.tolist() == [False, True]


def test_a_table_casts_a_shadow_on_the_floor():
    """With cast shadows on, the floor under a tabletop sees no ceiling light and keeps only the ambient
    (bounced) light, so it is clearly darker than the open floor around it (without them the ratios were
    0.81-1.03 on these seeds)."""
    part = lambda lo, hi, faces: SimpleNamespace(lo=np.array(lo, float), hi=np.array(hi, float), faces=faces,
                                                 holes=[])
    room = _room()[:3] + [SimpleNamespace(parts=[part((2.0, 1.4, 0.72), (4.0, 2.6, 0.75),
                                                      [(2, 0), (2, 1), (0, 0), (0, 1), (1, 0), (1, 1)])],
                                          color=np.array([130.0, 90, 60]))]
    dark = []
    for seed in range(3):
        _, floor, _, _ = scan_room(room, np.array([6.0, 4.0, 3.0]), [(2.0, 1.4, 4.0, 2.6)], 80_000,
                                   np.random.default_rng(seed), scans=3, shadows=True)
        xy, grey = floor[:, :2], floor[:, 3:].mean(axis=1)
        under = np.all((xy > [2.4, 1.7]) & (xy < [3.6, 2.3]), axis=1)
        around = np.all((xy > [0.6, 0.6]) & (xy < [5.4, 3.4]), axis=1)
        around &= ~np.all((xy > [1.6, 1.0]) & (xy < [4.4, 3.0]), axis=1)
        assert under.sum() > 30 and around.sum() > 300
        dark.append(np.median(grey[under]) / np.median(grey[around]))
    assert max(dark) < 0.8, dark
