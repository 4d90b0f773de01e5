"""Chunked reading of clouds too large to hold at once: plain numeric ``.npy`` arrays and KITTI ``.bin`` scans.

``open_stream(path)`` returns a :class:`CloudStream` for the files whose rows can be read piecewise (a plain
C-ordered (N, 3..7) numeric ``.npy``; a KITTI ``.bin`` that has no ``.label`` file beside it), or None for
everything else, which pcseg.io.files.read_cloud reads whole. A stream scans the file once on opening and
then yields its points chunk by chunk as Clouds converted exactly as read_cloud converts the whole file (same
column convention, non-finite points dropped with a count, huge coordinates recentred on the same origin,
colours scaled by the same divisor), so concatenating the chunks gives read_cloud's Cloud.

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

CHUNK_ROWS = 1 << 20


@dataclass
class CloudStream:
    """A cloud file read in chunks; see the module docstring. Built by :func:`open_stream`.

    After opening: ``n`` kept (finite) points, ``dropped`` non-finite ones, ``coord_min``/``coord_max`` of the
    kept float32 coordinates (as float64, like a Cloud's ``coord.min(0)``), ``meta`` as read_cloud's.
    """

    path: Path
    rows: int
    columns: int
    dtype: np.dtype
    offset: int                        # byte offset of row 0
    kind: str                          # "npy" or "kitti bin"
    chunk_rows: int = CHUNK_ROWS
    n: int = 0
    dropped: int = 0
    origin: np.ndarray | None = None
    coord_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    coord_max: np.ndarray = field(default_factory=lambda: np.zeros(3))
    color_scale: float | None = None   # colours are divided by this (None: no colour columns)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_color(self) -> bool:
        return self.kind == "npy" and self.columns in (6, 7)

    @property
    def has_label(self) -> bool:
        return self.kind == "npy" and self.columns in (5, 7)

    def raw(self, start: int, stop: int) -> np.ndarray:
        """File rows [start, stop). Shapes: -> (stop - start, columns) of the file's dtype."""
        count = (stop - start) * self.columns
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.columns * self.dtype.itemsize)
            data = np.fromfile(f, dtype=self.dtype, count=count)
        if data.size != count:
            raise PcsegError(self.path, f"file ends inside row {start + data.size // self.columns}")
        return data.reshape(-1, self.columns)

    def _raw_chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        for start in range(0, self.rows, self.chunk_rows):
            yield start, self.raw(start, min(start + self.chunk_rows, self.rows))

    def _scan(self) -> None:
        """One pass over the file: counts, bounds, the colour divisor and the checks read_cloud makes."""
        lo = np.full(3, np.inf)
        hi = np.full(3, -np.inf)
        color_max = -np.inf
        kept = 0
        for _, rows in self._raw_chunks():
            with np.errstate(invalid="ignore"):
                coord = rows[:, :3].astype(np.float64)
            finite = np.all(np.isfinite(coord), axis=1)
            kept += int(np.count_nonzero(finite))
            if finite.any():
                lo = np.minimum(lo, coord[finite].min(axis=0))
                hi = np.maximum(hi, coord[finite].max(axis=0))
            if self.has_color and len(rows):
                rgb = rows[:, 3:6]
                if rgb.dtype.kind == "f" and not np.all(np.isfinite(rgb)):
                    raise PcsegError(self.path, "non-finite colour values")
                color_max = max(color_max, float(rgb.max()))
            if self.has_label:
                _check_labels(self.path, rows[:, -1])
        self.n, self.dropped = kept, self.rows - kept
        if kept == 0:
            raise PcsegError(self.path, "no points" + (f" ({self.dropped} NaN/inf points dropped)"
                                                        if self.dropped else ""))
        from pcseg.io.files import FLOAT32_SAFE

        if max(np.abs(lo).max(), np.abs(hi).max()) > FLOAT32_SAFE:
            self.origin = np.floor(lo)
        base = self.origin if self.origin is not None else 0.0
        if max(np.abs(lo - base).max(), np.abs(hi - base).max()) >= np.finfo(np.float32).max:
            raise PcsegError(self.path, "coordinates span more than float32 can hold")
        # float32 bounds exactly as a Cloud's coord would give them
        self.coord_min = np.asarray(lo - base, dtype=np.float32).astype(np.float64)
        self.coord_max = np.asarray(hi - base, dtype=np.float32).astype(np.float64)
        if self.has_color:
            if self.dtype.kind in "iu":
                self.color_scale = 65535.0 if color_max > 255 else 255.0
            else:
                self.color_scale = (65535.0 if color_max > 255 else 255.0) if color_max > 1.0 else 1.0
        self.meta = {"source": str(self.path), "format": self.kind, "dropped_nan": self.dropped}
        if self.kind == "npy":
            self.meta["columns"] = {3: "xyz", 4: "xyz i", 5: "xyz i label", 6: "xyz rgb",
                                    7: "xyz rgb label"}[self.columns]
        if self.origin is not None:
            self.meta["origin"] = self.origin

    def chunks(self) -> Iterator[tuple[int, Cloud]]:
        """(index of the chunk's first kept point, Cloud of the chunk's kept points), in file order."""
        first = 0
        for _, rows in self._raw_chunks():
            with np.errstate(invalid="ignore"):
                coord = rows[:, :3].astype(np.float64)
            keep = np.all(np.isfinite(coord), axis=1)
            if not keep.all():
                rows, coord = rows[keep], coord[keep]
            if self.origin is not None:
                coord = coord - self.origin
            color = intensity = label = None
            if self.has_color:
                rgb = rows[:, 3:6].astype(np.float64)
                color = np.clip(rgb / self.color_scale if self.color_scale != 1.0 else rgb, 0.0, 1.0)
            if self.columns in (4, 5):
                intensity = rows[:, 3]
            if self.has_label:
                label = rows[:, -1].astype(np.int64)
            yield first, Cloud(coord, color=color, intensity=intensity, label=label,
                               meta={"source": str(self.path)})
            first += len(coord)


