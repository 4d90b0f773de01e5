"""PCD (PCL): ascii, binary and binary_compressed (LZF) bodies."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _cloud_from_fields
from pcseg.io.header import _ascii_int, _ascii_rows, _read_bytes, _read_header

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
