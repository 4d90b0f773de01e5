"""Raw S3DIS reader: ``Stanford3dDataset_v1.2_Aligned_Version/Area_N/<room>/Annotations/<class>_<i>.txt``.

Each annotation file is one object instance, one point per line as ``x y z r g b``; the class is the file-name
prefix before the last ``_<i>`` (PointNet's reference reads the same way: charlesq34/pointnet
`sem_seg/indoor3d_util.py` collect_point_label). The room-level ``<room>.txt`` duplicates the annotations and
is not read.

The released data has a few defects that break naive loaders; this reader repairs them and lists every
repair in ``cloud.meta["repairs"]``:

* a control byte inside a line (a NUL in ``Area_5/hallway_6/Annotations/ceiling_1.txt`` line 180389, a 0x10
  in ``103.0\\x100000`` in Area_5/office_19 of the non-aligned release): the byte is first read as a column
  separator, and if that does not give 6 numbers it is deleted; if neither does, PcsegError names the line;
* a duplicated annotation file ``Area_5/office_36/Annotations/wall_3 (1).txt``: a file whose stem ends in
  `` (N)`` and whose points equal another annotation file's is skipped (if it differs it is kept as an
  instance of its own, with a note);
* CRLF line endings, empty files, blank lines.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from pcseg.classes import S3DIS, S3DIS_ALIASES
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.textparse import parse_table, read_buffer, split_numbers

ALIGNED_DIR = "Stanford3dDataset_v1.2_Aligned_Version"
NCOLS = 6  # x y z r g b

_AREA = re.compile(r"Area_(\d+)")
_COPY_SUFFIX = re.compile(r"^(?P<base>.*?) \((?P<n>\d+)\)$")  # "wall_3 (1)"
_INSTANCE = re.compile(r"^(?P<cls>.+?)_(?P<inst>\d+)$")  # "wall_3"
# control bytes a text line should not hold (tab is whitespace; CR before LF is handled by the parser)
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def _natural_key(name: str) -> list:
    """Sort key that puts office_2 before office_10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _area_dirs(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and _AREA.fullmatch(p.name)]
    except OSError:
        return []


