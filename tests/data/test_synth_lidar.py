import argparse
import sys

import numpy as np
import pytest

from pcseg.classes import kitti_raw_to_class
from pcseg.data.kitti import find_scans, load_scan
from pcseg.data.synth_lidar import RAW_IDS, cli, synth_lidar


SEED = 0      # a seed whose two streets hold every class


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("lidar")
    summary = synth_lidar(out, sequences=["00", "08"], scans=2, seed=SEED)
    return out, summary


def test_layout_and_formats(synth):
    out, summary = synth
    assert summary["sequences"] == {"00": 2, "08": 2}
    for seq in ("00", "08"):
        folder = out / "sequences" / seq
        assert sorted(p.name for p in (folder / "velodyne").iterdir()) == ["000000.bin", "000001.bin"]
        assert sorted(p.name for p in (folder / "labels").iterdir()) == ["000000.label", "000001.label"]
        assert len((folder / "poses.txt").read_text().split("\n")[0].split()) == 12
        assert len((folder / "times.txt").read_text().split()) == 2
        for frame in ("000000", "000001"):
            size = (folder / "velodyne" / f"{frame}.bin").stat().st_size
            assert size % 16 == 0
            n = size // 16
            assert (folder / "labels" / f"{frame}.label").stat().st_size == 4 * n
            assert 60_000 < n <= 64 * 2048
            pts = np.fromfile(folder / "velodyne" / f"{frame}.bin", np.float32).reshape(-1, 4)
            assert np.isfinite(pts).all()
            r = np.linalg.norm(pts[:, :3], axis=1)
            assert r.max() <= 120.5 and r.min() > 1.0
            assert 0.0 <= pts[:, 3].min() and pts[:, 3].max() <= 1.0
            # the beam pattern's vertical field of view: +2 to -24.8 deg (plus range noise)
            pitch = np.degrees(np.arcsin(pts[:, 2] / r))
            assert pitch.max() < 2.5 and pitch.min() > -25.3
    assert summary["points"] == sum(len(load_scan(r)) for r in find_scans(out, ["00", "08"]))


def test_all_classes_present_and_mapped(synth):
    out, summary = synth
    assert set(summary["class_points"]) == set(RAW_IDS.values())
    labels = np.concatenate([np.fromfile(p, np.uint32) for p in sorted(out.glob("sequences/*/labels/*.label"))])
    assert set(np.unique(labels & 0xFFFF).tolist()) == set(RAW_IDS.values())
    # every raw id maps to a learning class (none falls to ignore)
    assert (kitti_raw_to_class(labels) >= 0).all()
    # things carry instance ids in the upper 16 bits, stuff does not
    inst = labels >> 16
    assert (inst[np.isin(labels & 0xFFFF, [10, 18, 30, 31])] > 0).all()
    assert (inst[np.isin(labels & 0xFFFF, [40, 48, 50])] == 0).all()


def test_remission_depends_on_material(synth):
    out, _ = synth
    pts = np.concatenate([np.fromfile(p, np.float32).reshape(-1, 4)
                          for p in sorted(out.glob("sequences/*/velodyne/*.bin"))])
    raw = np.concatenate([np.fromfile(p, np.uint32) for p in sorted(out.glob("sequences/*/labels/*.label"))]) & 0xFFFF
    sign, road = pts[raw == 81, 3].mean(), pts[raw == 40, 3].mean()
    assert sign > 0.5 > 0.25 > road


def test_deterministic_by_seed(synth, tmp_path):
    out, _ = synth
    again = tmp_path / "again"
    synth_lidar(again, sequences=["08"], scans=1, seed=SEED)  # scan 0 does not depend on the scan count
    for rel in ("velodyne/000000.bin", "labels/000000.label"):
        assert (again / "sequences/08" / rel).read_bytes() == (out / "sequences/08" / rel).read_bytes()
    other = tmp_path / "other"
    synth_lidar(other, sequences=["08"], scans=1, seed=SEED + 1)
    scan = "sequences/08/velodyne/000000.bin"
    assert (other / scan).read_bytes() != (out / scan).read_bytes()


