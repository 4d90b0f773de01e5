"""KITTI / SemanticKITTI raw files: Velodyne ``.bin`` scans and ``.label`` files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _check_file, _finish, _scale_color


# Columns of a headerless float32 ``.bin`` by points per row (mmdetection3d's ``load_dim``):
#   3  x y z
#   4  x y z intensity          KITTI Velodyne (remission in [0, 1])
#   5  x y z intensity ring     nuScenes ``.pcd.bin`` sweeps (nutonomy/nuscenes-devkit
#                               `utils/data_classes.py` LidarPointCloud.from_file: 5 floats, intensity 0..255)
#   6  x y z r g b              mmdetection3d's indoor ``.bin`` (ScanNet / S3DIS converters, colour 0..255)
#   N  x y z intensity c4 ...   further columns kept in meta["fields"] as ``c4``, ``c5`` ...
BIN_COLUMNS = {3: ("x", "y", "z"), 4: ("x", "y", "z", "intensity"), 5: ("x", "y", "z", "intensity", "ring"),
               6: ("x", "y", "z", "red", "green", "blue")}
MAX_POINT_DIMS = 64


def bin_columns(dims: int) -> tuple[str, ...]:
    """Names of the ``dims`` float32 columns of a ``.bin`` (BIN_COLUMNS, extended with c4, c5 ...)."""
    if dims in BIN_COLUMNS:
        return BIN_COLUMNS[dims]
    return ("x", "y", "z", "intensity") + tuple(f"c{i}" for i in range(4, dims))


def bin_point_dims(path: Path, point_dims: int | None = None) -> int:
    """Floats per point of a ``.bin``: ``point_dims`` when given, 5 for a nuScenes ``.pcd.bin``, else 4 (KITTI)."""
    if point_dims is not None:
        if not 3 <= point_dims <= MAX_POINT_DIMS:
            raise PcsegError("--point-dims", f"must be 3..{MAX_POINT_DIMS}, got {point_dims}")
        return point_dims
    return 5 if path.name.lower().endswith(".pcd.bin") else 4


def _implausible(column: np.ndarray) -> float:
    """Fraction of an intensity column that no sensor writes (negative or not finite)."""
    return float(np.mean(~np.isfinite(column) | (column < 0))) if len(column) else 0.0


def check_bin_layout(path: Path, head: np.ndarray, dims: int, explicit: bool) -> None:
    """Refuse a ``.bin`` whose columns do not look like the assumed layout while another layout fits: an
    intensity column with many negative values means misaligned rows (a 5-float nuScenes sweep read as 4
    floats has an "intensity" cycling through x, y, z). With an explicit --point-dims, or when no other
    layout fits either, this is a warning instead.

    Shapes: head (K,) float32, the first floats of the file."""
    import sys

    names = bin_columns(dims)
    if "intensity" not in names:
        return
    rows = head[:len(head) // dims * dims].reshape(-1, dims)
    bad = _implausible(rows[:, 3])
    if bad <= 0.01:
        return
    size = path.stat().st_size
    fits = [d for d in (4, 5) + tuple(range(7, 9)) if d != dims and size % (4 * d) == 0
            and _implausible(head[:len(head) // d * d].reshape(-1, d)[:, 3]) <= 0.01]
    problem = (f"column 4 (intensity) is negative or not finite for {100 * bad:.0f}% of the first "
               f"{len(rows):,} points: this does not look like {dims} float32 per point ({' '.join(names)})")
    if fits and not explicit:
        raise PcsegError(path, problem + f"; it reads plausibly with --point-dims {' or '.join(map(str, fits))}"
                                         " (nuScenes sweeps have 5: name them .pcd.bin)")
    print(f"pcseg: warning: {path}: {problem}", file=sys.stderr)


def bin_rows(path: Path, dims: int) -> int:
    """Points in a ``.bin`` of ``dims`` float32 per point (PcsegError when the size does not fit)."""
    size = path.stat().st_size
    if size % (4 * dims):
        raise PcsegError(path, f"size {size} is not a multiple of {4 * dims} bytes ({dims} float32 per point: "
                               f"{' '.join(bin_columns(dims))}); pass --point-dims N for another layout")
    return size // (4 * dims)


def read_kitti_bin(path: str | os.PathLike, external_labels: bool = False, point_dims: int | None = None) -> Cloud:
    """A headerless float32 ``.bin`` scan: KITTI Velodyne ``x y z remission`` (4 floats, remission ->
    Cloud.intensity) by default, nuScenes ``x y z intensity ring`` for ``*.pcd.bin``, or ``point_dims`` floats
    per point (columns in BIN_COLUMNS; like mmdetection3d's ``load_dim``). Columns that do not look like the
    assumed layout are refused (see :func:`check_bin_layout`).

    Shapes: -> coord (N, 3), intensity (N,) or color (N, 3); other columns in meta["fields"] (N,).
    """
    path = Path(path)
    _check_file(path)
    dims = bin_point_dims(path, point_dims)
    names = bin_columns(dims)
    bin_rows(path, dims)
    scan = np.fromfile(path, dtype="<f4").reshape(-1, dims)
    check_bin_layout(path, scan[:100_000].reshape(-1), dims, point_dims is not None)
    meta = {"format": "kitti bin" if dims == 4 else f"bin {dims} float32 ({' '.join(names)})"}
    extra = {name: scan[:, i] for i, name in enumerate(names)
             if name not in ("x", "y", "z", "intensity", "red", "green", "blue")}
    if extra:
        meta["fields"] = extra
    color = None
    if "red" in names:
        color = _scale_color(path, scan[:, 3:6])
    intensity = scan[:, 3] if "intensity" in names else None
    return _finish(path, scan[:, :3], intensity=intensity, color=color, meta=meta, external_labels=external_labels)


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
