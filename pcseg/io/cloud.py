"""The one point-cloud type that readers return and writers take."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pcseg.classes import IGNORE


@dataclass
class Cloud:
    """A point cloud with optional per-point attributes.

    Shapes:
        coord (N, 3) float32; color (N, 3) float32 in [0, 1]; intensity (N,) float32;
        normal (N, 3) float32; label (N,) int64 with IGNORE = -1.
    ``meta`` carries reader notes (source path, repairs made, points dropped) and is free-form.
    """

    coord: np.ndarray
    color: np.ndarray | None = None
    intensity: np.ndarray | None = None
    normal: np.ndarray | None = None
    label: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.coord = np.ascontiguousarray(self.coord, dtype=np.float32).reshape(-1, 3)
        n = len(self.coord)
        for name, width, dtype in (("color", 3, np.float32), ("normal", 3, np.float32),
                                   ("intensity", 1, np.float32), ("label", 1, np.int64)):
            value = getattr(self, name)
            if value is None:
                continue
            value = np.ascontiguousarray(value, dtype=dtype)
            value = value.reshape(-1, 3) if width == 3 else value.reshape(-1)
            if len(value) != n:
                raise ValueError(f"Cloud.{name} has {len(value)} rows for {n} points")
            setattr(self, name, value)

    def __len__(self) -> int:
        return len(self.coord)

    def select(self, index: np.ndarray) -> "Cloud":
        """A new Cloud with the points picked by a boolean mask or an index array."""
        pick = {name: (None if getattr(self, name) is None else getattr(self, name)[index])
                for name in ("color", "intensity", "normal", "label")}
        return Cloud(self.coord[index], meta=dict(self.meta), **pick)

    def __repr__(self) -> str:
        parts = [f"{len(self)} points"] + [name for name in ("color", "intensity", "normal", "label")
                                           if getattr(self, name) is not None]
        return f"Cloud({', '.join(parts)})"


__all__ = ["Cloud", "IGNORE"]
