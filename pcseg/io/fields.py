"""How every reader turns a file's named fields into a Cloud, and the conventions they share.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

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
