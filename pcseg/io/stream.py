"""Chunked reading of clouds too large to hold at once: plain numeric ``.npy`` arrays, KITTI ``.bin`` scans,
binary PLY files and LAS/LAZ (through laspy's chunk iterator).

``open_stream(path)`` returns a :class:`CloudStream` for the files whose rows can be read piecewise (a plain
C-ordered (N, 3..7) numeric ``.npy``; a KITTI ``.bin`` that has no ``.label`` file beside it; a
``binary_little_endian`` / ``binary_big_endian`` PLY whose ``vertex`` element has only scalar properties and
follows only elements without list properties; any LAS/LAZ), or None for everything else (ASCII PLY, PCD,
structured ``.npy``...), which pcseg.io.files.read_cloud reads whole. Every streamed file is a run of fixed-size records
(a structured dtype in the file's byte order: the columns of a plain array, the properties of a PLY vertex)
whose named fields map to Cloud attributes exactly as read_cloud maps them (pcseg.io.fields._map_fields).

A stream scans the file once on opening and then yields its points chunk by chunk as Clouds converted exactly
as read_cloud converts the whole file (non-finite points dropped with a count, huge coordinates recentred on
the same origin, colours scaled by the same divisor, the same label checks), so concatenating the chunks gives
read_cloud's Cloud: coord, color, intensity, normal and label (not the extra PLY properties of
meta["fields"]).

Rows are read with plain file reads into fresh arrays, not through a memory map: the file's pages then stay
in the page cache and not in the process's resident memory. Memory: one chunk (``CHUNK_ROWS`` rows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import (FLOAT32_SAFE, FieldMap, _check_file, _check_labels, _color_divisor, _color_max,
                             _convert_fields, _field_coord, _map_fields, _stack)
from pcseg.io.header import HEADER_LIMIT
from pcseg.io.kitti_bin import bin_point_dims, bin_rows, check_bin_layout, find_kitti_labels
from pcseg.io.las import import_laspy, las_error
from pcseg.io.npy import NPY_COLUMNS
from pcseg.io.ply import _parse_ply_header, _ply_vertex_records

CHUNK_ROWS = 1 << 20


@dataclass
class CloudStream:
    """A cloud file read in chunks; see the module docstring. Built by :func:`open_stream`.

    ``record`` is the structured dtype of one file row and ``fields`` maps its fields to Cloud attributes.
    After opening: ``n`` kept (finite) points, ``dropped`` non-finite ones, ``coord_min``/``coord_max`` of the
    kept float32 coordinates (as float64, like a Cloud's ``coord.min(0)``), ``meta`` as read_cloud's (without
    meta["fields"]).
    """

    path: Path
    rows: int
    record: np.dtype
    offset: int                        # byte offset of row 0
    kind: str                          # meta["format"]: "npy", "kitti bin", "ply binary_little_endian"...
    chunk_rows: int = CHUNK_ROWS
    fields: FieldMap = field(init=False)
    n: int = 0
    dropped: int = 0
    origin: np.ndarray | None = None
    coord_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    coord_max: np.ndarray = field(default_factory=lambda: np.zeros(3))
    color_scale: float | None = None   # colours are divided by this (None: no colour fields)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fields = _map_fields(self.path, list(self.record.names))

    @property
    def has_color(self) -> bool:
        return self.fields.color is not None

    @property
    def has_label(self) -> bool:
        return self.fields.label is not None

    def raw(self, start: int, stop: int) -> np.ndarray:
        """File rows [start, stop). Shapes: -> (stop - start,) records of dtype ``record``."""
        count = stop - start
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.record.itemsize)
            data = np.fromfile(f, dtype=self.record, count=count)
        if len(data) != count:
            raise PcsegError(self.path, f"file ends inside row {start + len(data)}")
        return data

    def _raw_chunks(self) -> Iterator[np.ndarray]:
        for start in range(0, self.rows, self.chunk_rows):
            yield self.raw(start, min(start + self.chunk_rows, self.rows))

    def _scan(self) -> None:
        """One pass over the file: counts, bounds, the colour divisor and the checks read_cloud makes, whose
        errors come in read_cloud's order (colours, labels, then the points)."""
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        color_max, color_dtype = -np.inf, None
        bad_labels: PcsegError | None = None
        kept = 0
        for rows in self._raw_chunks():
            coord = _field_coord(rows.__getitem__, self.fields)
            finite = np.all(np.isfinite(coord), axis=1)
            kept += int(np.count_nonzero(finite))
            if finite.any():
                lo = np.minimum(lo, coord[finite].min(axis=0))
                hi = np.maximum(hi, coord[finite].max(axis=0))
            if self.fields.color is not None and len(rows):
                rgb = _stack(rows.__getitem__, self.fields.color)
                color_max, color_dtype = max(color_max, _color_max(self.path, rgb)), rgb.dtype
            if self.fields.label is not None and bad_labels is None:
                try:
                    _check_labels(self.path, rows[self.fields.label])
                except PcsegError as exc:   # a later chunk's colour error comes first
                    bad_labels = exc
        if bad_labels is not None:
            raise bad_labels
        self.n, self.dropped = kept, self.rows - kept
        if kept == 0:
            raise PcsegError(self.path, "no points" + (f" ({self.dropped} NaN/inf points dropped)"
                                                        if self.dropped else ""))
        if max(np.abs(lo).max(), np.abs(hi).max()) > FLOAT32_SAFE:
            self.origin = np.floor(lo)
        base = self.origin if self.origin is not None else 0.0
        if max(np.abs(lo - base).max(), np.abs(hi - base).max()) >= np.finfo(np.float32).max:
            raise PcsegError(self.path, "coordinates span more than float32 can hold")
        # float32 bounds exactly as a Cloud's coord would give them
        self.coord_min = np.asarray(lo - base, dtype=np.float32).astype(np.float64)
        self.coord_max = np.asarray(hi - base, dtype=np.float32).astype(np.float64)
        if color_dtype is not None:
            self.color_scale = _color_divisor(color_dtype, color_max)
        self.meta = {"source": str(self.path), "format": self.kind, "dropped_nan": self.dropped}
        if self.kind == "npy":
            self.meta["columns"] = NPY_COLUMNS[len(self.record.names)][0]
        if self.origin is not None:
            self.meta["origin"] = self.origin

    def chunks(self) -> Iterator[tuple[int, Cloud]]:
        """(index of the chunk's first kept point, Cloud of the chunk's kept points), in file order."""
        first = 0
        for rows in self._raw_chunks():
            arrays = _convert_fields(self.path, rows.__getitem__, self.fields, self.color_scale)
            coord = arrays.pop("coord")
            keep = np.all(np.isfinite(coord), axis=1)
            if not keep.all():
                coord = coord[keep]
                arrays = {name: None if a is None else a[keep] for name, a in arrays.items()}
            if self.origin is not None:
                coord = coord - self.origin
            meta: dict[str, Any] = {"source": str(self.path)}
            self._chunk_meta(rows, keep, meta)
            yield first, Cloud(coord, meta=meta, **arrays)  # type: ignore[arg-type]
            first += len(coord)

    def _chunk_meta(self, rows: np.ndarray, keep: np.ndarray, meta: dict[str, Any]) -> None:
        """Per-point meta of a chunk's kept points beyond the Cloud attributes (none for plain records)."""


@dataclass
class LasStream(CloudStream):
    """A LAS/LAZ file read with laspy's chunk iterator (LAZ decompressed chunk by chunk). Each row is a record
    of the scaled x y z (float64), red/green/blue and intensity when the point format has them,
    ``classification`` and the scalar extra dimensions (as ``extra:<name>``); chunks carry
    meta["classification"] and meta["fields"] like :func:`pcseg.io.las.read_las`."""

    def _raw_chunks(self) -> Iterator[np.ndarray]:
        laspy = import_laspy()
        try:
            with laspy.open(self.path) as reader:
                for points in reader.chunk_iterator(self.chunk_rows):
                    rows = np.empty(len(points), dtype=self.record)
                    for name in self.record.names:
                        source = name.split(":", 1)[1] if name.startswith("extra:") else name
                        rows[name] = np.asarray(getattr(points, source) if source in ("x", "y", "z") else points[source])
                    yield rows
        except (MemoryError, KeyboardInterrupt, PcsegError):
            raise
        except Exception as e:  # noqa: BLE001 - laspy raises many kinds on bad files
            raise las_error(self.path, e) from None

    def raw(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError("LAS/LAZ rows are read in order only (chunks())")

    def _chunk_meta(self, rows: np.ndarray, keep: np.ndarray, meta: dict[str, Any]) -> None:
        meta["classification"] = rows["classification"][keep].astype(np.uint8)
        extra = {name[6:]: rows[name][keep] for name in self.record.names if name.startswith("extra:")}
        if extra:
            meta["fields"] = extra


def _open_las(path: Path, chunk_rows: int) -> LasStream:
    """A LasStream over ``path`` (not yet scanned)."""
    laspy = import_laspy()
    try:
        with laspy.open(path) as reader:
            header = reader.header
            dims = list(header.point_format.dimension_names)
            extra = list(header.point_format.extra_dimension_names)
            types = {d.name: d.dtype for d in header.point_format.dimensions}
            rows = int(header.point_count)
            kind = f"las {header.version} point format {header.point_format.id}"
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as e:  # noqa: BLE001 - laspy raises many kinds on bad files
        raise las_error(path, e) from None
    record: list[tuple[str, Any]] = [("x", "<f8"), ("y", "<f8"), ("z", "<f8")]
    if {"red", "green", "blue"} <= set(dims):
        record += [("red", "<u2"), ("green", "<u2"), ("blue", "<u2")]
    record += [("intensity", "<u2"), ("classification", "u1")]
    record += [(f"extra:{name}", types[name]) for name in extra
               if types.get(name) is not None and np.dtype(types[name]).shape == ()]
    return LasStream(path, rows, np.dtype(record), 0, kind, chunk_rows)


def _columns_record(dtype: np.dtype, names: tuple[str, ...]) -> np.dtype:
    """The rows of a plain (N, len(names)) array of ``dtype`` as records with one named field per column."""
    return np.dtype([(name, dtype) for name in names])


def open_stream(path: str | os.PathLike, chunk_rows: int = CHUNK_ROWS, min_rows: int = 0,
                point_dims: int | None = None) -> CloudStream | None:
    """A :class:`CloudStream` over ``path`` (scanned once), or None when the file is not one the stream
    reads piecewise (see the module docstring) or has fewer than ``min_rows`` rows; raises PcsegError for
    the errors read_cloud reports. ``point_dims``: floats per point of a ``.bin`` (see pcseg.io.kitti_bin)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".bin":
        if find_kitti_labels(path) is not None:
            return None          # separate labels: read whole (NaN points are then an error, not dropped)
        _check_file(path)
        dims = bin_point_dims(path, point_dims)
        if dims not in (4, 5):
            return None          # colour or extra columns: read whole
        rows = bin_rows(path, dims)
        with open(path, "rb") as f:
            check_bin_layout(path, np.fromfile(f, dtype="<f4", count=100_000 * dims), dims, point_dims is not None)
        names = ("x", "y", "z", "remission") if dims == 4 else ("x", "y", "z", "intensity", "ring")
        stream = CloudStream(path, rows, _columns_record(np.dtype("<f4"), names), 0,
                             "kitti bin" if dims == 4 else f"bin {dims} float32 (x y z intensity ring)", chunk_rows)
    elif ext == ".npy":
        _check_file(path)
        try:
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    return None
                shape, fortran, dtype = read_header(f)
                offset = f.tell()
        except Exception:  # not a plain .npy header: read_cloud gives the precise error
            return None
        if dtype.names or dtype.hasobject or fortran or len(shape) != 2 or dtype.kind not in "fiu" \
                or not 3 <= shape[1] <= 7:
            return None
        stream = CloudStream(path, int(shape[0]), _columns_record(dtype, NPY_COLUMNS[shape[1]][1]), offset, "npy",
                             chunk_rows)
        expected = offset + stream.rows * stream.record.itemsize
        if path.stat().st_size < expected:
            raise PcsegError(path, f"not a readable .npy array (file is {path.stat().st_size} bytes, its header "
                                   f"promises {expected})")
    elif ext == ".ply":
        _check_file(path)
        with open(path, "rb") as f:
            head = f.read(HEADER_LIMIT)
        try:
            header = _parse_ply_header(path, head)
        except PcsegError:       # read_cloud reports header errors
            return None
        if not header.fixed_records:
            return None          # ascii, or list properties: read whole
        offset, record = _ply_vertex_records(path, header, path.stat().st_size)
        stream = CloudStream(path, header.elements[header.vertex][1], record, offset, f"ply {header.fmt}",
                             chunk_rows)
    elif ext in (".las", ".laz"):
        _check_file(path)
        stream = _open_las(path, chunk_rows)
    else:
        return None
    if stream.rows < min_rows:
        return None
    stream._scan()
    return stream


__all__ = ["CloudStream", "LasStream", "open_stream", "CHUNK_ROWS"]