def find_rooms(root: str | os.PathLike) -> list[tuple[str, str, Path]]:
    """All rooms under a raw S3DIS tree, as (area, room, room_dir), sorted by area number then room name.

    ``root`` is the ``Stanford3dDataset_v1.2_Aligned_Version`` folder, a folder containing it, or any folder
    that holds ``Area_N`` folders (directly or one level down). A room is an ``Area_N/<room>`` folder with
    an ``Annotations`` folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise PcsegError(root, "not a folder" if root.exists() else "no such folder")
    areas = _area_dirs(root)
    if not areas and (root / ALIGNED_DIR).is_dir():
        areas = _area_dirs(root / ALIGNED_DIR)
    if not areas:
        children = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name))
        for child in children:
            areas = _area_dirs(child)
            if areas:
                break
    rooms = []
    for area in areas:
        for room in area.iterdir():
            if room.is_dir() and (room / "Annotations").is_dir():
                rooms.append((area.name, room.name, room))
    if not rooms:
        raise PcsegError(root, "no S3DIS rooms found (expected Area_N/<room>/Annotations/*.txt)")
    rooms.sort(key=lambda r: (int(_AREA.fullmatch(r[0]).group(1)), _natural_key(r[1])))
    return rooms


def annotation_class(path: Path) -> str:
    """Class name of an annotation file, e.g. ``wall_3.txt`` or ``wall_3 (1).txt`` -> ``wall``, ``stairs_1``
    -> ``clutter``; PcsegError for a name outside the S3DIS classes."""
    stem = path.stem
    copy = _COPY_SUFFIX.match(stem)
    if copy:
        stem = copy.group("base")
    inst = _INSTANCE.match(stem)
    name = inst.group("cls") if inst else stem
    name = S3DIS_ALIASES.get(name, name)
    if name not in S3DIS.names:
        raise PcsegError(path, f"unknown S3DIS class {name!r} (known: {', '.join(S3DIS.names)}, stairs)")
    return name


def _describe(byte: int) -> str:
    return "NUL byte (0x00)" if byte == 0 else f"control byte 0x{byte:02x}"


def _line_fixer(path: Path, rel: str, repairs: list[str]):
    """The S3DIS repair rule for a line the fast parser rejected (see the module docstring)."""

    def fix(line: bytes, lineno: int, found: int) -> list[float] | None:
        controls = _CONTROL.findall(line)
        if not controls:
            values, count = split_numbers(line)
            if values is not None and count == NCOLS:
                return values  # e.g. exponent notation: exact, nothing to note
            if count != NCOLS:
                raise PcsegError(path, f"line {lineno}: expected {NCOLS} columns, found {count}")
            bad = next(t for t in line.split() if split_numbers(t)[0] is None)
            raise PcsegError(path, f"line {lineno}: not a number: {bad[:40].decode('latin-1')!r}")
        what = ", ".join(sorted({_describe(c[0]) for c in controls}))
        for mode, repaired in (("read as a column separator", _CONTROL.sub(b" ", line)),
                               ("deleted", _CONTROL.sub(b"", line))):
            values, count = split_numbers(repaired)
            if values is not None and count == NCOLS:
                repairs.append(f"{rel}: line {lineno}: {what} {mode}")
                return values
            if values is not None and count == 0:
                repairs.append(f"{rel}: line {lineno}: line of only {what} skipped")
                return None
        raise PcsegError(path, f"line {lineno}: {what} inside the line, and neither reading it as a "
                               f"separator nor deleting it gives {NCOLS} numbers")

    return fix


def read_annotation_file(path: str | os.PathLike, rel: str | None = None,
                         repairs: list[str] | None = None) -> np.ndarray:
    """One annotation file -> (M, 6) float64 ``x y z r g b``, repairing defects into ``repairs``.

    Shapes: -> (M, 6) float64 (M = 0 for an empty file).
    """
    path = Path(path)
    rel = rel if rel is not None else str(path)
    repairs = repairs if repairs is not None else []
    buf = read_buffer(path)
    if len(buf) > 1 and np.any(buf[:-1] == 13):
        crlf = int(np.count_nonzero((buf[:-1] == 13) & (buf[1:] == 10)))
        if crlf:
            repairs.append(f"{rel}: CRLF line endings ({crlf} lines)")
    table = parse_table(buf, NCOLS, _line_fixer(path, rel, repairs))
    if len(table):
        xyz = np.abs(table[:, :3])
        if xyz.max() > np.finfo(np.float32).max:   # exponent notation can exceed what float32 coordinates hold
            bad = np.flatnonzero(np.any(xyz > np.finfo(np.float32).max, axis=1))
            raise PcsegError(path, f"coordinate too large for float32 in data row {bad[0] + 1}")
        rgb = table[:, 3:6]
        if rgb.min() < 0 or rgb.max() > 255:
            bad = np.flatnonzero(np.any((rgb < 0) | (rgb > 255), axis=1))
            raise PcsegError(path, f"colour outside 0..255 in data row {bad[0] + 1}")
    return table


def read_s3dis_room(room_dir: str | os.PathLike) -> Cloud:
    """Read one room from its ``Annotations/`` folder.

    Returns a Cloud with coord (N, 3) float32 in metres as stored, color (N, 3) float32 = rgb / 255, label
    (N,) int64 in ``pcseg.classes.S3DIS`` order, and meta = {"area", "room", "repairs", "source"}. Files are
    read in natural name order, so the point order is reproducible.

    Shapes: -> coord (N, 3), color (N, 3), label (N,).
    """
    room_dir = Path(room_dir)
    ann = room_dir / "Annotations"
    if not ann.is_dir():
        raise PcsegError(room_dir, "no Annotations folder (not an S3DIS room)")
    files = sorted((p for p in ann.iterdir() if p.suffix == ".txt" and p.is_file()
                    and not p.name.startswith(".")), key=lambda p: _natural_key(p.name))
    if not files:
        raise PcsegError(ann, "no annotation .txt files")
    real = room_dir.resolve()
    area, room = real.parent.name, real.name  # repair notes name files as Area_N/<room>/Annotations/<file>
    repairs: list[str] = []
    tables: list[tuple[Path, str, int, np.ndarray]] = []
    for path in files:
        cls = annotation_class(path)  # before parsing: an unknown class fails fast
        rel = f"{area}/{room}/Annotations/{path.name}"
        table = read_annotation_file(path, rel, repairs)
        if len(table) == 0:
            repairs.append(f"{rel}: empty file skipped")
            continue
        # float32 now (coordinates are stored as float32 anyway, colours 0..255 are exact) halves the memory
        tables.append((path, rel, S3DIS.index(cls), table.astype(np.float32)))

    # Copy-named files (" (N)") are compared with the regular files and the copies kept before them.
    kept: list[tuple[str, int, np.ndarray]] = [(rel, label, table) for path, rel, label, table in tables
                                               if not _COPY_SUFFIX.match(path.stem)]
    for path, rel, label, table in tables:
        if not _COPY_SUFFIX.match(path.stem):
            continue
        twin = next((other_rel for other_rel, _, other in kept
                     if other.shape == table.shape and np.array_equal(other, table)), None)
        if twin is not None:
            repairs.append(f"{rel}: duplicate of {Path(twin).name}, skipped")
            continue
        repairs.append(f"{rel}: copy-named file with its own content, read as a separate instance")
        kept.append((rel, label, table))
    if not kept:
        raise PcsegError(ann, "no points in any annotation file")

    total = sum(len(t) for _, _, t in kept)
    coord = np.empty((total, 3), dtype=np.float32)
    color = np.empty((total, 3), dtype=np.float32)
    label = np.empty(total, dtype=np.int64)
    start = 0
    for _, lab, table in kept:
        stop = start + len(table)
        coord[start:stop] = table[:, :3]
        color[start:stop] = table[:, 3:6].astype(np.float64) / 255.0
        label[start:stop] = lab
        start = stop
    return Cloud(coord=coord, color=color, label=label,
                 meta={"area": area, "room": room, "repairs": repairs,
                       "source": str(room_dir)})


__all__ = ["find_rooms", "read_s3dis_room", "read_annotation_file", "annotation_class", "ALIGNED_DIR"]
