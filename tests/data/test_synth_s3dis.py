"""Synthetic rooms in the raw S3DIS layout."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import S3DIS
from pcseg.cli import main
from pcseg.data.synth_s3dis import ALIGNED, synth_s3dis
from pcseg.io.s3dis import find_rooms, read_s3dis_room

LINE = re.compile(rb"^-?\d+\.\d{3} -?\d+\.\d{3} -?\d+\.\d{3} (\d{1,3}) (\d{1,3}) (\d{1,3})$")


@pytest.fixture(scope="module")
def default_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synth_s3dis(out)                     # the default set (areas 1 and 5, 3 rooms each, ~100k points a room)
    return out


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path):
    synth_s3dis(tmp_path / "a", areas=[2], rooms_per_area=2, points_per_room=4000, seed=7)
    synth_s3dis(tmp_path / "b", areas=[2], rooms_per_area=2, points_per_room=4000, seed=7)
    synth_s3dis(tmp_path / "c", areas=[2], rooms_per_area=2, points_per_room=4000, seed=8)
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    assert a.keys() != c.keys() or a != c
    # a room does not depend on how many rooms are written after it
    synth_s3dis(tmp_path / "d", areas=[2], rooms_per_area=1, points_per_room=4000, seed=7)
    d = files(tmp_path / "d")
    assert all(a[k] == v for k, v in d.items())


def test_layout_and_line_format(default_set):
    root = default_set / ALIGNED
    assert sorted(p.name for p in root.iterdir()) == ["Area_1", "Area_5"]
    assert sorted(p.name for p in (root / "Area_1").iterdir()) == ["conferenceRoom_1", "hallway_1", "office_1"]
    assert not [p for p in default_set.rglob(".*")]          # no temp folders left
    room = root / "Area_1" / "office_1"
    annotations = sorted((room / "Annotations").iterdir())
    names = [p.stem for p in annotations]
    assert all(re.fullmatch(r"[a-z]+_\d+", n) and n.rsplit("_", 1)[0] in S3DIS.names for n in names)
    assert {"wall_1", "wall_2", "wall_3", "wall_4", "ceiling_1", "floor_1"} <= set(names)
    whole = (room / "office_1.txt").read_bytes()
    # the room file is all annotation files concatenated
    assert sorted(whole.splitlines()) == sorted(l for p in annotations for l in p.read_bytes().splitlines())
    lines = whole.splitlines()
    assert whole.endswith(b"\n")
    for line in lines[::97]:
        m = LINE.match(line)
        assert m, line
        assert all(0 <= int(v) <= 255 for v in m.groups())


def test_default_set_has_all_classes_and_sizes(default_set):
    rooms = find_rooms(default_set)
    assert [(a, r) for a, r, _ in rooms][:3] == [("Area_1", "conferenceRoom_1"), ("Area_1", "hallway_1"),
                                                ("Area_1", "office_1")]
    counts = np.zeros(S3DIS.num_classes, dtype=np.int64)
    colors, labels = [], []
    for _, _, room_dir in rooms:
        cloud = read_s3dis_room(room_dir)
        assert cloud.meta["repairs"] == []
        assert 40_000 <= len(cloud) <= 160_000
        counts += np.bincount(cloud.label, minlength=S3DIS.num_classes)
        colors.append(cloud.color)
        labels.append(cloud.label)
        # rooms are boxes: the floor is flat at the bottom, the ceiling flat at the top
        z = cloud.coord[:, 2]
        floor, ceiling = z[cloud.label == S3DIS.index("floor")], z[cloud.label == S3DIS.index("ceiling")]
        assert floor.std() < 0.01 and ceiling.std() < 0.01 and 2.5 < ceiling.mean() - floor.mean() < 3.3
    assert (counts > 0).all(), dict(zip(S3DIS.names, counts))
    # colour alone does not separate the classes: a nearest-class-mean colour rule is wrong most of the time
    x, y = np.concatenate(colors), np.concatenate(labels)
    means = np.stack([x[y == k].mean(0) for k in range(S3DIS.num_classes)])
    pred = np.argmin(((x[::7, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == y[::7]).mean() < 0.6


def test_points_option_scales(tmp_path):
    small = synth_s3dis(tmp_path / "s", areas=[3], rooms_per_area=1, points_per_room=5000)
    large = synth_s3dis(tmp_path / "l", areas=[3], rooms_per_area=1, points_per_room=20000)
    assert 3.5 < large["points"] / small["points"] < 4.5
    assert sum(small["class_points"].values()) == small["points"]


def test_cli(tmp_path, capsys):
    assert main(["synth", "s3dis", str(tmp_path), "--areas", "4", "--rooms", "1", "--points", "3000"]) == 0
    assert (tmp_path / ALIGNED / "Area_4" / "office_1" / "office_1.txt").is_file()
    assert "1 rooms" in capsys.readouterr().out
    assert main(["synth", "s3dis", str(tmp_path), "--rooms", "0"]) == 2
    (tmp_path / "file").write_text("x")
    assert main(["synth", "s3dis", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "file" in err[1]


def test_scanned_rooms_hang_clutter_flat_on_the_walls_and_off_them():
    """Scanned rooms carry wall clutter of both kinds S3DIS labels clutter: flat things (posters, notice
    boards; under 2 cm off the wall) and things that stand off it (boxes, extinguishers; up to 20 cm)."""
    from pcseg.data.synth_s3dis import _Box, _Room

    flat = standing = 0
    for seed in range(30):
        room = _Room(np.random.default_rng(seed), "office", scan=True)
        w, l, h = room.size
        for _ in range(6):
            room.add_clutter_hung()
        for inst in room.instances:
            for part in inst.parts:
                if inst.cls != "clutter" or not isinstance(part, _Box) or part.lo[2] < 0.5 or part.hi[2] > h - 0.01:
                    continue
                # distance of the face farthest from its wall: x or y against 0 or the room's size
                gaps = [part.hi[0], w - part.lo[0], part.hi[1], l - part.lo[1]]
                off = min(gaps)
                if off < 0.02:
                    flat += 1
                    assert (part.hi - part.lo).max() >= 0.2        # a board or poster, not a speck
                elif off <= 0.2:
                    standing += 1
    assert flat >= 10 and standing >= 10


def test_scanned_rooms_lower_part_of_their_ceiling():
    """A soffit is ceiling: a bulkhead along one wall (underside + the face into the room) or a band across
    the room, 0.15-0.6 m below the ceiling and clear of bookcases and doors (underside at 2.25 m or more)."""
    from pcseg.data.synth_s3dis import _Room

    kinds = set()
    for seed in range(40):
        room = _Room(np.random.default_rng(seed), "office", scan=True)
        w, l, h = room.size
        room.add_soffit()
        part = room.instances[-1].parts[0]
        assert room.instances[-1].cls == "ceiling"
        drop = h - part.lo[2]
        assert 0.15 - 1e-9 <= drop <= 0.6 + 1e-9 and part.lo[2] >= 2.25 - 1e-9 and part.hi[2] == h
        assert (2, 0) in part.faces and (2, 1) not in part.faces          # seen from below, not from above
        inside = part.lo[:2] >= -1e-9
        assert inside.all() and (part.hi[:2] <= np.array([w, l]) + 1e-9).all()
        kinds.add(len(part.faces))                                      # 2: along a wall, 3: across
    assert kinds == {2, 3}


def test_scanned_rooms_leave_some_doors_open():
    """An open door has no leaf in the wall plane: its frame runs back through the wall (10-20 cm), and its
    leaf stands square to the wall at the hinge, inside the floor kept free in front of the door, or is out
    of sight. A closed door keeps its leaf 2-8 cm behind the wall plane. Whether a door is open has its own
    generator, so the rest of the room is drawn as it would be if no door could stand open."""
    from pcseg.data import synth_s3dis as S

    shapes = {"closed": 0, "open, leaf out of sight": 0, "open, leaf in the room": 0}
    for seed in range(30):
        room = S._Room(np.random.default_rng(seed), "office", scan=True)
        room.add_opening("door")
        parts = room.instances[-1].parts
        wall = next(w for w in range(4) if room.wall_holes[w])
        o, _, n, _ = room.wall_frame(wall)

        def depth(part):   # (nearest, farthest) offset from the wall plane into the room
            ends = [float(np.dot(c[:2] - o, n[:2])) for c in (part.lo, part.hi)]
            return min(ends), max(ends)

        back = -min(depth(q)[0] for q in parts)
        reach = max(depth(q)[1] for q in parts)
        if len(parts) == 4 and reach < 0.03:   # leaf + three frame members, none reaching into the room
            shapes["closed"] += 1
            assert 0.02 - 1e-9 <= back <= 0.11 + 1e-9
            continue
        assert 0.1 - 1e-9 <= back <= 0.2 + 1e-9
        if len(parts) == 3:
            shapes["open, leaf out of sight"] += 1
            continue
        shapes["open, leaf in the room"] += 1
        leaf = parts[0]
        assert 0.85 - 1e-9 <= depth(leaf)[1] <= 1.0 + 1e-9 and depth(leaf)[0] == pytest.approx(0)
        assert sorted(leaf.hi[:2] - leaf.lo[:2])[0] == pytest.approx(0.04)      # square to the wall
        x0, y0, x1, y1 = room.footprints[-1]
        assert x0 - 1e-9 <= leaf.lo[0] and leaf.hi[0] <= x1 + 1e-9         # inside the floor kept free
        assert y0 - 1e-9 <= leaf.lo[1] and leaf.hi[1] <= y1 + 1e-9
    assert all(count >= 3 for count in shapes.values()), shapes

    rooms = [S._Room(np.random.default_rng(7), "office", scan=True) for _ in range(2)]
    rooms[1].door_rng = np.random.default_rng(12345)
    built = [[(i.cls, [tuple(np.round(p.lo, 6)) for p in i.parts if hasattr(p, "lo")])
              for i in r.build() if i.cls != "door"] for r in rooms]
    assert built[0] == built[1]


def test_scanned_rooms_run_services_along_the_top_of_a_wall(monkeypatch):
    """A run (cable tray, trunking, duct) is one clutter box along 60 % to all of a wall, its top 0.03-0.45 m
    under the ceiling, 0.06-0.35 m high and 2-35 cm off the wall; some rooms get one, hallways sometimes one on
    each long wall. It has its own generator: the room is otherwise drawn exactly as it is without it."""
    from pcseg.data import synth_s3dis as S

    rooms_with = both = 0
    for seed in range(40):
        kind = "hallway" if seed % 2 else "office"
        room = S._Room(np.random.default_rng(seed), kind, scan=True)
        before = len(room.instances)
        room.add_wall_run()
        runs = room.instances[before:]
        rooms_with += bool(runs)
        both += len(runs) == 2
        w, l, h = room.size
        for run in runs:
            assert run.cls == "clutter" and len(run.parts) == 1
            lo, hi = run.parts[0].lo, run.parts[0].hi
            assert 0.03 - 1e-9 <= h - hi[2] <= 0.45 + 1e-9 and 0.06 - 1e-9 <= hi[2] - lo[2] <= 0.35 + 1e-9
            along, off = sorted(hi[:2] - lo[:2])[::-1]
            assert 0.02 - 1e-9 <= off <= 0.35 + 1e-9
            wall_length = w if hi[0] - lo[0] == along else l
            assert 0.6 * wall_length - 1e-9 <= along <= wall_length + 1e-9
            # against a wall: one of its faces lies in a wall plane
            assert min(lo[0], lo[1], w - hi[0], l - hi[1]) == pytest.approx(0, abs=1e-9)
    assert 6 <= rooms_with <= 25 and both >= 1

    def layout(share):
        monkeypatch.setattr(S, "WALL_RUN_SHARE", share)
        room = S._Room(np.random.default_rng(3), "hallway", scan=True)
        return [(i.cls, [tuple(np.round(p.lo, 6)) for p in i.parts if hasattr(p, "lo")]) for i in room.build()]

    with_runs, without = layout(1.0), layout(0.0)
    assert len(with_runs) > len(without) and with_runs[:len(without)] == without
