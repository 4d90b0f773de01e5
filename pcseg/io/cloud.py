"""The one point-cloud type that readers return and writers take."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from pcseg.classes import IGNORE


FEATURE_ORDER = ("color", "intensity", "normal")     # the columns of Cloud.to_pyg's x, in this order


def _pyg_data():
    try:
        from torch_geometric.data import Data
    except ImportError as exc:
        raise ImportError("Cloud.to_pyg needs PyTorch Geometric: pip install torch-geometric") from exc
    return Data


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

    def to_pyg(self):
        """This cloud as a PyTorch Geometric ``Data``: ``pos`` the coordinates, ``x`` the available features
        side by side in the order colour, intensity, normal (absent when there are none), ``y`` the labels;
        ``meta`` is not carried; the tensors are copies.

        Shapes: -> Data(pos (N, 3) float32, x (N, C) float32, y (N,) int64).
        """
        Data = _pyg_data()
        import torch

        out = Data(pos=torch.from_numpy(np.array(self.coord)))
        feats = [(name, getattr(self, name)) for name in FEATURE_ORDER if getattr(self, name) is not None]
        if feats:
            out.x = torch.from_numpy(np.concatenate([np.asarray(v).reshape(len(self), -1) for _, v in feats], 1))
            out.feature_names = [name for name, _ in feats]
        if self.label is not None:
            out.y = torch.from_numpy(np.array(self.label))
        return out

    @classmethod
    def from_pyg(cls, data: Any, features: Sequence[str] | None = None) -> "Cloud":
        """A Cloud from a PyG ``Data`` with ``pos`` (N, 3), optional ``x`` (N, C) and ``y`` (N,).

        ``x`` is split into attributes by ``features`` (names from colour, intensity, normal, in the order of
        its columns), or by ``data.feature_names`` as :meth:`to_pyg` writes it; without either, an ``x`` of
        3 columns is taken as colour and anything else is an error (it cannot be placed).
        """
        pos = getattr(data, "pos", None)
        if pos is None:
            raise ValueError("Cloud.from_pyg: the Data has no pos")
        names = features if features is not None else getattr(data, "feature_names", None)
        x = getattr(data, "x", None)
        attrs: dict[str, np.ndarray] = {}
        if x is not None:
            x = x.detach().cpu().numpy()
            if names is None:
                if x.ndim != 2 or x.shape[1] != 3:
                    raise ValueError(f"Cloud.from_pyg: cannot tell what the {x.shape[-1]} columns of x are; "
                                     "pass features=[...] (colour, intensity, normal)")
                names = ["color"]
            widths = {"color": 3, "intensity": 1, "normal": 3}
            unknown = [n for n in names if n not in widths]
            if unknown or sum(widths[n] for n in names) != x.shape[1]:
                raise ValueError(f"Cloud.from_pyg: features {list(names)} do not describe x with {x.shape[1]} "
                                 f"columns (known: {', '.join(widths)})")
            start = 0
            for name in names:
                attrs[name] = x[:, start:start + widths[name]]
                start += widths[name]
        y = getattr(data, "y", None)
        label = None if y is None else y.detach().cpu().numpy()
        return cls(pos.detach().cpu().numpy(), label=label, **attrs)

    def __repr__(self) -> str:
        parts = [f"{len(self)} points"] + [name for name in ("color", "intensity", "normal", "label")
                                           if getattr(self, name) is not None]
        return f"Cloud({', '.join(parts)})"


__all__ = ["Cloud", "IGNORE"]
