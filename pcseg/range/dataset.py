"""Range-image training data for the 2D models, and the validation clouds they are scored on.

``build_range_datasets(cfg, seed) -> (RangeDataset, [(name, loader), ...])`` is what the engine calls for
2D models (pcseg.engine.data). Training items are ``{"image": (C, H, W) float32, "label": (H, W) int64}``
with IGNORE (-1) on empty pixels and unlabelled points; validation is per point on whole scans / rooms
(pcseg.range.inference.predict_scan), never on pixels.

- SemanticKITTI (``data.dataset: semantickitti``): one item per scan of ``data.train_sequences``, seen from
  its own sensor origin; validation scans are those of ``data.val_sequences``.
- S3DIS (``data.dataset: s3dis``): ``range.viewpoints`` items per prepared room of the training areas, each
  the room seen from one virtual scanner (pcseg.range.viewpoints); validation rooms are those of
  ``data.test_area``.

Augmentation (``range.augment``, training only): a random rotation about the vertical axis, a mirror
(y -> -y) with probability 1/2, and for rooms a jittered viewpoint; ``range.scan_augment`` changes whole
scans first, and its ``mix`` (LaserMix) and ``polarmix`` (PolarMix) blend a scan with another random training
scan here. All are drawn from a generator seeded by (seed, epoch, item), so items do not depend on the worker
that builds them (``set_epoch`` as BlockDataset).

Normalisation: ``range.mean/std`` when given; the RangeNet++ statistics for the KITTI channels; otherwise
they are measured here on up to ``STATS_ITEMS`` un-augmented training images (pixels holding a point) and
written into ``cfg.range.mean/std`` so the run's config.yaml and checkpoints carry them.
"""

from __future__ import annotations

import math
import sys
from typing import Callable, Sequence

import numpy as np
import torch

from pcseg.classes import IGNORE, get_class_set
from pcseg.config import Config
from pcseg.data.transforms import find
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.range.augment import LaserMix, PolarMix
from pcseg.range.projection import (ABOVE_GROUND_CHANNEL, NORMAL_CHANNELS, ROUGHNESS_CHANNEL, Projection,
                                    above_ground, label_image, make_image, normal_roughness, pixel_normals,
                                    pixel_points, point_channels, project, single_thread)
from pcseg.range.spec import RangeSpec, range_spec
from pcseg.range.viewpoints import room_frame, room_viewpoints

STATS_ITEMS = 32          # training images measured for the normalisation statistics
COUNT_CLOUDS = 200        # training clouds read (evenly spaced) for the class frequencies

Loader = Callable[[], Cloud]


