"""LAS/LAZ through laspy (LAZ via the lazrs backend)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _check_file, _finish, _scale_color


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
