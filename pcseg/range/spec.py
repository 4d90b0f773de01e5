"""The range-image settings of a run, resolved from the config: image size, field of view, input channels and
their normalisation, and where the virtual scanner stands.

- SemanticKITTI: the scan's own sensor origin, 64 x 2048 (or 1024), fov +3 / -25 deg, channels range, x, y,
  z, remission normalised by RangeNet++'s statistics (pcseg.range.projection.KITTI_MEAN/STD) unless the
  config gives others; with ``range.level_ground`` the scan is levelled on its ground first
  (pcseg.range.ground).
- S3DIS (and any indoor cloud a S3DIS-trained model segments): ``range.viewpoints`` virtual scanners inside
  the room (pcseg.range.viewpoints), channels range, x, y, z, r, g, b; the normalisation comes from the
  training set (pcseg.range.dataset.build_range_datasets computes it and stores it in ``range.mean/std``, so
  the run's config.yaml and checkpoints carry it).
"""

from __future__ import annotations

from dataclasses import dataclass

from pcseg.config import Config
from pcseg.errors import PcsegError
from pcseg.range.projection import CHANNELS, KITTI_CHANNELS, KITTI_MEAN, KITTI_STD

S3DIS_CHANNELS = ("range", "x", "y", "z", "r", "g", "b")


@dataclass(frozen=True)
class RangeSpec:
    height: int
    width: int
    fov_up: float
    fov_down: float
    channels: tuple[str, ...]
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    viewpoints: int            # 0: the cloud's origin is the sensor (LiDAR scans); >= 1: virtual viewpoints
    viewpoint_height: float
    visible_tolerance: float
    level_ground: float | None = None   # LiDAR: ground put this far below the sensor (pcseg.range.ground)

    @property
    def num_channels(self) -> int:
        return len(self.channels)


def default_channels(dataset: str) -> tuple[str, ...]:
    return KITTI_CHANNELS if dataset == "semantickitti" else S3DIS_CHANNELS


def range_channels(cfg: Config) -> tuple[str, ...]:
    """The input channels of a 2D model (so ``in_channels = len(range_channels(cfg))``)."""
    channels = tuple(cfg.range.channels) if cfg.range.channels else default_channels(cfg.data.dataset)
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise PcsegError("range.channels", f"unknown channel {unknown[0]!r} (valid: {', '.join(CHANNELS)})")
    if len(set(channels)) != len(channels):
        raise PcsegError("range.channels", f"a channel is listed twice: {list(channels)}")
    return channels


def range_spec(cfg: Config, need_stats: bool = False) -> RangeSpec:
    """Resolve ``cfg.range`` for ``cfg.data.dataset``. With ``need_stats`` the normalisation must be known
    (given in the config, or the KITTI default for the KITTI channels), else PcsegError."""
    r = cfg.range
    channels = range_channels(cfg)
    if r.height < 1 or r.width < 1:
        raise PcsegError("range.height", f"image size must be positive, got {r.height}x{r.width}")
    if r.fov_up <= r.fov_down:
        raise PcsegError("range.fov_up", f"fov_up ({r.fov_up}) must be above fov_down ({r.fov_down})")
    mean = tuple(r.mean) if r.mean is not None else None
    std = tuple(r.std) if r.std is not None else None
    if (mean is None) != (std is None):
        raise PcsegError("range.mean", "give both range.mean and range.std, or neither")
    if mean is None and channels == KITTI_CHANNELS:
        mean, std = KITTI_MEAN, KITTI_STD
    if mean is not None:
        if len(mean) != len(channels) or len(std) != len(channels):
            raise PcsegError("range.mean", f"range.mean/std need one value per channel {list(channels)}, "
                                           f"got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise PcsegError("range.std", f"standard deviations must be positive, got {list(std)}")
    elif need_stats:
        raise PcsegError("range.mean", "the input normalisation (range.mean/std) is not set; training "
                                       "computes it from the training set and stores it in the checkpoint")
    if cfg.data.dataset == "semantickitti":
        viewpoints = 0
    else:
        viewpoints = int(r.viewpoints)
        if viewpoints < 1:
            raise PcsegError("range.viewpoints", f"indoor clouds need at least one viewpoint, got {viewpoints}")
    level = None if r.level_ground is None else float(r.level_ground)
    if level is not None and (viewpoints != 0 or not 0 < level < float("inf")):
        raise PcsegError("range.level_ground", f"must be a height in metres above 0 for LiDAR scans "
                                               f"(data.dataset semantickitti), got {r.level_ground!r} for "
                                               f"{cfg.data.dataset}")
    return RangeSpec(height=int(r.height), width=int(r.width), fov_up=float(r.fov_up), fov_down=float(r.fov_down),
                     channels=channels, mean=mean, std=std, viewpoints=viewpoints,
                     viewpoint_height=float(r.viewpoint_height), visible_tolerance=float(r.visible_tolerance),
                     level_ground=level)


__all__ = ["RangeSpec", "range_spec", "range_channels", "default_channels", "S3DIS_CHANNELS"]
