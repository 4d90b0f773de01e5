"""Model registry: ``create_model(name, **cfg)``.

3D models map features (B, C_in, N) + coordinates (B, N, 3) to logits (B, K, N); 2D models map images
(B, C_in, H, W) to logits (B, K, H, W). Builders are imported on first use so that ``import pcseg.models``
does not import every network.
"""

from __future__ import annotations

import importlib
from typing import Any

# name -> (module, builder function, family)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "pointnet": ("pcseg.models.pointnet", "PointNetSeg", "3d"),
    "acnn": ("pcseg.models.acnn", "ACNNSeg", "3d"),
    "pointnet2": ("pcseg.models.pointnet2", "PointNet2Seg", "3d"),                       # PyG layers
    "point_transformer": ("pcseg.models.point_transformer", "PointTransformerSeg", "3d"),  # PyG layers
    "deeplabv3plus": ("pcseg.models.deeplab", "DeepLabV3Plus", "2d"),
    "unet": ("pcseg.models.unet", "UNet", "2d"),
}


def model_names() -> list[str]:
    return sorted(_REGISTRY)


def model_family(name: str) -> str:
    """'3d' (points + coordinates -> per-point logits) or '2d' (range image -> per-pixel logits)."""
    _check(name)
    return _REGISTRY[name][2]


def _check(name: str) -> None:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid models: {', '.join(model_names())}")


def create_model(name: str, **cfg: Any):
    """Build a registered model. Unknown names raise KeyError listing the valid ones."""
    _check(name)
    module, builder, _ = _REGISTRY[name]
    return getattr(importlib.import_module(module), builder)(**cfg)


__all__ = ["create_model", "model_names", "model_family"]
