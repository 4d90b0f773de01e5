"""Raw S3DIS reader: the real sample room and a synthetic room per known dataset defect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import S3DIS
from pcseg.errors import PcsegError
from pcseg.io.s3dis import ALIGNED_DIR, annotation_class, find_rooms, read_s3dis_room

REAL_ROOM = f"s3dis-kpconv-fixtures/{ALIGNED_DIR}/Area_3/hallway_3"


def _lines(rng: np.random.Generator, n: int, offset: float = 0.0) -> bytes:
    xyz = rng.uniform(-5, 5, (n, 3)) + offset
    rgb = rng.integers(0, 256, (n, 3))
    return "".join(f"{x:.3f} {y:.3f} {z:.3f} {r} {g} {b}\n" for (x, y, z), (r, g, b) in zip(xyz, rgb)).encode()


def _room(root: Path, files: dict[str, bytes], area: str = "Area_5", room: str = "office_1") -> Path:
    ann = root / ALIGNED_DIR / area / room / "Annotations"
    ann.mkdir(parents=True)
    for name, data in files.items():
        (ann / name).write_bytes(data)
    return ann.parent


def test_real_room_counts(realdata: Path) -> None:
    cloud = read_s3dis_room(realdata / REAL_ROOM)
    assert len(cloud) == 175_075
    names, counts = np.unique(cloud.label, return_counts=True)
    got = {S3DIS.names[k]: int(c) for k, c in zip(names, counts)}
    assert got == {"ceiling": 34_283, "clutter": 13_567, "door": 35_890, "floor": 33_948, "wall": 57_387}
    assert cloud.coord.dtype == np.float32 and cloud.color.dtype == np.float32 and cloud.label.dtype == np.int64
    assert cloud.color.min() >= 0 and cloud.color.max() <= 1
    assert cloud.meta["area"] == "Area_3" and cloud.meta["room"] == "hallway_3"
    assert cloud.meta["repairs"] == []
    # first line of the first file in natural order (ceiling_1.txt): "-0.870 -0.039 2.674 221 211 175"
    np.testing.assert_allclose(cloud.coord[0], [-0.870, -0.039, 2.674], rtol=0, atol=1e-6)
    np.testing.assert_allclose(cloud.color[0] * 255, [221, 211, 175], atol=1e-4)


def test_real_room_matches_loadtxt(realdata: Path) -> None:
    ann = realdata / REAL_ROOM / "Annotations"
    cloud = read_s3dis_room(ann.parent)
    files = sorted(ann.glob("*.txt"), key=lambda p: (p.stem.rsplit("_", 1)[0], int(p.stem.rsplit("_", 1)[1])))
    ref = np.concatenate([np.loadtxt(p) for p in files])
    np.testing.assert_array_equal(cloud.coord, ref[:, :3].astype(np.float32))
    np.testing.assert_array_equal(cloud.color, (ref[:, 3:] / 255).astype(np.float32))


def test_find_rooms_accepts_each_root_form(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for area, room in (("Area_2", "office_10"), ("Area_2", "office_2"), ("Area_10", "WC_1"), ("Area_1", "hallway_1")):
        _room(tmp_path, {"wall_1.txt": _lines(rng, 3)}, area, room)
    (tmp_path / ALIGNED_DIR / "Area_1" / "not_a_room").mkdir()  # no Annotations: ignored
    want = [("Area_1", "hallway_1"), ("Area_2", "office_2"), ("Area_2", "office_10"), ("Area_10", "WC_1")]
    for root in (tmp_path, tmp_path / ALIGNED_DIR):
        assert [(a, r) for a, r, _ in find_rooms(root)] == want
    # any folder holding the Area_N folders one level down
    other = tmp_path / "elsewhere"
    other.mkdir()
    (tmp_path / ALIGNED_DIR).rename(other / "renamed")
    assert [(a, r) for a, r, _ in find_rooms(other)] == want
    assert all(d.name == r for _, r, d in find_rooms(other))


def test_find_rooms_errors(tmp_path: Path) -> None:
    with pytest.raises(PcsegError, match="no S3DIS rooms"):
        find_rooms(tmp_path)
    with pytest.raises(PcsegError, match="no such folder"):
        find_rooms(tmp_path / "missing")


def test_classes_and_stairs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    room = _room(tmp_path, {"stairs_1.txt": _lines(rng, 4), "chair_12.txt": _lines(rng, 5),
                            "chair_2.txt": _lines(rng, 6), "board_1.txt": _lines(rng, 2)})
    cloud = read_s3dis_room(room)
    # natural order: board_1, chair_2, chair_12, stairs_1
    want = [S3DIS.index("board")] * 2 + [S3DIS.index("chair")] * 11 + [S3DIS.index("clutter")] * 4
    assert cloud.label.tolist() == want
    assert annotation_class(Path("wall_3 (1).txt")) == "wall"


def test_unknown_class_names_file(tmp_path: Path) -> None:
    room = _room(tmp_path, {"wall_1.txt": b"1 2 3 4 5 6\n", "lamp_1.txt": b"1 2 3 4 5 6\n"})
    with pytest.raises(PcsegError, match=r"lamp_1\.txt.*unknown S3DIS class 'lamp'"):
        read_s3dis_room(room)


def test_nul_glued_numbers_read_as_separator(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    good = _lines(rng, 10)
    lines = good.splitlines(keepends=True)
    lines[6] = b"1.500 2.250\x003.125 10 20 30\n"  # NUL glued two numbers: 5 columns
    room = _room(tmp_path, {"ceiling_1.txt": b"".join(lines)}, "Area_5", "hallway_6")
    cloud = read_s3dis_room(room)
    assert len(cloud) == 10
    np.testing.assert_allclose(cloud.coord[6], [1.5, 2.25, 3.125])
    np.testing.assert_allclose(cloud.color[6] * 255, [10, 20, 30], atol=1e-4)
    assert cloud.meta["repairs"] == [
        "Area_5/hallway_6/Annotations/ceiling_1.txt: line 7: NUL byte (0x00) read as a column separator"]


def test_control_byte_inside_number_deleted(tmp_path: Path) -> None:
    # the 0x10 in "103.0\x100000" (Area_5/office_19 of the non-aligned release): separator gives 7 columns
    data = b"1 2 3 4 5 6\n103.0\x100000 2 3 40 50 60\n7 8 9 1 1 1\n"
    room = _room(tmp_path, {"wall_1.txt": data})
    cloud = read_s3dis_room(room)
    np.testing.assert_allclose(cloud.coord[:, 0], [1, 103.0, 7])
    assert cloud.meta["repairs"] == ["Area_5/office_1/Annotations/wall_1.txt: line 2: control byte 0x10 deleted"]


def test_unrepairable_control_byte_names_file_and_line(tmp_path: Path) -> None:
    room = _room(tmp_path, {"wall_1.txt": b"1 2 3 4 5 6\n1 2\x01 3 4 5\n"})
    with pytest.raises(PcsegError, match=r"wall_1\.txt: line 2: control byte 0x01"):
        read_s3dis_room(room)


def test_crlf_blank_lines_and_empty_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lf = _lines(rng, 20)
    room = _room(tmp_path, {"floor_1.txt": lf.replace(b"\n", b"\r\n") + b"\r\n\r\n",
                            "wall_1.txt": lf + b"\n\n  \n", "door_1.txt": b""})
    cloud = read_s3dis_room(room)
    assert len(cloud) == 40
    np.testing.assert_array_equal(cloud.coord[:20], cloud.coord[20:])  # CRLF parses like LF
    assert cloud.meta["repairs"] == ["Area_5/office_1/Annotations/door_1.txt: empty file skipped",
                                     "Area_5/office_1/Annotations/floor_1.txt: CRLF line endings (22 lines)"]


def test_duplicate_copy_file_skipped(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    wall = _lines(rng, 8)
    room = _room(tmp_path, {"wall_3.txt": wall, "wall_3 (1).txt": wall, "floor_1.txt": _lines(rng, 5)},
                 "Area_5", "office_36")
    cloud = read_s3dis_room(room)
    assert len(cloud) == 13
    assert cloud.meta["repairs"] == [
        "Area_5/office_36/Annotations/wall_3 (1).txt: duplicate of wall_3.txt, skipped"]


def test_copy_file_with_own_content_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    room = _room(tmp_path, {"wall_3.txt": _lines(rng, 8), "wall_3 (1).txt": _lines(rng, 4)})
    cloud = read_s3dis_room(room)
    assert len(cloud) == 12 and set(cloud.label.tolist()) == {S3DIS.index("wall")}
    assert "separate instance" in cloud.meta["repairs"][0]


@pytest.mark.parametrize("line, problem", [
    (b"1 2 3 4 5\n", "line 2: expected 6 columns, found 5"),
    (b"1 2 3 4 5 6 7\n", "line 2: expected 6 columns, found 7"),
    (b"1 2 x 4 5 6\n", "line 2: not a number: 'x'"),
    (b"1 2 nan 4 5 6\n", "line 2: not a number: 'nan'"),
    (b"1 2 3 4 5 300\n", "colour outside 0..255 in data row 2"),
])
def test_bad_lines_name_file_and_line(tmp_path: Path, line: bytes, problem: str) -> None:
    room = _room(tmp_path, {"wall_1.txt": b"1 2 3 4 5 6\n" + line + b"1 2 3 4 5 6\n"})
    with pytest.raises(PcsegError) as info:
        read_s3dis_room(room)
    assert str(info.value) == f"{room / 'Annotations' / 'wall_1.txt'}: {problem}"


def test_exponent_notation_takes_slow_path(tmp_path: Path) -> None:
    room = _room(tmp_path, {"wall_1.txt": b"1e-3 2 3 4 5 6\n1 2 3 4 5 6\n"})
    cloud = read_s3dis_room(room)
    assert cloud.coord[0, 0] == np.float32(1e-3) and cloud.meta["repairs"] == []


def test_missing_annotations(tmp_path: Path) -> None:
    (tmp_path / "Area_1" / "office_1").mkdir(parents=True)
    with pytest.raises(PcsegError, match="no Annotations folder"):
        read_s3dis_room(tmp_path / "Area_1" / "office_1")


def test_whitespace_control_bytes_are_reported(tmp_path: Path) -> None:
    # \x0b and \x0c are whitespace to bytes.split(), but still defects worth a note
    room = _room(tmp_path, {"wall_1.txt": b"1 2 3 4 5 6\n1 2\x0b3 4 5 6\n"})
    cloud = read_s3dis_room(room)
    assert len(cloud) == 2
    assert cloud.meta["repairs"] == [
        "Area_5/office_1/Annotations/wall_1.txt: line 2: control byte 0x0b read as a column separator"]


def test_relative_room_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    room = _room(tmp_path, {"wall_1.txt": b"1 2 3 4 5 6\r\n"}, "Area_2", "WC_1")
    monkeypatch.chdir(room)
    cloud = read_s3dis_room(".")
    assert (cloud.meta["area"], cloud.meta["room"]) == ("Area_2", "WC_1")
    assert cloud.meta["repairs"] == ["Area_2/WC_1/Annotations/wall_1.txt: CRLF line endings (1 lines)"]