def test_cli(tmp_path, capsys):
    args = argparse.Namespace(out=str(tmp_path / "o"), scans=1, sequences=["3"], seed=0)
    assert cli(args) == 0
    assert (tmp_path / "o/sequences/03/velodyne/000000.bin").is_file()
    assert "wrote 1 scans" in capsys.readouterr().out


def test_beam_elevations_are_the_hdl64e_blocks():
    from pcseg.data.synth_lidar import beam_directions, beam_elevations

    e = beam_elevations(64)
    assert e[0] == pytest.approx(2.0) and e[31] == pytest.approx(2.0 - 31 / 3)
    assert e[32] == pytest.approx(-8.83) and e[-1] == pytest.approx(-24.33)
    steps = -np.diff(e)
    assert np.allclose(steps[:31], 1 / 3) and np.allclose(steps[32:], 0.5)      # not evenly spaced
    d = beam_directions(64, 8).reshape(64, 8, 3)
    assert np.allclose(np.degrees(np.arcsin(d[:, 0, 2])), e, atol=1e-4)


def test_heightfield_is_uneven_ground_around_its_height():
    from pcseg.data.synth_lidar import heightfield

    v, f = heightfield(0.0, 10.0, -2.0, 2.0, 0.5, 0.3, np.random.default_rng(0), bumps=0.05, grain=0.02)
    assert v.shape == (21 * 9, 3) and f.shape == (2 * 20 * 8, 3) and f.max() == len(v) - 1
    assert v[:, 0].min() == 0.0 and v[:, 0].max() == 10.0 and v[:, 1].min() == -2.0 and v[:, 1].max() == 2.0
    assert np.abs(v[:, 2] - 0.3).max() < 3 * 0.05 + 5 * 0.02       # three waves plus grain
    assert v[:, 2].std() > 0.01                                    # not a plane


def _behind_face(cls: str, depth: float | None = None, drop: float = 0.0) -> np.ndarray:
    """How far behind its front face (x = 10 m, straight ahead) a box of class ``cls`` returns the beams
    that hit it near +x."""
    from pcseg.data.synth_lidar import RAW_IDS, Street, StreetScanner, box

    street = Street()
    street.add(box((12.0, 0.0, 1.73), (4.0, 6.0, 3.0)), cls, np.random.default_rng(0), depth=depth, drop=drop)
    pts, labels = StreetScanner(street, rows=64, cols=512).scan((0.0, 0.0, 1.73), np.random.default_rng(1))
    front = (labels == RAW_IDS[cls]) & (np.abs(pts[:, 1]) < 2.0) & (np.abs(pts[:, 2]) < 1.0)
    return pts[front, 0] - 10.0


@pytest.mark.parametrize("cls", ["building", "vegetation"])
def test_foliage_returns_from_inside_the_crown(cls):
    """A beam that hits a solid face returns from it; one that hits foliage returns from a leaf inside."""
    from pcseg.data.synth_lidar import FOLIAGE_MAX_DEPTH

    depth = _behind_face(cls)
    assert len(depth) > 50
    if cls == "building":
        assert np.abs(depth).max() < 0.15
    else:
        assert 0.15 < np.median(depth) < 0.4 and depth.max() <= FOLIAGE_MAX_DEPTH + 0.2


def test_surfaces_return_from_their_own_depth_and_glass_loses_returns():
    """Grass and a clipped hedge return from a little inside (less than a crown), a solid face from its
    surface; a car window loses part of its returns and the rest come from behind the glass."""
    from pcseg.data.synth_lidar import GLASS_DROP, GRASS_DEPTH

    behind = _behind_face
    solid, grass, hedge, crown = behind("fence"), behind("terrain"), behind("vegetation", 0.08), behind("vegetation")
    assert np.median(np.abs(solid)) < 0.02
    assert 0.5 * GRASS_DEPTH < np.median(grass) < 2 * GRASS_DEPTH
    assert np.median(solid) < np.median(grass) < np.median(hedge) < np.median(crown)
    glass = behind("car", depth=0.4, drop=GLASS_DROP)
    assert abs(len(glass) / len(solid) - (1 - GLASS_DROP)) < 0.1 and np.median(glass) > 0.2


