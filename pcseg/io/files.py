"""Generic point-cloud files: PLY, PCD, LAS/LAZ, NPY, KITTI ``.bin`` (+ ``.label``), and the writers.

``read_cloud(path, labels=None)`` picks the reader from the extension; each reader is also public. All of
them return a :class:`~pcseg.io.cloud.Cloud` and raise :class:`~pcseg.errors.PcsegError` naming the file for
missing, empty, truncated or malformed input.

Conventions shared by the readers:

* Points with a NaN or infinite coordinate are dropped and counted in ``meta["dropped_nan"]``, except when
  labels come from a separate file: dropping would misalign them, so that is an error.
* Coordinates that do not fit float32 precisely (any |x|, |y| or |z| above 100 km, typical of georeferenced
  LAS) are stored relative to ``meta["origin"]`` (float64, the floor of the minimum corner), so that
  ``coord + origin`` gives the file's coordinates; float32 would otherwise round them to centimetres or worse.
* Colours become float32 in [0, 1]: 8-bit values / 255, 16-bit values / 65535; float colours are taken as
  [0, 1] unless they exceed 1 (then / 255).
* ``meta["source"]`` is the path read; ``meta["fields"]`` holds per-point scalar fields the Cloud has no
  slot for (e.g. PLY ``curvature``), already filtered like the points.

NPY column convention for plain (N, C) float arrays (a structured array uses field names like PLY):

====  =====================================================================================
C     columns
====  =====================================================================================
3     x y z
4     x y z intensity
5     x y z intensity label                 (SemanticKITTI-style scan with labels)
6     x y z r g b
7     x y z r g b label                     (PointNet's ``stanford_indoor3d/*.npy``, charlesq34/pointnet
                                            `sem_seg/indoor3d_util.py` collect_point_label)
====  =====================================================================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from pcseg.classes import SEMANTICKITTI, ClassSet, kitti_class_to_raw, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.utils import atomic_path

FLOAT32_SAFE = 1.0e5  # metres; float32 keeps ~1 cm below this magnitude (2**17 m has an ulp of 1/64 m)

_INTENSITY = {"intensity", "scalar_intensity", "remission", "reflectance", "scalar_reflectance"}
_LABEL = {"label", "class", "scalar_label", "semantic_label", "sem_label", "scalar_class"}
_COLOR = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))
_NORMAL = (("nx", "ny", "nz"), ("normal_x", "normal_y", "normal_z"))


# --------------------------------------------------------------------------------------------------- helpers


def _check_file(path: Path) -> None:
    if not path.exists():
        raise PcsegError(path, "no such file")
    if not path.is_file():
        raise PcsegError(path, "not a file")
    if path.stat().st_size == 0:
        raise PcsegError(path, "empty file")


def _color_max(path: Path, rgb: np.ndarray) -> float:
    """The largest colour value; non-finite float colours are an error. Shapes: rgb (N, 3), N > 0."""
    if not np.issubdtype(rgb.dtype, np.integer) and not np.all(np.isfinite(rgb)):
        raise PcsegError(path, "non-finite colour values")
    return float(rgb.max())


def _color_divisor(dtype: np.dtype, top: float) -> float:
    """What colours of ``dtype`` whose largest value is ``top`` are divided by (see the module docstring):
    integers by 255 or 65535; floats by 1 unless they exceed 1 (then by 255, or 65535 above 255)."""
    if np.issubdtype(dtype, np.integer):
        return 65535.0 if top > 255 else 255.0
    return (65535.0 if top > 255 else 255.0) if top > 1.0 else 1.0


def _scale_color(path: Path, rgb: np.ndarray, divisor: float | None = None) -> np.ndarray:
    """Integer or float colour channels -> float32 in [0, 1] (see the module docstring). ``divisor``
    overrides the one :func:`_color_divisor` picks from ``rgb`` itself, for a cloud read in chunks whose
    colours were already checked when it was opened (pcseg.io.stream), so they are not checked again.

    Shapes: rgb (N, 3) -> (N, 3) float32.
    """
    rgb = np.asarray(rgb)
    if rgb.size == 0:
        return rgb.astype(np.float32)
    if divisor is None:
        divisor = _color_divisor(rgb.dtype, _color_max(path, rgb))
    return np.clip(rgb.astype(np.float64) / divisor, 0.0, 1.0).astype(np.float32)


def _check_labels(path: Path, values: np.ndarray) -> None:
    """Float label values must be integers. Shapes: values (N,)."""
    if np.issubdtype(values.dtype, np.floating):
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) \
                or np.any(np.abs(values) > 2**53):
            raise PcsegError(path, "label values are not integers")


def _as_labels(path: Path, values: np.ndarray) -> np.ndarray:
    """Shapes: values (N,) -> (N,) int64."""
    values = np.asarray(values)
    _check_labels(path, values)
    return values.astype(np.int64)


def _pick(names: dict[str, str], options: set[str]) -> str | None:
    """The first field whose lower-cased name is in ``options`` (``names`` maps lower -> real name)."""
    for low, real in names.items():
        if low in options:
            return real
    return None


@dataclass(frozen=True)
class FieldMap:
    """Which named per-point fields become which Cloud attribute (see :func:`_map_fields`)."""

    coord: tuple[str, str, str]
    color: tuple[str, str, str] | None
    normal: tuple[str, str, str] | None
    intensity: str | None
    label: str | None
    extra: tuple[str, ...]              # the other fields (meta["fields"])


def _map_fields(path: Path, field_names: list[str]) -> FieldMap:
    """Match field names (case-insensitively) to x/y/z, a colour trio, a normal trio, intensity and label."""
    names = {n.lower(): n for n in field_names}
    if not all(axis in names for axis in ("x", "y", "z")):
        raise PcsegError(path, f"no x, y, z fields (found: {', '.join(field_names) or 'none'})")
    coord = (names["x"], names["y"], names["z"])
    color = next((tuple(names[c] for c in trio) for trio in _COLOR if all(c in names for c in trio)), None)
    normal = next((tuple(names[c] for c in trio) for trio in _NORMAL if all(c in names for c in trio)), None)
    intensity, label = _pick(names, _INTENSITY), _pick(names, _LABEL)
    used = {*coord, *(color or ()), *(normal or ()), intensity, label}
    extra = tuple(n for n in field_names if n not in used and n != "_")
    return FieldMap(coord, color, normal, intensity, label, extra)  # type: ignore[arg-type]


def _stack(get: Callable[[str], np.ndarray], names: tuple[str, ...], dtype: Any = None) -> np.ndarray:
    """Shapes: -> (N, len(names)), of ``dtype`` or the fields' common type."""
    return np.stack([np.asarray(get(n), dtype=dtype) for n in names], axis=1)


