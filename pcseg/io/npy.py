"""NumPy ``.npy`` clouds: plain (N, C) arrays or structured arrays with named fields.

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
from pathlib import Path
from typing import Any

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.fields import _check_file, _cloud_from_fields
from pcseg.utils import atomic_path

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