def test_spans_leave_out_the_side_streets():
    from pcseg.data.synth_lidar import _spans

    assert _spans(0.0, 10.0, []) == [(0.0, 10.0)]
    assert _spans(0.0, 10.0, [(6.0, 8.0), (2.0, 3.0)]) == [(0.0, 2.0), (3.0, 6.0), (8.0, 10.0)]
    assert _spans(0.0, 10.0, [(-5.0, 1.0), (9.0, 15.0)]) == [(1.0, 9.0)]
    assert _spans(0.0, 10.0, [(-1.0, 11.0)]) == []


def test_a_side_street_is_road_running_across_the_view():
    """Standing in a junction, the scan holds road far to the side of the main street with sidewalks either
    side of it: the main street's sidewalk, buildings and terrain do not run across the side street."""
    from pcseg.data.synth_lidar import SENSOR_HEIGHT, Junction, StreetScanner, build_street

    for seq in range(40):                     # the first street with a side street to the right
        rng = np.random.default_rng([0, seq])
        street = build_street(rng, -110.0, 110.0, (0.0, 5.0))
        if any(j.side == -1.0 and abs(j.x) < 20 for j in street.junctions):
            break
    else:
        pytest.fail("no side street near the drive in 40 streets")
    j = next(j for j in street.junctions if j.side == -1.0 and abs(j.x) < 20)
    assert isinstance(j, Junction)
    pts, labels = StreetScanner(street, rows=64, cols=1024).scan((j.x, street.sensor_y, SENSOR_HEIGHT),
                                                                np.random.default_rng(0))
    raw = labels & 0xFFFF
    y = pts[:, 1] + street.sensor_y                     # the scan stands at the junction's centre line
    ground = pts[:, 2] < -SENSOR_HEIGHT + 0.3
    inside = (np.abs(pts[:, 0]) < j.half - 0.5) & (y < -street.road_half - 6) & (y > -street.road_half - 25)
    assert (inside & ground).sum() > 100
    assert (raw[inside & ground] == 40).mean() > 0.8     # road, not sidewalk, terrain or building
    walk = (np.abs(np.abs(pts[:, 0]) - j.half - j.walk / 2) < j.walk / 2 - 0.3) & ground & \
        (y < -street.road_half - 8) & (y > -street.road_half - 20)
    assert (raw[walk] == 48).mean() > 0.5                # the side street's sidewalks, either side of it


def test_shrub_clumps_stand_at_the_kerb_where_cars_park(monkeypatch):
    """Streets put garden shrubs at the kerb too (junction corners, grass strips), not only parked cars."""
    import pcseg.data.synth_lidar as sl

    st = sl.Street()
    sl._shrub(st, np.random.default_rng(0), 10.0, 5.0, 0.1, 4.0, 2.0)
    v = np.concatenate([p.vertices for p in st.parts])
    assert all(p.cls == "vegetation" and p.depth > 0 for p in st.parts) and 2 <= len(st.parts) <= 4
    assert 8.0 - 1.5 < v[:, 0].min() and v[:, 0].max() < 12.0 + 1.5          # blob centres span 8-12 m
    assert v[:, 2].min() < 0.3 and 0.9 * 0.75 < v[:, 2].max() < 2.4 * 1.3   # from the ground, man-high

    calls = []
    real = sl._shrub

    def spy(street, rng, x, y, *args):
        calls.append((sys._getframe(1).f_code.co_name, x, y))      # who placed it: a side street or the main
        return real(street, rng, x, y, *args)

    monkeypatch.setattr(sl, "_shrub", spy)
    corner = strip = 0
    for seq in range(20):
        calls.clear()
        street = sl.build_street(np.random.default_rng([0, seq]), -110.0, 110.0, (0.0, 5.0))
        for caller, x, y in calls:
            if caller == "_side_street":                    # on a corner plot, beyond both sidewalks
                j = min(street.junctions, key=lambda j: abs(j.x - x))
                corner += abs(x - j.x) > j.half + j.walk and abs(y) > street.road_half + 2.0
            else:                                           # on the grass strip, right at the kerb
                strip += abs(y) < street.road_half + 2.5 + 3.0
    assert corner >= 3 and strip >= 10