def view_coords(coord: np.ndarray | torch.Tensor, origin: Sequence[float] | None = None, yaw: float = 0.0,
                mirror: bool = False) -> torch.Tensor:
    """Points in a scanner frame at ``origin``, turned by ``yaw`` about z and optionally mirrored (y -> -y).

    Shapes: coord (N, 3) -> (N, 3) float32 tensor
    """
    if isinstance(coord, torch.Tensor):
        xyz = coord.to(torch.float32)
    else:   # a copy: cache arrays are read-only memory maps
        xyz = torch.from_numpy(np.array(coord, dtype=np.float32))
    if origin is not None:
        xyz = xyz - torch.as_tensor(np.asarray(origin, dtype=np.float32))
    if yaw:
        c, s = math.cos(yaw), math.sin(yaw)
        rot = torch.tensor([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float32)
        xyz = xyz @ rot
    if mirror:
        xyz = xyz * torch.tensor([1.0, -1.0, 1.0])
    return xyz


def view_values(cloud: Cloud, xyz: torch.Tensor, spec: RangeSpec) -> tuple[Projection, torch.Tensor]:
    """Project scanner-frame points and gather the raw channel values of the points that own a pixel.

    Shapes: xyz (N, 3) -> Projection, values (P, C) float32 for ``pixel_points(proj)`` (NaN for channels the
    cloud lacks)
    """
    proj = project(xyz, spec.height, spec.width, spec.fov_up, spec.fov_down)
    win = pixel_points(proj)
    win_np = win.numpy()
    intensity = None if cloud.intensity is None else torch.from_numpy(np.asarray(cloud.intensity)[win_np]
                                                                      .astype(np.float32))
    color = None if cloud.color is None else torch.from_numpy(np.asarray(cloud.color)[win_np].astype(np.float32))
    rough = ROUGHNESS_CHANNEL in spec.channels
    normal = pixel_normals(proj, xyz) if rough or any(c in NORMAL_CHANNELS for c in spec.channels) else None
    roughness = normal_roughness(proj, normal) if rough else None
    # the ground is found from every point, also those that lost their pixel to a nearer one
    height = above_ground(xyz)[win] if ABOVE_GROUND_CHANNEL in spec.channels else None
    return proj, point_channels(xyz[win], proj.point_range[win], spec.channels, intensity, color, normal,
                                roughness, height)


class RangeDataset(torch.utils.data.Dataset):
    """Range images of clouds: one item per (cloud, viewpoint).

    Args:
        sources: zero-argument callables returning a labelled Cloud (picklable ones for DataLoader workers).
        spec: image size, field of view, channels, normalisation and viewpoint settings (RangeSpec).
        num_classes: K; labels outside [0, K) become IGNORE.
        augment: random rotation / mirror / viewpoint jitter (see the module docstring).
        seed: base of the per-item random generators.
        crop: when set, each item is a window of this many columns of the image, starting at a random column
            and wrapping round (a spinning scan's image is a full turn), so a training step costs about
            crop / W of the whole image's (RangeFormer's scalable training from range view trains on slices
            of the image, Kong et al. ICCV 2023); None: the whole image.

    Shapes: item {"image": (C, H, W') float32, "label": (H, W') int64}, W' = crop or W
    """

    def __init__(self, sources: Sequence[Loader], spec: RangeSpec, num_classes: int, augment: bool = False,
                 seed: int = 0, scan_augment: Callable[[Cloud, np.random.Generator], Cloud] | None = None,
                 crop: int | None = None):
        if crop is not None and not 1 <= crop <= spec.width:
            raise ValueError(f"crop must be in [1, {spec.width}] columns, got {crop}")
        self.crop = crop
        self.sources = list(sources)
        self.spec = spec
        self.num_classes = int(num_classes)
        self.augment = bool(augment)
        self.scan_augment = scan_augment
        # the scan mixes (LaserMix, PolarMix) need a second scan, so they act here
        self._mixes = [m for m in (find(scan_augment, LaserMix), find(scan_augment, PolarMix)) if m is not None]
        self.seed = int(seed)
        self.epoch = 0
        self.views = max(1, spec.viewpoints)
        self._class_counts: np.ndarray | None = None
        self._frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.sources) * self.views

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __repr__(self) -> str:
        s = self.spec
        return (f"RangeDataset({len(self.sources)} clouds x {self.views} view(s), {s.height}x{s.width}, "
                f"channels {','.join(s.channels)}, augment={self.augment}, scan_augment={self.scan_augment!r})")

    def _view(self, index: int, augment: bool) -> tuple[Cloud, Projection, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        cloud = self.sources[index // self.views]()
        view = index % self.views
        rng = np.random.default_rng([self.seed, self.epoch, index]) if augment else None
        if rng is not None and self.scan_augment is not None:
            cloud = self.scan_augment(cloud, rng)
            for mix in self._mixes:
                if self.spec.viewpoints == 0 and len(self.sources) > 1 and rng.random() < mix.p:
                    other = int(rng.integers(len(self.sources) - 1))
                    other += other >= index // self.views
                    cloud = mix.mix(cloud, self.scan_augment(self.sources[other](), rng), rng,
                                    self.spec.fov_up, self.spec.fov_down)
        origin = None
        if self.spec.viewpoints > 0:
            source = index // self.views
            if source not in self._frames:           # the room's extent, once per room (and worker)
                self._frames[source] = room_frame(cloud.coord)
            origin = room_viewpoints(cloud.coord, self.views, self.spec.viewpoint_height, rng,
                                     self._frames[source])[view]
        yaw, mirror = 0.0, False
        if rng is not None:
            yaw = float(rng.uniform(0, 2 * math.pi))
            mirror = bool(rng.random() < 0.5)
        xyz = view_coords(cloud.coord, origin, yaw, mirror)
        proj, values = view_values(cloud, xyz, self.spec)
        return cloud, proj, values

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.spec.mean is None:
            raise PcsegError("range.mean", "RangeDataset needs the normalisation; use build_range_datasets")
        cloud, proj, values = self._view(index, self.augment)
        image = make_image(proj, values, self.spec.mean, self.spec.std)
        if cloud.label is None:
            raise PcsegError(cloud.meta.get("source", "training cloud"), "has no labels")
        label = torch.from_numpy(np.array(cloud.label, dtype=np.int64))
        label = torch.where((label >= 0) & (label < self.num_classes), label, torch.full_like(label, IGNORE))
        label = label_image(proj, label)
        if self.crop is not None:
            start = int(np.random.default_rng([self.seed, self.epoch, index, 1]).integers(self.spec.width))
            columns = torch.from_numpy((start + np.arange(self.crop)) % self.spec.width)
            image, label = image[..., columns], label[:, columns]
        return {"image": image, "label": label}

    def channel_stats(self, max_items: int = STATS_ITEMS) -> tuple[list[float], list[float]]:
        """Mean and standard deviation of every channel over the pixels holding a point, on up to
        ``max_items`` evenly spaced un-augmented items. A channel no cloud has gets (0, 1)."""
        n = len(self)
        picks = np.unique(np.linspace(0, n - 1, min(n, max_items)).round().astype(int))
        c = self.spec.num_channels
        total = torch.zeros(c, dtype=torch.float64)
        total_sq = torch.zeros(c, dtype=torch.float64)
        count = torch.zeros(c, dtype=torch.float64)
        for i in picks:
            with single_thread():
                _, _, values = self._view(int(i), augment=False)
            v = values.to(torch.float64)
            ok = torch.isfinite(v)
            v = torch.where(ok, v, torch.zeros_like(v))
            total += v.sum(0)
            total_sq += (v * v).sum(0)
            count += ok.sum(0)
        mean = torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))
        var = torch.where(count > 0, total_sq / count.clamp_min(1) - mean ** 2, torch.ones_like(total))
        std = var.clamp_min(0).sqrt().clamp_min(1e-3)
        return [round(float(x), 4) for x in mean], [round(float(x), 4) for x in std]

    @property
    def class_counts(self) -> np.ndarray:
        """(K,) int64 labelled points per class over (up to COUNT_CLOUDS evenly spaced) training clouds;
        the engine turns these into class weights. Computed on first use."""
        if self._class_counts is None:
            n = len(self.sources)
            picks = np.unique(np.linspace(0, n - 1, min(n, COUNT_CLOUDS)).round().astype(int))
            counts = np.zeros(self.num_classes, dtype=np.int64)
            for i in picks:
                lab = self.sources[int(i)]().label
                if lab is None:
                    continue
                lab = np.asarray(lab)
                lab = lab[(lab >= 0) & (lab < self.num_classes)]
                counts += np.bincount(lab, minlength=self.num_classes)
            self._class_counts = counts
        return self._class_counts


