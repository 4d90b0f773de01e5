"""LAS/LAZ through laspy (LAZ via the lazrs backend)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _check_file, _finish, _scale_color


def las_error(path: Path, e: Exception) -> PcsegError:
    """The one-line error for a file laspy cannot read (it raises many kinds: LaspyException, ValueError,
    lazrs errors)."""
    return PcsegError(path, f"not a readable LAS/LAZ file ({e.__class__.__name__}: {str(e)[:120]})")


def import_laspy():
    """laspy, or an ImportError naming the package to install."""
    try:
        import laspy
    except ImportError as e:  # pragma: no cover - laspy is a dependency
        raise ImportError("reading LAS/LAZ needs laspy: pip install 'laspy[lazrs]'") from e
    return laspy


def read_las(path: str | os.PathLike, external_labels: bool = False) -> Cloud:
    """LAS/LAZ via laspy (LAZ through the lazrs backend): scaled x, y, z; red/green/blue when present;
    intensity (raw sensor units); ASPRS classification in meta["classification"] (not Cloud.label, since
    ASPRS classes are not a pcseg class set); the point format's scalar extra dimensions in meta["fields"].
    Files too large to hold are read in chunks by :func:`pcseg.io.stream.open_stream` (the same conversion).

    Shapes: -> coord (N, 3), color (N, 3) or None, intensity (N,); meta["classification"] (N,) uint8,
    meta["fields"][name] (N,).
    """
    path = Path(path)
    _check_file(path)
    laspy = import_laspy()
    try:
        las = laspy.read(path)
        dims = set(las.point_format.dimension_names)
        coord = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], axis=1)
        color = None
        if {"red", "green", "blue"} <= dims:
            color = np.stack([np.asarray(las.red), np.asarray(las.green), np.asarray(las.blue)], axis=1)
        intensity = np.asarray(las.intensity, dtype=np.float32)
        classification = np.asarray(las.classification).astype(np.uint8)
        extra = {name: np.asarray(las[name]) for name in las.point_format.extra_dimension_names
                 if np.asarray(las[name]).ndim == 1}
    except Exception as e:  # laspy raises many kinds (LaspyException, ValueError, lazrs errors) on bad files
        if isinstance(e, (MemoryError, KeyboardInterrupt)):
            raise
        raise las_error(path, e) from None
    meta: dict[str, Any] = {"format": f"las {las.header.version} point format {las.header.point_format.id}",
                            "classification": classification}
    if extra:
        meta["fields"] = extra
    if color is not None:
        meta["color_bits"] = 16 if color.max(initial=0) > 255 else 8  # many files store 8-bit values
        color = _scale_color(path, color)
    return _finish(path, coord, color=color, intensity=intensity, meta=meta, external_labels=external_labels)