def _check_labels(path: Path, values: np.ndarray) -> None:
    if values.dtype.kind == "f":
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) or np.any(np.abs(values) > 2**53):
            raise PcsegError(path, "label values are not integers")


def open_stream(path: str | os.PathLike, chunk_rows: int = CHUNK_ROWS, min_rows: int = 0) -> CloudStream | None:
    """A :class:`CloudStream` over ``path`` (scanned once), or None when the file is not one the stream
    reads piecewise (see the module docstring) or has fewer than ``min_rows`` rows; raises PcsegError for
    the errors read_cloud reports."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".bin":
        from pcseg.io.files import _check_file, find_kitti_labels

        if find_kitti_labels(path) is not None:
            return None          # separate labels: read whole (NaN points are then an error, not dropped)
        _check_file(path)
        size = path.stat().st_size
        if size % 16:
            raise PcsegError(path, f"size {size} is not a multiple of 16 bytes (float32 x y z remission)")
        stream = CloudStream(path, size // 16, 4, np.dtype("<f4"), 0, "kitti bin", chunk_rows)
    elif ext == ".npy":
        from pcseg.io.files import _check_file

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
        stream = CloudStream(path, int(shape[0]), int(shape[1]), dtype, offset, "npy", chunk_rows)
        expected = offset + stream.rows * stream.columns * dtype.itemsize
        if path.stat().st_size < expected:
            raise PcsegError(path, f"not a readable .npy array (file is {path.stat().st_size} bytes, its header "
                                   f"promises {expected})")
    else:
        return None
    if stream.rows < min_rows:
        return None
    stream._scan()
    return stream


__all__ = ["CloudStream", "open_stream", "CHUNK_ROWS"]