def _field_coord(get: Callable[[str], np.ndarray], fields: FieldMap) -> np.ndarray:
    """Shapes: -> (N, 3) float64 (NaN/inf kept)."""
    with np.errstate(invalid="ignore"):  # signalling NaNs warn when widened; _finish drops them
        return _stack(get, fields.coord, np.float64)


def _convert_fields(path: Path, get: Callable[[str], np.ndarray], fields: FieldMap,
                    color_divisor: float | None = None) -> dict[str, np.ndarray | None]:
    """The Cloud attributes of the mapped fields, before :func:`_finish` (no point dropped yet); colours
    divided by ``color_divisor`` when given (else as :func:`_scale_color` decides).

    Shapes: -> coord (N, 3) float64, color (N, 3) / normal (N, 3) / intensity (N,) float32, label (N,) int64
    (None for absent attributes).
    """
    return {
        "coord": _field_coord(get, fields),
        "color": None if fields.color is None else _scale_color(path, _stack(get, fields.color), color_divisor),
        "normal": None if fields.normal is None else _stack(get, fields.normal, np.float32),
        "intensity": None if fields.intensity is None else np.asarray(get(fields.intensity), dtype=np.float32),
        "label": None if fields.label is None else _as_labels(path, get(fields.label)),
    }


def _cloud_from_fields(path: Path, get: Callable[[str], np.ndarray], field_names: list[str],
                       external_labels: bool, meta: dict[str, Any]) -> Cloud:
    """Build a Cloud from named per-point fields (PLY, PCD, structured and plain NPY)."""
    fields = _map_fields(path, field_names)
    arrays = _convert_fields(path, get, fields)
    extra = {n: np.asarray(get(n)) for n in fields.extra}
    if extra:
        meta["fields"] = extra
    return _finish(path, meta=meta, external_labels=external_labels, **arrays)  # type: ignore[arg-type]


def _finish(path: Path, coord: np.ndarray, *, color: np.ndarray | None = None,
            intensity: np.ndarray | None = None, normal: np.ndarray | None = None,
            label: np.ndarray | None = None, meta: dict[str, Any] | None = None,
            external_labels: bool = False) -> Cloud:
    """Drop non-finite points (or refuse, with external labels), recentre huge coordinates, build the Cloud.

    Shapes: coord (N, 3) any float; per-point arrays (N, ...) and per-point arrays in meta["fields"],
    meta["classification"], meta["raw_label"] are filtered alike.
    """
    meta = dict(meta or {})
    meta.setdefault("source", str(path))
    with np.errstate(invalid="ignore"):  # signalling NaNs warn when widened; they are dropped below
        coord = np.asarray(coord, dtype=np.float64).reshape(-1, 3)
    finite = np.all(np.isfinite(coord), axis=1)
    dropped = int(len(coord) - np.count_nonzero(finite))
    if dropped:
        if external_labels:
            first = int(np.flatnonzero(~finite)[0])
            raise PcsegError(path, f"{dropped} points have NaN/inf coordinates (first: point {first}); "
                                   f"they cannot be dropped because the labels come from a separate file")
        keep = np.flatnonzero(finite)
        coord = coord[keep]
        color, intensity, normal, label = (None if a is None else np.asarray(a)[keep]
                                           for a in (color, intensity, normal, label))
        for key in ("classification", "raw_label"):
            if key in meta:
                meta[key] = np.asarray(meta[key])[keep]
        if "fields" in meta:
            meta["fields"] = {k: np.asarray(v)[keep] for k, v in meta["fields"].items()}
    meta["dropped_nan"] = dropped
    if len(coord) and np.abs(coord).max() > FLOAT32_SAFE:
        origin = np.floor(coord.min(axis=0))
        coord = coord - origin
        meta["origin"] = origin
    if len(coord) == 0:
        raise PcsegError(path, "no points" + (f" ({dropped} NaN/inf points dropped)" if dropped else ""))
    if np.abs(coord).max() >= np.finfo(np.float32).max:
        raise PcsegError(path, "coordinates span more than float32 can hold")
    return Cloud(coord=coord, color=color, intensity=intensity, normal=normal, label=label, meta=meta)


# ------------------------------------------------------------------------------------------------------ PLY

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


HEADER_LIMIT = 65536  # bytes searched for the end of a PLY / PCD header


def _read_header(path: Path, raw: bytes, end_marker: re.Pattern[bytes], limit: int = HEADER_LIMIT
                 ) -> tuple[list[str], int]:
    """Header lines (decoded, stripped) up to and including the line matching ``end_marker``, and the byte
    offset where the body starts."""
    m = end_marker.search(raw[:limit])
    if not m:
        raise PcsegError(path, "header not terminated (truncated or not this format)")
    head = raw[:m.end()]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise PcsegError(path, "header is not ASCII text") from None
    return [line.strip() for line in text.splitlines()], m.end()


