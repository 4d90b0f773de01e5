"""Typed run configuration: dataclasses with defaults, filled from one YAML file and ``key=value`` overrides.

A config file has up to five sections (``data``, ``model``, ``optim``, ``train``, ``range``); every key is
checked against the dataclass below, so a typo or a wrong type is an error naming the file and the key, not
a silently ignored option. The resolved config is written into the run folder (``config.yaml``) and into
every checkpoint.

Overrides on the command line name ``section.key=value`` (``train.epochs=3``); a key that exists in one
section only may drop the section (``resume=runs/x/last.pt``). Values are parsed as YAML scalars.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcseg.errors import PcsegError


@dataclass
class DataConfig:
    dataset: str = "s3dis"            # s3dis | semantickitti
    root: str = "data/s3dis_cache"    # prepared S3DIS cache, or the SemanticKITTI root (has sequences/)
    test_area: int = 5                # S3DIS area held out for validation/eval
    train_areas: list[int] | None = None   # None: every area but test_area
    train_sequences: list[str] = field(default_factory=lambda: ["00", "01", "02", "03", "04", "05", "06",
                                                                "07", "09", "10"])
    val_sequences: list[str] = field(default_factory=lambda: ["08"])
    block_size: float = 1.0           # PointNet protocol: 1 m x 1 m columns
    block_stride: float = 0.5         # training stride
    eval_stride: float = 0.5          # evaluation stride (overlapping blocks, logits averaged)
    num_points: int = 4096            # points per block
    min_block_points: int = 100       # training blocks with fewer points are skipped
    num_workers: int = 2
    # per-point input channels of the 3D models, in order (pcseg.data.blocks): xyz (block-centred), rgb,
    # xyz_norm (xyz / room extent), normal; the PointNet S3DIS protocol uses the first three (9 channels)
    features: list[str] = field(default_factory=lambda: ["xyz", "rgb", "xyz_norm"])
    # 3D training blocks: per-access augmentations in order (pcseg.data.transforms.AUGMENTATIONS: rotate_z,
    # flip, scale, jitter, tilt, shade, color_jitter, color_drop, density, mix); empty = none
    augment: list[str] = field(default_factory=list)


@dataclass
class ModelConfig:
    name: str = "pointnet"
    args: dict[str, Any] = field(default_factory=dict)   # keyword arguments of create_model(name, ...)


@dataclass
class OptimConfig:
    name: str = "adam"                # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9             # sgd only
    # step: lr *= lr_decay_rate every lr_decay_steps optimiser steps (a staircase); cosine: lr falls from lr
    # to min_lr along half a cosine over lr_decay_steps steps and stays there (SGDR without restarts)
    schedule: str = "step"
    lr_decay_steps: int = 300_000
    lr_decay_rate: float = 0.5        # step only
    min_lr: float = 0.0               # floor of either schedule (the PointNet reference clips at 1e-5)
    # batch-norm momentum schedule of the PointNet family's TensorFlow references (get_bn_decay in
    # charlesq34/pointnet and pointnet2 train.py; A-CNN's is theirs): momentum bn_momentum, times
    # bn_momentum_rate every lr_decay_steps steps, floored at bn_momentum_min (their decay 0.5 -> 0.99).
    # null: every batch-norm layer keeps its own momentum (PyTorch's 0.1)
    bn_momentum: float | None = None
    bn_momentum_rate: float = 0.5
    bn_momentum_min: float = 0.01


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 24
    seed: int = 0
    val_every: int = 1                # validate on whole rooms/scans every N epochs (0: never)
    out: str = "runs/run"             # run folder
    resume: str | None = None         # checkpoint to continue from
    device: str = "auto"              # auto | cpu | cuda
    amp: bool = True                  # mixed precision (CUDA only)
    # bfloat16 autocast when training on CPU (weights, optimiser and labelling stay float32): a step of the
    # bundled lidar network 0.72 -> 0.41 s on a CPU with AVX512-BF16 (tools/bench_range_step.py); a CPU
    # without bfloat16 instructions emulates it, slower than float32, and training says so in one line
    cpu_amp: bool = False
    max_steps_per_epoch: int | None = None   # cap the epoch length (demo configs)
    log_every: int = 10
    loss: str = "ce"                  # ce | ce+lovasz
    lovasz_points: int = 0            # ce+lovasz: its Lovasz term on this many random labelled points a step; 0 all
    class_weights: str = "none"       # none | inverse_sqrt (from training label frequencies)
    # labelling: divide the class probabilities by the loss's class weights (and renormalise): the posterior of
    # the training data without the weighting, which gets more points right and finds rare classes less often
    # (pcseg.engine.losses.unweighting); needs class_weights, whose values training writes into
    # class_weight_values so that the run's config and checkpoints carry them
    unweight_labels: bool = False
    # how much of the weighting labelling divides out: the probabilities times w_k ** -unweight_power; 1 all of
    # it (the training posterior), 0 none (as unweight_labels: false); between, rare classes keep part of the
    # weighting's lift (the bundled lidar model, configs/bundled_lidar.yaml)
    unweight_power: float = 1.0
    class_weight_values: list[float] | None = None
    # weight averaging (SWA/SWAD, pcseg.engine.averaging): from this epoch on (1-based) the weights after
    # every step are averaged, and the run also writes averaged.pt; 0 = off
    average_from: int = 0


@dataclass
class RangeConfig:
    """Spherical projection (RangeNet++, PRBonn/lidar-bonnetal `train/common/laserscan.py`)."""

    height: int = 64
    width: int = 2048
    fov_up: float = 3.0
    fov_down: float = -25.0
    knn: bool = True                  # RangeNet++ kNN post-processing on back-projection
    knn_k: int = 5
    knn_window: int = 5
    knn_sigma: float = 1.0
    knn_cutoff: float = 1.0
    viewpoints: int = 2               # S3DIS: virtual scanner positions per room
    mean: list[float] | None = None   # per-channel normalisation; None: dataset defaults
    std: list[float] | None = None
    # input channels (pcseg.range.projection.CHANNELS: range x y z remission r g b, nx ny nz, the surface
    # normal from neighbouring pixels, roughness, how much those normals disagree, and above_ground, a
    # point's height over the lowest point near it); None: range x y z remission for SemanticKITTI,
    # range x y z r g b for S3DIS
    channels: list[str] | None = None
    viewpoint_height: float = 1.5     # S3DIS: virtual scanner height above the floor (metres)
    visible_tolerance: float = 0.25   # S3DIS: a point is seen from a viewpoint if its range is within this of its pixel's
    augment: bool = True              # training: random rotation about z, mirror, viewpoint jitter
    # LiDAR scans, labelling only: level the scan on its ground plane and put that plane this many metres
    # below the sensor before projecting (pcseg.range.ground); None: the scan as given
    level_ground: float | None = None
    # training: whole-scan augmentations before projection (pcseg.range.augment.SCAN_AUGMENTATIONS:
    # remission_drop, remission_jitter, point_drop, beam_drop, voxel, warp, height, tilt, scale, mix,
    # polarmix; "name:key=value" sets an argument, e.g. "remission_drop:p=0.8"); empty = none
    scan_augment: list[str] = field(default_factory=list)
    # training: each range image cut to a random window of this many columns, wrapping round (RangeFormer's
    # training on slices of the range view, Kong et al. ICCV 2023); null: the whole image. Labelling and
    # validation always see the whole image.
    train_crop: int | None = None
    # labelling: each point's scores blended with the mean scores of the points in the 3 x 3 x 3 cells of
    # smooth_cell metres around its own (pcseg.range.smoothing), smooth_weight of the mean; points whose best
    # class is named in smooth_skip (the ground classes) take no part; null: no smoothing
    smooth_cell: float | None = None
    smooth_weight: float = 0.5
    smooth_skip: list[str] = field(default_factory=list)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    range: RangeConfig = field(default_factory=RangeConfig)


def _check_type(value: Any, tp: Any, where: str, key: str) -> Any:
    """Return ``value`` converted to ``tp`` where that is lossless (int -> float), else raise."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(value, arg, where, key)
            except PcsegError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise PcsegError(where, f"{key} must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_check_type(v, item, where, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise PcsegError(where, f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise PcsegError(where, f"{key} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise PcsegError(where, f"{key} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PcsegError(where, f"{key} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PcsegError(where, f"{key} must be a string, got {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r}")


def _fill(cls: type, data: Any, where: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise PcsegError(where, f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PcsegError(where, f"unknown key {prefix}{unknown[0]} (valid: {', '.join(sorted(names))})")
    values = {}
    for name, value in data.items():
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            values[name] = _fill(tp, value, where, f"{prefix}{name}.")
        else:
            values[name] = _check_type(value, tp, where, f"{prefix}{name}")
    return cls(**values)


# Value ranges checked after type checking, before any data is read: (section.key, test, what it must be).
# ``not (v > 0)`` style tests also refuse NaN.
_RANGES: tuple[tuple[str, Any, str], ...] = (
    ("train.epochs", lambda v: v >= 1, "at least 1"),
    ("train.batch_size", lambda v: v >= 1, "at least 1"),
    ("train.max_steps_per_epoch", lambda v: v is None or v >= 1, "at least 1 (or null for no cap)"),
    ("train.log_every", lambda v: v >= 1, "at least 1"),
    ("train.val_every", lambda v: v >= 0, "0 (never) or more"),
    ("train.average_from", lambda v: v >= 0, "0 (off) or an epoch number"),
    ("optim.lr", lambda v: 0 < v < float("inf"), "a positive number"),
    ("optim.weight_decay", lambda v: 0 <= v < float("inf"), "0 or more"),
    ("optim.momentum", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("optim.schedule", lambda v: v in ("step", "cosine"), "step or cosine"),
    ("optim.lr_decay_steps", lambda v: v >= 1, "at least 1"),
    ("optim.lr_decay_rate", lambda v: 0 < v <= 1, "in (0, 1]"),
    ("optim.min_lr", lambda v: 0 <= v < float("inf"), "0 or more"),
    ("optim.bn_momentum", lambda v: v is None or 0 < v <= 1, "in (0, 1] (or null: each layer's own)"),
    ("optim.bn_momentum_rate", lambda v: 0 < v <= 1, "in (0, 1]"),
    ("optim.bn_momentum_min", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("data.num_points", lambda v: v >= 1, "at least 1"),
    ("data.block_size", lambda v: 0 < v < float("inf"), "a positive number"),
    ("data.block_stride", lambda v: 0 < v < float("inf"), "a positive number"),
    ("data.eval_stride", lambda v: 0 < v < float("inf"), "a positive number"),
    ("data.min_block_points", lambda v: v >= 0, "0 or more"),
    ("data.num_workers", lambda v: v >= 0, "0 or more"),
    ("range.height", lambda v: v >= 1, "at least 1"),
    ("range.width", lambda v: v >= 1, "at least 1"),
    ("range.knn_k", lambda v: v >= 1, "at least 1"),
    ("range.knn_window", lambda v: v >= 1, "at least 1"),
    ("range.knn_sigma", lambda v: 0 < v < float("inf"), "a positive number"),
    ("range.knn_cutoff", lambda v: 0 < v < float("inf"), "a positive number"),
    ("range.viewpoints", lambda v: v >= 1, "at least 1"),
    ("range.train_crop", lambda v: v is None or v >= 1, "at least 1 (or null: the whole image)"),
    ("range.smooth_cell", lambda v: v is None or 0 < v < float("inf"), "a positive number (or null: no smoothing)"),
    ("range.smooth_weight", lambda v: 0 <= v <= 1, "in [0, 1]"),
)


def check_ranges(cfg: Config, where: str = "config") -> None:
    """Refuse values no run can use (``train.epochs=0``, a negative batch size or learning rate...), naming
    the key. Raises PcsegError."""
    for key, ok, what in _RANGES:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not ok(value):
            raise PcsegError(where, f"{key} must be {what}, got {value!r}")


def config_from_dict(data: dict, where: str = "config") -> Config:
    cfg = _fill(Config, data, where, "")
    check_ranges(cfg, where)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def apply_overrides(data: dict, overrides: list[str], where: str = "command line") -> dict:
    """Apply ``section.key=value`` strings to a plain config dict (before type checking)."""
    import yaml

    sections = {f.name: {g.name for g in dataclasses.fields(typing.get_type_hints(Config)[f.name])}
                for f in dataclasses.fields(Config)}
    for item in overrides:
        if "=" not in item:
            raise PcsegError(where, f"override {item!r} is not key=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        if len(parts) == 1:
            owners = [s for s, keys in sections.items() if parts[0] in keys]
            if len(owners) != 1:
                raise PcsegError(where, f"unknown key {key!r}" if not owners else
                                 f"key {key!r} is ambiguous: say {' or '.join(o + '.' + key for o in owners)}")
            parts = [owners[0], parts[0]]
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise PcsegError(where, f"{key}: {part} is not a section")
        node[parts[-1]] = value
    return data


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or start from defaults when ``path`` is None), apply overrides, type-check."""
    import yaml

    data: dict = {}
    where = str(path) if path is not None else "config"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise PcsegError(p, "config file not found")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise PcsegError(p, f"not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise PcsegError(p, "a config file must be a YAML mapping of sections")
    cfg = config_from_dict(data, where)
    if overrides:
        cfg = config_from_dict(apply_overrides(config_to_dict(cfg), overrides), f"{where} (with overrides)")
    return cfg


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Write the resolved config as YAML, atomically."""
    import yaml

    from pcseg.utils import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