class RoomLoader:
    """A picklable zero-argument callable loading one prepared S3DIS room from the cache."""

    def __init__(self, cache: object, ref: object):
        self.cache = cache
        self.ref = ref

    def __call__(self) -> Cloud:
        return self.cache.load(self.ref)

    def __repr__(self) -> str:
        return f"RoomLoader({getattr(self.ref, 'path', self.ref)})"


def _area_number(area: object) -> int:
    return area if isinstance(area, int) else int(str(area).split("_")[-1])


def room_name(ref: object) -> str:
    """'Area_5_office_1' (the name the 3D models' validation uses too)."""
    return f"Area_{_area_number(ref.area)}_{ref.name}"


def _kitti_sources(cfg: Config, train: bool) -> tuple[list[Loader], list[tuple[str, Loader]]]:
    from pcseg.data.kitti import ScanLoader, find_scans

    sources = [ScanLoader(r) for r in find_scans(cfg.data.root, cfg.data.train_sequences)] if train else []
    val = [(r.name, ScanLoader(r)) for r in find_scans(cfg.data.root, cfg.data.val_sequences)] \
        if cfg.data.val_sequences else []
    return sources, val


def _s3dis_sources(cfg: Config, train: bool) -> tuple[list[Loader], list[tuple[str, Loader]]]:
    from pcseg.data.s3dis import S3DISCache

    cache = S3DISCache(cfg.data.root)
    refs = cache.rooms(None)
    sources: list[Loader] = []
    if train:
        available = sorted({_area_number(r.area) for r in refs})
        if cfg.data.train_areas is not None:
            areas = [int(a) for a in cfg.data.train_areas]
        else:
            areas = [a for a in available if a != cfg.data.test_area]
        if cfg.data.test_area in areas:
            raise PcsegError("data.train_areas", f"the test area {cfg.data.test_area} is also a training area")
        sources = [RoomLoader(cache, r) for r in refs if _area_number(r.area) in areas]
        if not sources:
            raise PcsegError(cfg.data.root, f"no prepared rooms in training areas {areas}")
    val = [(room_name(r), RoomLoader(cache, r)) for r in refs if _area_number(r.area) == cfg.data.test_area]
    return sources, val