def _read_bytes(path: Path) -> bytes:
    _check_file(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise PcsegError(path, f"cannot read: {e.strerror or e}") from None


def _ascii_rows(path: Path, body: np.ndarray, skip: int, rows: int, ncols: int, what: str) -> np.ndarray:
    """Parse ``rows`` text lines after skipping ``skip`` lines; NaN/inf tokens accepted (dropped later).

    Shapes: body (B,) uint8 -> (rows, ncols) float64.
    """
    from pcseg.io.textparse import parse_table, with_sentinel

    newlines = np.flatnonzero(body == 10)
    start = 0 if skip == 0 else (int(newlines[skip - 1]) + 1 if len(newlines) >= skip else len(body))
    last = skip + rows - 1
    if rows == 0:
        return np.zeros((0, ncols))
    if last < len(newlines):
        stop = int(newlines[last]) + 1
    else:
        stop = len(body)
        if last > len(newlines):  # not even an unterminated final line for every row
            raise PcsegError(path, f"truncated: {what} needs {rows} data lines, the file has "
                                   f"{max(len(newlines) + 1 - skip, 0)}")

    def fix(line: bytes, lineno: int, found: int) -> list[float] | None:
        tokens = line.split()
        if not tokens:
            return None
        if len(tokens) != ncols:
            raise PcsegError(path, f"{what} line {lineno}: expected {ncols} values, found {len(tokens)}")
        try:
            return [float(t) for t in tokens]
        except ValueError:
            raise PcsegError(path, f"{what} line {lineno}: not a number in {line[:60]!r}") from None

    table = parse_table(with_sentinel(body[start:stop]), ncols, fix)
    if len(table) != rows:
        raise PcsegError(path, f"{what}: expected {rows} rows, found {len(table)} (blank lines inside the data?)")
    return table


@dataclass
class PlyHeader:
    """A parsed PLY header (:func:`_parse_ply_header`)."""

    fmt: str                  # "ascii", "binary_little_endian" or "binary_big_endian"
    elements: list[list[Any]]  # [name, count, [(prop, type) | (prop, None, count type, item type)]]
    vertex: int               # index of the vertex element in ``elements``
    body_start: int           # byte offset where the data starts

    @property
    def fixed_records(self) -> bool:
        """Binary, with no list property in the vertex element or any element before it: the vertices are
        fixed-size records at a known offset (:func:`_ply_vertex_records`)."""
        return self.fmt != "ascii" and not any(len(p) == 4 for e in self.elements[:self.vertex + 1] for p in e[2])


def _parse_ply_header(path: Path, raw: bytes) -> PlyHeader:
    """Parse the header at the start of ``raw`` (the file, or at least its first HEADER_LIMIT bytes)."""
    if not raw.startswith(b"ply"):
        raise PcsegError(path, "not a PLY file (no 'ply' magic)")
    lines, body_start = _read_header(path, raw, re.compile(rb"^end_header[ \t]*\r?\n", re.M))
    fmt = None
    elements: list[list[Any]] = []
    for line in lines[1:]:
        parts = line.split()
        if not parts or parts[0] in ("comment", "obj_info", "end_header"):
            continue
        try:
            if parts[0] == "format":
                fmt = parts[1]
            elif parts[0] == "element":
                elements.append([parts[1], int(parts[2]), []])
            elif parts[0] == "property":
                if not elements:
                    raise PcsegError(path, "property before any element in the header")
                if parts[1] == "list":
                    elements[-1][2].append((parts[4], None, _PLY_TYPES[parts[2]], _PLY_TYPES[parts[3]]))
                else:
                    elements[-1][2].append((parts[2], _PLY_TYPES[parts[1]]))
            else:
                raise PcsegError(path, f"unknown header line {line[:60]!r}")
        except (IndexError, KeyError, ValueError):
            raise PcsegError(path, f"bad header line {line[:60]!r}") from None
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise PcsegError(path, f"unknown PLY format {fmt!r}")
    names = [e[0] for e in elements]
    if "vertex" not in names:
        raise PcsegError(path, "no vertex element")
    return PlyHeader(fmt, elements, names.index("vertex"), body_start)


def _ply_vertex_records(path: Path, header: PlyHeader, size: int) -> tuple[int, np.dtype] | None:
    """Check the vertex element; for a binary file, (byte offset of the first vertex, vertex record dtype
    in the file's byte order), checked against the file's ``size`` in bytes; None for ascii."""
    vertex = header.elements[header.vertex]
    if any(len(p) == 4 for p in vertex[2]):
        raise PcsegError(path, "list properties in the vertex element are not supported")
    if any(e[1] < 0 for e in header.elements):
        raise PcsegError(path, "negative element count")
    if header.fmt == "ascii":
        return None
    order = "<" if header.fmt == "binary_little_endian" else ">"
    offset = header.body_start
    for e in header.elements[:header.vertex]:
        if any(len(p) == 4 for p in e[2]):
            raise PcsegError(path, f"binary element {e[0]!r} with list properties before the vertices "
                                   "is not supported")
        offset += e[1] * sum(np.dtype(p[1]).itemsize for p in e[2])
    try:
        dtype = np.dtype([(name, order + t) for name, t in vertex[2]])
    except (TypeError, ValueError):
        raise PcsegError(path, "duplicate or invalid vertex property names") from None
    need = vertex[1] * dtype.itemsize
    if offset + need > size:
        raise PcsegError(path, f"truncated: {vertex[1]} vertices need {need} bytes, "
                               f"{max(size - offset, 0)} present")
    return offset, dtype


def read_ply(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """PLY (ascii, binary_little_endian, binary_big_endian): the ``vertex`` element's x, y, z and, when
    present, red/green/blue, nx/ny/nz, intensity and label fields (other scalars go to meta["fields"]).

    Shapes: -> coord (N, 3) and the optional per-point arrays of Cloud.
    """
    path = Path(path)
    raw = _read_bytes(path)
    header = _parse_ply_header(path, raw)
    records = _ply_vertex_records(path, header, len(raw))
    vertex = header.elements[header.vertex]
    props = [p[0] for p in vertex[2]]
    meta: dict[str, Any] = {"format": f"ply {header.fmt}"}
    if records is None:
        skip = sum(e[1] for e in header.elements[:header.vertex])
        body = np.frombuffer(raw, dtype=np.uint8, offset=header.body_start)
        table = _ascii_rows(path, body, skip, vertex[1], len(props), "vertex")
        columns = {name: table[:, i].astype(dtype) if np.issubdtype(np.dtype(dtype), np.floating)
                   else _ascii_int(path, table[:, i], dtype, name) for i, (name, dtype) in enumerate(vertex[2])}
        get = columns.__getitem__
    else:
        offset, dtype = records
        data = np.frombuffer(raw, dtype=dtype, count=vertex[1], offset=offset)
        get = lambda name: data[name].astype(data.dtype[name].newbyteorder("="))  # noqa: E731
    return _cloud_from_fields(path, get, props, external_labels, meta)


def _ascii_int(path: Path, values: np.ndarray, dtype: str, name: str) -> np.ndarray:
    finite = np.isfinite(values)
    if not np.all(finite) or np.any(values != np.round(values)):
        raise PcsegError(path, f"integer property {name!r} holds non-integer values")
    return values.astype(dtype)


# ------------------------------------------------------------------------------------------------------ PCD

_PCD_TYPES = {("F", 4): "f4", ("F", 8): "f8", ("U", 1): "u1", ("U", 2): "u2", ("U", 4): "u4", ("U", 8): "u8",
              ("I", 1): "i1", ("I", 2): "i2", ("I", 4): "i4", ("I", 8): "i8"}

_kernels: dict[str, Callable] = {}


def _lzf_kernel(src, dst):  # pragma: no cover - compiled by numba
    """LZF decompression (the format of liblzf's lzf_d.c, used by PCL's binary_compressed).

    A control byte below 32 starts a literal run of ctrl + 1 bytes; otherwise the top 3 bits are the match
    length - 2 (7 means "add the next byte"), and the low 5 bits plus the next byte the back distance - 1.
    Returns the number of bytes written, or -1 on corrupt/truncated input.
    """
    ip = 0
    op = 0
    n = src.shape[0]
    m = dst.shape[0]
    while ip < n:
        ctrl = np.int64(src[ip])
        ip += 1
        if ctrl < 32:
            length = ctrl + 1
            if ip + length > n or op + length > m:
                return -1
            for k in range(length):
                dst[op + k] = src[ip + k]
            ip += length
            op += length
        else:
            length = ctrl >> 5
            if length == 7:
                if ip >= n:
                    return -1
                length += np.int64(src[ip])
                ip += 1
            if ip >= n:
                return -1
            ref = op - ((ctrl & 31) << 8) - np.int64(src[ip]) - 1
            ip += 1
            length += 2
            if ref < 0 or op + length > m:
                return -1
            for k in range(length):
                dst[op + k] = dst[ref + k]
            op += length
    return op


def lzf_decompress(data: bytes | np.ndarray, size: int) -> np.ndarray | None:
    """Decompress LZF ``data`` into exactly ``size`` bytes; None if the stream is corrupt or the wrong size.

    Shapes: -> (size,) uint8.
    """
    fn = _kernels.get("lzf")
    if fn is None:
        import numba

        fn = _kernels["lzf"] = numba.njit(cache=True, nogil=True)(_lzf_kernel)
    src = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else data
    dst = np.empty(size, dtype=np.uint8)
    got = fn(src, dst)
    return dst if got == size else None


def read_pcd(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """PCD v0.7 (ascii, binary, binary_compressed): fields x y z, rgb/rgba (packed), intensity, label,
    normal_x/y/z; other fields go to meta["fields"]. meta["width"], meta["height"] keep the organisation.

    Shapes: -> coord (N, 3) and the optional per-point arrays of Cloud.
    """
    path = Path(path)
    raw = _read_bytes(path)
    lines, body_start = _read_header(path, raw, re.compile(rb"^DATA[ \t]+\S+[ \t]*\r?\n", re.M))
    head: dict[str, list[str]] = {}
    for line in lines:
        if line and not line.startswith("#"):
            parts = line.split()
            head[parts[0].upper()] = parts[1:]
    try:
        fields = head["FIELDS"]
        sizes = [int(s) for s in head["SIZE"]]
        types = [t.upper() for t in head["TYPE"]]
        counts = [int(c) for c in head.get("COUNT", ["1"] * len(fields))]
        width = int(head["WIDTH"][0])
        height = int(head.get("HEIGHT", ["1"])[0])
        points = int(head.get("POINTS", [str(width * height)])[0])
        data_kind = head["DATA"][0].lower()
    except (KeyError, IndexError, ValueError) as e:
        raise PcsegError(path, f"bad PCD header ({e.__class__.__name__}: {e})") from None
    if not (len(fields) == len(sizes) == len(types) == len(counts)):
        raise PcsegError(path, "FIELDS, SIZE, TYPE and COUNT have different lengths")
    if points < 0 or any(c < 1 for c in counts) or sum(counts) > 100_000:
        raise PcsegError(path, "POINTS below 0, or a COUNT below 1 or absurdly large")
    try:
        base = [_PCD_TYPES[(t, s)] for t, s in zip(types, sizes)]
    except KeyError as e:
        raise PcsegError(path, f"unsupported TYPE/SIZE {e.args[0]}") from None
    # one column per value; a field with COUNT > 1 becomes name_0, name_1...; padding fields "_" skipped later
    cols: list[tuple[str, str]] = []
    for name, t, c in zip(fields, base, counts):
        cols += [(name, t)] if c == 1 else [(f"{name}_{i}", t) for i in range(c)]
    unique = [f"__pad{i}" if n == "_" else n for i, (n, _) in enumerate(cols)]
    if len(set(unique)) != len(unique):
        raise PcsegError(path, "duplicate field names")
    meta: dict[str, Any] = {"format": f"pcd {data_kind}", "width": width, "height": height}
    row_bytes = sum(np.dtype(t).itemsize for _, t in cols)

    if data_kind == "ascii":
        body = np.frombuffer(raw, dtype=np.uint8, offset=body_start)
        table = _ascii_rows(path, body, 0, points, len(cols), "point")
        arrays = {}
        for i, (name, t) in enumerate(cols):
            arrays[unique[i]] = (table[:, i].astype(t) if np.dtype(t).kind == "f"
                                 else _ascii_int(path, table[:, i], t, name))
    elif data_kind == "binary":
        need = points * row_bytes
        if body_start + need > len(raw):
            raise PcsegError(path, f"truncated: {points} points need {need} bytes, {len(raw) - body_start} present")
        rec = np.frombuffer(raw, dtype=np.dtype([(u, "<" + t) for u, (_, t) in zip(unique, cols)]),
                            count=points, offset=body_start)
        arrays = {u: rec[u] for u in unique}
    elif data_kind == "binary_compressed":
        if body_start + 8 > len(raw):
            raise PcsegError(path, "truncated: no compressed-size header")
        csize, usize = (int(v) for v in np.frombuffer(raw, dtype="<u4", count=2, offset=body_start))
        if usize != points * row_bytes:
            raise PcsegError(path, f"compressed block unpacks to {usize} bytes, {points} points need "
                                   f"{points * row_bytes}")
        if usize > 128 * csize + 64:  # LZF expands at most ~88x (a 264-byte match costs 3 bytes)
            raise PcsegError(path, f"corrupt binary_compressed sizes ({csize} -> {usize} bytes)")
        if body_start + 8 + csize > len(raw):
            raise PcsegError(path, f"truncated: compressed block of {csize} bytes, "
                                   f"{len(raw) - body_start - 8} present")
        src = np.frombuffer(raw, dtype=np.uint8, count=csize, offset=body_start + 8)
        dec = lzf_decompress(src, usize) if usize else np.zeros(0, np.uint8)
        if dec is None:
            raise PcsegError(path, "corrupt LZF data in the binary_compressed block")
        arrays, offset = {}, 0
        for u, (_, t) in zip(unique, cols):  # column-major: all points of one field, then the next
            arrays[u] = np.frombuffer(dec, dtype="<" + t, count=points, offset=offset)
            offset += points * np.dtype(t).itemsize
    else:
        raise PcsegError(path, f"unknown DATA kind {data_kind!r}")

    rgb_name = next((n for n in unique if n.lower() in ("rgb", "rgba")), None)
    if rgb_name is not None:
        packed = np.ascontiguousarray(arrays.pop(rgb_name))
        if packed.dtype.itemsize != 4:
            raise PcsegError(path, f"field {rgb_name!r} must be 4 bytes (packed colour)")
        packed = packed.astype(packed.dtype.newbyteorder("=")).view(np.uint32)
        for shift, channel in ((16, "red"), (8, "green"), (0, "blue")):
            arrays[channel] = ((packed >> shift) & 0xFF).astype(np.uint8)
    names = [n for n in arrays if not n.startswith("__pad")]
    return _cloud_from_fields(path, arrays.__getitem__, names, external_labels, meta)


# ------------------------------------------------------------------------------------------------- LAS/LAZ


def read_las(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """LAS/LAZ via laspy (LAZ through the lazrs backend): scaled x, y, z; red/green/blue when present;
    intensity (raw sensor units); ASPRS classification in meta["classification"] (not Cloud.label, since
    ASPRS classes are not a pcseg class set).

    Shapes: -> coord (N, 3), color (N, 3) or None, intensity (N,); meta["classification"] (N,) uint8.
    """
    path = Path(path)
    _check_file(path)
    try:
        import laspy
    except ImportError as e:  # pragma: no cover - laspy is a dependency
        raise ImportError("reading LAS/LAZ needs laspy: pip install 'laspy[lazrs]'") from e
    try:
        las = laspy.read(path)
        dims = set(las.point_format.dimension_names)
        coord = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], axis=1)
        color = None
        if {"red", "green", "blue"} <= dims:
            color = np.stack([np.asarray(las.red), np.asarray(las.green), np.asarray(las.blue)], axis=1)
        intensity = np.asarray(las.intensity, dtype=np.float32)
        classification = np.asarray(las.classification).astype(np.uint8)
    except Exception as e:  # laspy raises many kinds (LaspyException, ValueError, lazrs errors) on bad files
        if isinstance(e, (MemoryError, KeyboardInterrupt)):
            raise
        raise PcsegError(path, f"not a readable LAS/LAZ file ({e.__class__.__name__}: {str(e)[:120]})") from None
    meta: dict[str, Any] = {"format": f"las {las.header.version} point format {las.header.point_format.id}",
                            "classification": classification}
    if color is not None:
        meta["color_bits"] = 16 if color.max(initial=0) > 255 else 8  # many files store 8-bit values
        color = _scale_color(path, color)
    return _finish(path, coord, color=color, intensity=intensity, meta=meta, external_labels=external_labels)


# ------------------------------------------------------------------------------------------------------ NPY

# the column convention of plain (N, C) arrays (module docstring): C -> (meta["columns"], field names)
NPY_COLUMNS: dict[int, tuple[str, tuple[str, ...]]] = {
    3: ("xyz", ("x", "y", "z")),
    4: ("xyz i", ("x", "y", "z", "intensity")),
    5: ("xyz i label", ("x", "y", "z", "intensity", "label")),
    6: ("xyz rgb", ("x", "y", "z", "red", "green", "blue")),
    7: ("xyz rgb label", ("x", "y", "z", "red", "green", "blue", "label")),
}


def _load_npy(path: Path) -> np.ndarray:
    _check_file(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except MemoryError:
        raise
    except Exception as e:  # numpy raises ValueError, EOFError, OSError, zipfile.BadZipFile... on bad bytes
        raise PcsegError(path, f"not a readable .npy array ({str(e)[:120]})") from None
    if not isinstance(arr, np.ndarray):
        if hasattr(arr, "close"):
            arr.close()
        raise PcsegError(path, "not a single .npy array (an .npz archive?)")
    return arr


def read_npy(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """``.npy``: a plain (N, 3..7) numeric array (column convention in the module docstring) or a
    structured array with named fields (x, y, z, red/green/blue, intensity, label, nx/ny/nz...).

    Shapes: -> coord (N, 3) and the optional per-point arrays of Cloud.
    """
    path = Path(path)
    _check_file(path)
    arr = _load_npy(path)
    meta: dict[str, Any] = {"format": "npy"}
    if arr.dtype.names:
        flat = arr.reshape(-1)
        odd = [n for n in arr.dtype.names if arr.dtype[n].shape or arr.dtype[n].kind not in "fiub"]
        if odd:
            raise PcsegError(path, f"structured field {odd[0]!r} is not a numeric scalar")
        return _cloud_from_fields(path, flat.__getitem__, list(arr.dtype.names), external_labels, meta)
    if arr.dtype.kind not in "fiu" or arr.ndim != 2 or not 3 <= arr.shape[1] <= 7:
        raise PcsegError(path, f"expected an (N, 3..7) numeric array or a structured array, found "
                               f"{arr.dtype} {arr.shape}")
    meta["columns"], names = NPY_COLUMNS[arr.shape[1]]
    return _cloud_from_fields(path, lambda name: arr[:, names.index(name)], list(names), external_labels, meta)


# ------------------------------------------------------------------------------------------ KITTI .bin/.label


# what the float32 columns of a headerless .bin mean, by count (mmdetection3d's ``load_dim``):
# 4 KITTI / SemanticKITTI velodyne (x y z remission, remission in [0, 1]); 5 nuScenes lidar sweeps `.pcd.bin`
# (x y z intensity ring, intensity 0..255, ring 0..31; nuscenes-devkit `LidarPointCloud.from_file`);
# 6 mmdetection3d's indoor points (ScanNet / SUN RGB-D: x y z r g b, colours 0..255); any other count >= 3:
# x y z, the rest kept in meta["fields"] as column_4, column_5, ...
BIN_LAYOUTS = {4: "x y z remission (KITTI)", 5: "x y z intensity ring (nuScenes .pcd.bin)",
               6: "x y z r g b (mmdetection3d indoor)"}


def bin_point_dims(path: str | os.PathLike, point_dims: int | None = None) -> int:
    """Columns of a raw .bin: ``point_dims`` when given, 5 for nuScenes ``*.pcd.bin``, else 4 (KITTI)."""
    if point_dims is not None:
        if point_dims < 3:
            raise PcsegError("--point-dims", f"must be at least 3 (x y z), got {point_dims}")
        return int(point_dims)
    return 5 if Path(path).name.lower().endswith(".pcd.bin") else 4


def check_bin_columns(path: str | os.PathLike, rows: np.ndarray) -> None:
    """PcsegError unless the (N, dims) float32 rows look like their layout: remission / intensity in
    0..255, nuScenes rings whole numbers 0..127, colours in 0..255 (on more than 99 % of the finite rows). A
    file of another layout read with the wrong column count puts coordinates in those columns."""
    dims = rows.shape[1]
    finite = rows[np.isfinite(rows).all(axis=1)]
    if not len(finite) or dims not in BIN_LAYOUTS:
        return
    if dims == 6:
        odd = float(np.mean(((finite[:, 3:6] < 0) | (finite[:, 3:6] > 255)).any(axis=1)))
        what = "colour (0..255)"
    else:
        odd = float(np.mean((finite[:, 3] < 0) | (finite[:, 3] > 255.0)))
        what = "remission (0..255)" if dims == 4 else "intensity (0..255) / ring (integer 0..127)"
        if dims == 5:
            ring = finite[:, 4]
            odd = max(odd, float(np.mean((ring < 0) | (ring > 127) | (ring != np.round(ring)))))
    if odd > 0.01:
        raise PcsegError(path, f"{100 * odd:.0f} % of the points have no plausible {what} column: not "
                               f"{dims} columns of {BIN_LAYOUTS[dims]}? pass --point-dims N "
                               "(4 KITTI, 5 nuScenes, 6 x y z r g b)")


def read_kitti_bin(path: str | os.PathLike, external_labels: bool = False, point_dims: int | None = None) -> Cloud:
    """A headerless float32 point file: KITTI Velodyne scans (``x y z remission``, remission ->
    Cloud.intensity) by default, nuScenes ``*.pcd.bin`` sweeps (5 columns), or ``point_dims`` columns
    (BIN_LAYOUTS). Columns that do not look like the assumed layout (a 5-column file read as 4 puts
    coordinates where remission should be) are refused with the layouts that would fit, never read as
    wrong points.

    Shapes: -> coord (N, 3), intensity (N,) (4 and 5 columns), color (N, 3) in [0, 1] (6 columns).
    """
    path = Path(path)
    _check_file(path)
    dims = bin_point_dims(path, point_dims)
    size = path.stat().st_size
    if size % (4 * dims):
        fits = [d for d in (4, 5, 6) if size % (4 * d) == 0]
        raise PcsegError(path, f"size {size} is not a multiple of {4 * dims} bytes ({dims} float32 columns: "
                               f"{BIN_LAYOUTS.get(dims, 'x y z ...')})"
                               + (f"; it would fit --point-dims {' or '.join(map(str, fits))}" if fits else ""))
    scan = np.fromfile(path, dtype="<f4").reshape(-1, dims)
    check_bin_columns(path, scan)
    meta: dict = {"format": "kitti bin" if dims == 4 else f"bin ({dims} columns)"}
    intensity = color = None
    finite = np.isfinite(scan).all(axis=1)
    if dims in (4, 5):
        intensity = scan[:, 3]
        top = 1.0 if dims == 4 else 255.0
        values = intensity[finite]
        if dims == 5:
            meta["fields"] = {"ring": scan[:, 4].astype(np.int16)}
        if top == 255.0 and len(values) and values.max() > 1.0:
            intensity = intensity / 255.0
    elif dims == 6:
        rgb = scan[:, 3:6]
        values = rgb[finite]
        color = rgb / (255.0 if len(values) and values.max() > 1.0 else 1.0)
    elif dims > 3:
        meta["fields"] = {f"column_{i + 1}": scan[:, i] for i in range(3, dims)}
    return _finish(path, scan[:, :3], intensity=intensity, color=color, meta=meta,
                   external_labels=external_labels)


def read_kitti_label(path: str | os.PathLike) -> np.ndarray:
    """A SemanticKITTI ``.label`` file -> raw semantic ids (the low 16 bits; the high 16 are the instance).

    Shapes: -> (N,) uint32.
    """
    path = Path(path)
    _check_file(path)
    size = path.stat().st_size
    if size % 4:
        raise PcsegError(path, f"size {size} is not a multiple of 4 bytes (uint32 labels)")
    return np.fromfile(path, dtype="<u4") & np.uint32(0xFFFF)


def find_kitti_labels(scan: str | os.PathLike) -> Path | None:
    """The ``.label`` file of a scan: ``../labels/<stem>.label`` (SemanticKITTI layout), else
    ``<stem>.label`` beside it, else None."""
    scan = Path(scan)
    for candidate in (scan.parent.parent / "labels" / f"{scan.stem}.label", scan.with_suffix(".label")):
        if candidate.is_file():
            return candidate
    return None


LABEL_FORMATS = ("index", "learning", "raw")


def _label_hint(labels: np.ndarray) -> str:
    """Which class set / label format the values would fit, for an error message."""
    from pcseg.classes import SEMANTICKITTI_LEARNING_MAP

    lo, hi = int(labels.min()), int(labels.max())
    fits = []
    if lo >= -1 and hi <= 12:
        fits.append("--classes s3dis")
    if lo >= -1 and hi <= 18:
        fits.append("--classes semantickitti")
    if lo >= 0 and hi <= 19:
        fits.append("--classes semantickitti --label-format learning (SemanticKITTI learning ids 0..19, "
                    "0 = unlabeled, as Open3D-ML and mmdetection3d store them)")
    if lo >= 0 and np.isin(np.unique(labels & 0xFFFF), list(SEMANTICKITTI_LEARNING_MAP)).all():
        fits.append("--classes semantickitti --label-format raw (raw SemanticKITTI ids)")
    return "; would fit: " + " or ".join(fits) if fits else ""


def read_labels(path: str | os.PathLike, class_set: ClassSet | None = None,
                label_format: str | None = None) -> np.ndarray:
    """Per-point labels from a file, as pcseg class indices (-1 = ignore).

    ``label_format``: ``index`` (pcseg class indices, -1 = ignore; checked against ``class_set`` when given),
    ``learning`` (SemanticKITTI learning ids 0..19 with 0 = unlabeled, as Open3D-ML and mmdetection3d store
    them in .npy; class = id - 1) or ``raw`` (raw SemanticKITTI ids, low 16 bits, mapped by the official
    learning_map). Default: ``raw`` for ``.label`` files, ``index`` for ``.npy``. A value out of range names
    the class set / format it would fit.

    Shapes: -> (N,) int64.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if label_format is not None and label_format not in LABEL_FORMATS:
        raise PcsegError("--label-format", f"must be one of {', '.join(LABEL_FORMATS)}, got {label_format!r}")
    fmt = label_format or ("raw" if ext == ".label" else "index")
    if fmt in ("raw", "learning") and class_set is not None and class_set.name != SEMANTICKITTI.name:
        raise PcsegError(path, f"{fmt} labels are SemanticKITTI ids, not {class_set.name} classes "
                               "(pass --classes semantickitti)")
    if ext == ".label":
        if fmt != "raw":
            raise PcsegError(path, ".label files hold raw SemanticKITTI ids (--label-format raw)")
        return kitti_raw_to_class(read_kitti_label(path))
    if ext != ".npy":
        raise PcsegError(path, "unknown label file type (expected .label or .npy)")
    arr = _load_npy(path)
    if arr.dtype.kind not in "iu" or arr.ndim not in (1, 2) \
            or (arr.ndim == 2 and arr.shape[1] != 1):
        raise PcsegError(path, f"expected (N,) integer labels, found {arr.dtype} {arr.shape}")
    labels = arr.reshape(-1).astype(np.int64)
    if fmt == "raw":
        if labels.size and labels.min() < 0:
            raise PcsegError(path, f"raw SemanticKITTI ids are non-negative, found {int(labels.min())}")
        return kitti_raw_to_class(labels)
    if fmt == "learning":
        bad = (labels < 0) | (labels > 19)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise PcsegError(path, f"learning id {labels[i]} at point {i} is outside 0..19{_label_hint(labels)}")
        return labels - 1          # 0 (unlabeled) -> -1 (ignore)
    top = class_set.num_classes if class_set is not None else None
    bad = (labels < -1) if top is None else ((labels < -1) | (labels >= top))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        allowed = "-1 or above" if top is None else f"-1..{top - 1} ({class_set.name} class indices)"
        raise PcsegError(path, f"label {labels[i]} at point {i} is outside {allowed}{_label_hint(labels)}")
    return labels


# ---------------------------------------------------------------------------------------------- read_cloud

READERS: dict[str, Callable[..., Cloud]] = {
    ".ply": read_ply, ".pcd": read_pcd, ".las": read_las, ".laz": read_las, ".npy": read_npy,
    ".bin": read_kitti_bin,
}


def read_cloud(path: str | os.PathLike, labels: str | os.PathLike | None = None,
               class_set: ClassSet | None = None, point_dims: int | None = None) -> Cloud:
    """Read any supported point-cloud file (by extension: .ply .pcd .las .laz .npy .bin).

    ``labels`` names a separate label file (``.label`` or ``.npy``, see :func:`read_labels`); for a KITTI
    ``.bin`` without it, ``../labels/<stem>.label`` or ``<stem>.label`` is used when present, and
    meta["raw_label"] keeps the raw SemanticKITTI ids. A label count that differs from the point count is
    an error.

    Shapes: -> Cloud (coord (N, 3) + optional color, intensity, normal, label, see Cloud).
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        if not path.exists():
            raise PcsegError(path, "no such file")
        raise PcsegError(path, f"unknown point-cloud file type {path.suffix or '(no extension)'!r} "
                               f"(known: {', '.join(sorted(READERS))})")
    kwargs = {"point_dims": point_dims} if reader is read_kitti_bin else {}
    if point_dims is not None and reader is not read_kitti_bin:
        raise PcsegError(path, "--point-dims applies to headerless .bin files only")
    if labels is None and reader is read_kitti_bin:
        labels = find_kitti_labels(path)
    if labels is None:
        return reader(path, **kwargs)
    labels = Path(labels)
    cloud = reader(path, external_labels=True, **kwargs)
    raw = None
    if labels.suffix.lower() == ".label":
        raw = read_kitti_label(labels)
        values = kitti_raw_to_class(raw)
    else:
        values = read_labels(labels, class_set)
    if len(values) != len(cloud):
        raise PcsegError(labels, f"{len(values)} labels for {len(cloud)} points in {path.name}")
    if cloud.label is not None:
        cloud.meta["file_label_replaced"] = True
    cloud.label = values
    if raw is not None:
        cloud.meta["raw_label"] = raw
    cloud.meta["labels_source"] = str(labels)
    return cloud


# ------------------------------------------------------------------------------------------------- writers


def _ply_fields(cloud: Cloud) -> list[tuple[str, str, str, np.ndarray]]:
    """(name, PLY type, numpy type, values) of every property write_ply writes for ``cloud``."""
    fields: list[tuple[str, str, str, np.ndarray]] = []
    for i, axis in enumerate("xyz"):
        fields.append((axis, "float", "f4", cloud.coord[:, i]))
    if cloud.color is not None:
        rgb = np.clip(np.round(cloud.color * 255.0), 0, 255).astype(np.uint8)
        fields += [(c, "uchar", "u1", rgb[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    if cloud.normal is not None:
        fields += [(c, "float", "f4", cloud.normal[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
    if cloud.intensity is not None:
        fields.append(("intensity", "float", "f4", cloud.intensity))
    if cloud.label is not None:
        fields.append(("label", "int", "i4", cloud.label))
    return fields


def write_ply(path: str | os.PathLike, cloud: Cloud, binary: bool = True) -> None:
    """Write a PLY that Open3D, CloudCompare and :func:`read_ply` read: x y z float32, red green blue uchar
    (from color), nx ny nz float32, intensity float32 and label int32 when present. Written atomically."""
    if binary:
        write_ply_chunks(path, len(cloud), [cloud])
        return
    fields = _ply_fields(cloud)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(_ply_header("ascii", len(cloud), fields))
            formats = ["%.9g" if t.startswith("f") else "%d" for _, _, t, _ in fields]
            table = np.empty((len(cloud), len(fields)), dtype=object)
            for i, (_, _, _, values) in enumerate(fields):
                table[:, i] = values
            np.savetxt(f, table, fmt=formats, delimiter=" ")


def _ply_header(fmt: str, n: int, fields: list[tuple[str, str, str, np.ndarray]]) -> bytes:
    header = ["ply", f"format {fmt} 1.0", "comment written by pcseg", f"element vertex {n}"]
    header += [f"property {ptype} {name}" for name, ptype, _, _ in fields]
    header.append("end_header")
    return ("\n".join(header) + "\n").encode("ascii")


def write_ply_chunks(path: str | os.PathLike, n: int, chunks: Iterable[Cloud]) -> None:
    """Binary :func:`write_ply` of a cloud given as consecutive chunks (all with the same attributes) that
    hold ``n`` points together; memory is one chunk. Written atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            written = 0
            header: bytes | None = None
            for chunk in chunks:
                fields = _ply_fields(chunk)
                if header is None:
                    header = _ply_header("binary_little_endian", n, fields)
                    f.write(header)
                elif _ply_header("binary_little_endian", n, fields) != header:
                    raise ValueError("write_ply_chunks: chunks with different attributes")
                rec = np.empty(len(chunk), dtype=np.dtype([(name, "<" + t) for name, _, t, _ in fields]))
                for name, _, _, values in fields:
                    rec[name] = values
                f.write(rec.tobytes())
                written += len(chunk)
            if header is None:
                raise ValueError("write_ply_chunks: no chunks")
            if written != n:
                raise ValueError(f"write_ply_chunks: {written} points written, {n} announced")


def write_labels(path: str | os.PathLike, labels: np.ndarray, class_set: ClassSet | None = None) -> None:
    """Per-point labels: ``.label`` -> raw SemanticKITTI ids (uint32; needs the SEMANTICKITTI class set),
    ``.npy`` -> int64 class indices (-1 = ignore). Written atomically.

    Shapes: labels (N,) int.
    """
    labels = np.asarray(labels).reshape(-1)
    write_labels_chunks(path, len(labels), [labels], class_set)


def write_labels_chunks(path: str | os.PathLike, n: int, chunks: Iterable[np.ndarray],
                        class_set: ClassSet | None = None) -> None:
    """:func:`write_labels` of ``n`` labels given as consecutive chunks; memory is one chunk. Written
    atomically; the ``.npy`` is byte for byte what ``np.save`` writes for the (n,) int64 array."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".label", ".npy"):
        raise PcsegError(path, "unknown label file type (expected .label or .npy)")
    if ext == ".label" and class_set is not None and class_set.name != SEMANTICKITTI.name:
        raise PcsegError(path, f".label files hold SemanticKITTI ids; cannot write {class_set.name} classes")
    with atomic_path(path, suffix=ext) as tmp:
        with open(tmp, "wb") as f:
            if ext == ".npy":
                np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (n,)})
            written = 0
            for chunk in chunks:
                chunk = np.asarray(chunk).reshape(-1).astype(np.int64)
                if ext == ".label":
                    if len(chunk) and (chunk.min() < -1 or chunk.max() >= SEMANTICKITTI.num_classes):
                        raise PcsegError(path, f"labels outside -1..{SEMANTICKITTI.num_classes - 1}")
                    chunk = kitti_class_to_raw(chunk)
                f.write(chunk.astype("<u4" if ext == ".label" else "<i8").tobytes())
                written += len(chunk)
            if written != n:
                raise ValueError(f"write_labels_chunks: {written} labels written, {n} announced")


def write_npy(path: str | os.PathLike, cloud: Cloud) -> None:
    """Write a structured ``.npy`` (fields x y z [red green blue] [nx ny nz] [intensity] [label], colours as
    float32 in [0, 1]) that :func:`read_npy` reads back losslessly. Written atomically."""
    fields: list[tuple[str, str, np.ndarray]] = [(a, "<f4", cloud.coord[:, i]) for i, a in enumerate("xyz")]
    if cloud.color is not None:
        fields += [(c, "<f4", cloud.color[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    if cloud.normal is not None:
        fields += [(c, "<f4", cloud.normal[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
    if cloud.intensity is not None:
        fields.append(("intensity", "<f4", cloud.intensity))
    if cloud.label is not None:
        fields.append(("label", "<i8", cloud.label))
    rec = np.empty(len(cloud), dtype=np.dtype([(n, t) for n, t, _ in fields]))
    for name, _, values in fields:
        rec[name] = values
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, rec)


__all__ = ["read_cloud", "read_ply", "read_pcd", "read_las", "read_npy", "read_kitti_bin", "read_kitti_label",
           "read_labels", "find_kitti_labels", "write_ply", "write_ply_chunks", "write_labels",
           "write_labels_chunks", "write_npy", "lzf_decompress",
           "READERS"]
