"""PLY (ascii, binary little/big endian): reader and writers. Header parsing and record layout are
shared with the chunked reader (:mod:`pcseg.io.stream`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pcseg.classes import ClassSet
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _cloud_from_fields
from pcseg.io.header import _ascii_int, _ascii_rows, _read_bytes, _read_header
from pcseg.utils import atomic_path

_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


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


def write_colored_ply(path: str | os.PathLike, coord: np.ndarray, labels: np.ndarray, class_set: ClassSet) -> bool:
    """A binary PLY of the points coloured by the class palette, with a ``label`` property. Returns True
    (kept for callers that test it).

    Shapes: coord (N, 3), labels (N,) int class indices (-1 = ignore)."""
    write_ply(path, Cloud(coord, color=class_set.colorize(labels), label=labels))
    return True