def _check_dataset(cfg: Config):
    if cfg.data.dataset not in ("s3dis", "semantickitti"):
        raise PcsegError("data.dataset", f"range-image models train on s3dis or semantickitti, "
                                         f"got {cfg.data.dataset!r}")
    return get_class_set(cfg.data.dataset)


def range_val_clouds(cfg: Config) -> list[tuple[str, Loader]]:
    """Only the validation clouds (``data.val_sequences`` scans or ``data.test_area`` rooms) as
    (name, zero-argument loader) pairs; needs no training data (for ``pcseg eval``)."""
    _check_dataset(cfg)
    return (_kitti_sources if cfg.data.dataset == "semantickitti" else _s3dis_sources)(cfg, False)[1]


def build_range_datasets(cfg: Config, seed: int) -> tuple[RangeDataset, list[tuple[str, Loader]]]:
    """The training RangeDataset and the validation clouds as (name, zero-argument loader) pairs.

    Side effect: when ``cfg.range.mean/std`` are unset and the channels are not the KITTI ones, the
    statistics are measured on the training set and written into ``cfg.range`` (call this before saving the
    config). Checks ``model.args.in_channels`` against the channels when the config sets it.
    """
    classes = _check_dataset(cfg)
    spec = range_spec(cfg)
    in_channels = cfg.model.args.get("in_channels")
    if in_channels is not None and int(in_channels) != spec.num_channels:
        raise PcsegError("model.args.in_channels", f"is {in_channels}, but the range image has "
                                                   f"{spec.num_channels} channels ({', '.join(spec.channels)})")
    train, val = (_kitti_sources if cfg.data.dataset == "semantickitti" else _s3dis_sources)(cfg, True)
    from pcseg.range.augment import build_scan_augmentation

    try:
        scan_augment = build_scan_augmentation(cfg.range.scan_augment)
    except ValueError as exc:
        raise PcsegError("range.scan_augment", str(exc)) from None
    try:
        dataset = RangeDataset(train, spec, classes.num_classes, augment=cfg.range.augment, seed=seed,
                               scan_augment=scan_augment, crop=cfg.range.train_crop)
    except ValueError as exc:                   # the crop is the one argument the dataset refuses
        raise PcsegError("range.train_crop", f"{exc} (range.width {spec.width})") from None
    if spec.mean is None:
        mean, std = dataset.channel_stats()
        cfg.range.mean, cfg.range.std = mean, std
        dataset.spec = range_spec(cfg, need_stats=True)
        print(f"pcseg: range-image normalisation from {min(len(dataset), STATS_ITEMS)} training images: "
              + ", ".join(f"{c} {m:g}+-{s:g}" for c, m, s in zip(spec.channels, mean, std)), file=sys.stderr)
    return dataset, val


__all__ = ["RangeDataset", "build_range_datasets", "range_val_clouds", "RoomLoader", "room_name", "view_coords",
           "view_values"]
