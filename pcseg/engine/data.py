"""What the engine trains and validates on, dispatched on the model family.

- 3D models ("pointnet", "acnn"): S3DIS cache rooms (pcseg.data.s3dis.S3DISCache) of the training areas cut
  into 1 m blocks (pcseg.data.blocks.BlockDataset); validation on the whole rooms of ``data.test_area``.
- 2D models ("deeplabv3plus", "unet"): range images from pcseg.range.dataset.build_range_datasets(cfg, seed)
  -> (train_dataset, val_clouds).

Validation rooms/scans are returned as ``(name, loader)`` pairs, ``loader()`` -> Cloud with labels, so that a
process only loads the rooms it scores.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pcseg.classes import ClassSet, get_class_set
from pcseg.config import Config
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

ValCloud = tuple[str, Callable[[], Cloud]]


def family(cfg: Config) -> str:
    from pcseg.models import model_family

    try:
        return model_family(cfg.model.name)
    except KeyError as exc:
        raise PcsegError("model.name", str(exc.args[0])) from None


def class_set(cfg: Config) -> ClassSet:
    try:
        return get_class_set(cfg.data.dataset)
    except KeyError as exc:
        raise PcsegError("data.dataset", str(exc.args[0])) from None


def feature_channels(features: list[str] | tuple[str, ...]) -> int:
    """Input channels of the 3D models for the ``data.features`` list (3 per feature, pcseg.data.blocks)."""
    from pcseg.data.blocks import num_channels

    try:
        return num_channels(features)
    except ValueError as exc:
        raise PcsegError("data.features", str(exc)) from None


def model_args(cfg: Config) -> dict[str, Any]:
    """create_model keyword arguments: the config's ``model.args`` with num_classes (and in_channels for 3D
    models) filled in from the class set and ``data.features`` when the config does not set them."""
    args = dict(cfg.model.args)
    args.setdefault("num_classes", class_set(cfg).num_classes)
    if family(cfg) == "3d":
        args.setdefault("in_channels", feature_channels(cfg.data.features))
    else:
        from pcseg.range.spec import range_channels

        args.setdefault("in_channels", len(range_channels(cfg)))
    return args


def room_name(ref: Any) -> str:
    """'Area_5_office_1' style name of a cache room reference."""
    area = str(ref.area)
    if not area.startswith("Area_"):
        area = f"Area_{area}"
    return f"{area}_{ref.name}"


def _s3dis_cache(cfg: Config):
    if cfg.data.dataset != "s3dis":
        raise PcsegError("data.dataset", f"3D models train on the S3DIS cache; dataset {cfg.data.dataset!r} "
                                         "is for the range-image models")
    from pcseg.data.s3dis import S3DISCache

    return S3DISCache(cfg.data.root)


def train_areas(cfg: Config, available: list[int] | None = None) -> list[int]:
    if cfg.data.train_areas is not None:
        areas = list(cfg.data.train_areas)
    else:
        areas = [a for a in (available if available is not None else range(1, 7)) if a != cfg.data.test_area]
    if cfg.data.test_area in areas:
        raise PcsegError("data.train_areas", f"the test area {cfg.data.test_area} is also a training area")
    return areas


def _cache_areas(cache: Any) -> list[int]:
    refs = cache.rooms(None)
    out = set()
    for ref in refs:
        area = str(ref.area)
        out.add(int(area.split("_")[-1]) if not isinstance(ref.area, int) else ref.area)
    return sorted(out)


def build_datasets(cfg: Config, seed: int) -> tuple[Any, list[ValCloud]]:
    """The training dataset and the validation clouds, built together (the range branch measures its
    normalisation statistics once and writes them into ``cfg.range``)."""
    if family(cfg) == "2d":
        return _range_datasets(cfg, seed)
    return build_train_dataset(cfg, seed), (val_clouds(cfg) if cfg.train.val_every > 0 else [])


def build_train_dataset(cfg: Config, seed: int):
    """The training dataset: items {"features" (C,N), "coord" (N,3), "label" (N,)} for 3D models,
    {"image" (C,H,W), "label" (H,W)} for 2D models. It reports ``class_counts`` (K,) for class weights."""
    if family(cfg) == "2d":
        return _range_datasets(cfg, seed)[0]
    from pcseg.data.blocks import BlockDataset

    cache = _s3dis_cache(cfg)
    areas = train_areas(cfg, _cache_areas(cache))
    refs = cache.rooms(areas)
    if not refs:
        raise PcsegError(cfg.data.root, f"no prepared rooms in training areas {areas}")
    clouds = [cache.load(ref) for ref in refs]
    from pcseg.data.transforms import build_augmentation

    try:
        transform = build_augmentation(cfg.data.augment)
    except ValueError as exc:
        raise PcsegError("data.augment", str(exc)) from None
    try:
        ds = BlockDataset(clouds, block_size=cfg.data.block_size, stride=cfg.data.block_stride,
                          num_points=cfg.data.num_points, min_points=cfg.data.min_block_points,
                          features=tuple(cfg.data.features), transform=transform, seed=seed)
    except ValueError as exc:
        raise PcsegError(cfg.data.root, str(exc)) from None
    ds.class_counts = label_counts(clouds, class_set(cfg).num_classes)
    return ds


def val_clouds(cfg: Config, area: int | None = None) -> list[ValCloud]:
    """Whole validation rooms/scans as (name, loader) pairs; 3D: every room of ``area`` (default
    ``data.test_area``)."""
    if family(cfg) == "2d":
        from pcseg.range.dataset import range_val_clouds

        return list(range_val_clouds(cfg))    # needs no training data (eval on a validation-only tree)
    cache = _s3dis_cache(cfg)
    area = cfg.data.test_area if area is None else area
    refs = cache.rooms([area])
    if not refs:
        raise PcsegError(cfg.data.root, f"no prepared rooms in test area {area}")
    return [(room_name(ref), (lambda r=ref: cache.load(r))) for ref in refs]


def label_counts(clouds: list[Cloud], num_classes: int) -> np.ndarray:
    """(K,) int64 labelled points per class over ``clouds`` (ignore labels skipped)."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for cloud in clouds:
        if cloud.label is None:
            continue
        lab = np.asarray(cloud.label)
        lab = lab[(lab >= 0) & (lab < num_classes)]
        counts += np.bincount(lab, minlength=num_classes)
    return counts


def _range_datasets(cfg: Config, seed: int) -> tuple:
    try:
        from pcseg.range.dataset import build_range_datasets
    except ImportError:
        raise PcsegError("model.name", f"{cfg.model.name!r} is a range-image model, and the range-image "
                                       "branch (pcseg.range.dataset) is not available") from None
    train, val = build_range_datasets(cfg, seed)
    return train, list(val)


__all__ = ["build_datasets", "build_train_dataset", "val_clouds", "model_args", "class_set", "family", "feature_channels",
           "label_counts", "room_name", "train_areas"]
