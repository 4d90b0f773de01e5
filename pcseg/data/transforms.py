"""Per-access augmentations for block samples: small callables, sample in, sample out.

A sample is a dict of numpy arrays with at least ``coord`` (N, 3) float32 (block-local metres) and
optionally ``normal`` (N, 3), ``color`` (N, 3), ``label`` (N,). Geometric transforms change ``coord`` and,
where it matters, ``normal``; they never touch ``label``. Randomness comes from the generator passed to
``__call__`` (pcseg.data.blocks.BlockDataset passes one derived from (seed, epoch, index)), so results can be
pinned in tests; without one a fresh unseeded numpy Generator is used.

Defaults follow the PointNet reference augmentation (charlesq34/pointnet `provider.py`:
``rotate_point_cloud`` about the up axis, ``jitter_point_cloud`` sigma 0.01 clip 0.05).

Shapes: sample["coord"] (N, 3) -> (N, 3); sample["normal"] (N, 3) -> (N, 3).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

Sample = dict[str, Any]


def _rng(rng: np.random.Generator | Any | None) -> np.random.Generator:
    """A numpy Generator from a numpy Generator, a torch Generator (seeded from it) or None."""
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if type(rng).__module__.startswith("torch"):
        import torch

        return np.random.default_rng(int(torch.randint(0, 2**63 - 1, (1,), generator=rng)))
    raise TypeError(f"expected a numpy or torch Generator, got {type(rng).__name__}")


def _rotated(sample: Sample, rot: np.ndarray) -> Sample:
    """The sample with ``coord`` (and ``normal``) rotated by the (3, 3) matrix ``rot``."""
    out = dict(sample)
    out["coord"] = (sample["coord"] @ rot.T).astype(np.float32)
    if sample.get("normal") is not None:
        out["normal"] = (sample["normal"] @ rot.T).astype(np.float32)
    return out


def first_per_voxel(coord: np.ndarray, size: float, origin: np.ndarray | None = None) -> np.ndarray:
    """Indices of the first point in each occupied cubic voxel of edge ``size`` (grid anchored at ``origin``,
    default 0): a thinning that keeps points as they are (labels are never averaged).

    Shapes: coord (N, 3) -> index (M,) int64 sorted, M <= N"""
    keys = np.floor((np.asarray(coord, dtype=np.float64) - (0.0 if origin is None else origin)) / size)
    keys = keys.astype(np.int64)
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    _, first = np.unique((keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2], return_index=True)
    return np.sort(first)


def z_rotation(angle: float) -> np.ndarray:
    """The rotation by ``angle`` radians about the vertical axis (counter-clockwise seen from above).

    Shapes: -> (3, 3) float64
    """
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def tilt_matrix(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A rotation by U(-max_degrees, max_degrees) about a random horizontal axis (Rodrigues' formula).

    Shapes: -> (3, 3) float64
    """
    a = rng.uniform(0, 2 * np.pi)
    axis = np.array([np.cos(a), np.sin(a), 0.0])
    theta = np.radians(rng.uniform(-max_degrees, max_degrees))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * k @ k


class Compose:
    """Apply transforms in order, sharing one generator."""

    def __init__(self, transforms: Sequence[Callable[..., Sample]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        rng = _rng(rng)
        for t in self.transforms:
            sample = t(sample, rng)
        return sample

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class RandomRotateZ:
    """Rotate about the vertical axis by an angle uniform in [-max_angle, max_angle] radians
    (default: the full turn, as PointNet's ``rotate_point_cloud``)."""

    def __init__(self, max_angle: float = np.pi) -> None:
        self.max_angle = float(max_angle)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        rng = _rng(rng)
        return _rotated(sample, z_rotation(rng.uniform(-self.max_angle, self.max_angle)).astype(np.float32))

    def __repr__(self) -> str:
        return f"RandomRotateZ(max_angle={self.max_angle:.4g})"


class RandomScale:
    """Scale coordinates by one factor uniform in [low, high] (isotropic; normals unchanged)."""

    def __init__(self, low: float = 0.9, high: float = 1.1) -> None:
        if not 0 < low <= high:
            raise ValueError(f"need 0 < low <= high, got {low}, {high}")
        self.low, self.high = float(low), float(high)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        rng = _rng(rng)
        out = dict(sample)
        out["coord"] = (sample["coord"] * np.float32(rng.uniform(self.low, self.high))).astype(np.float32)
        return out

    def __repr__(self) -> str:
        return f"RandomScale(low={self.low}, high={self.high})"


class RandomJitter:
    """Add gaussian noise (sigma metres, clipped to +-clip) to every coordinate
    (PointNet ``jitter_point_cloud``: sigma 0.01, clip 0.05)."""

    def __init__(self, sigma: float = 0.01, clip: float = 0.05) -> None:
        if sigma < 0 or clip < 0:
            raise ValueError(f"sigma and clip must be >= 0, got {sigma}, {clip}")
        self.sigma, self.clip = float(sigma), float(clip)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        rng = _rng(rng)
        coord = sample["coord"]
        noise = np.clip(rng.normal(0.0, self.sigma, size=coord.shape), -self.clip, self.clip)
        out = dict(sample)
        out["coord"] = (coord + noise).astype(np.float32)
        return out

    def __repr__(self) -> str:
        return f"RandomJitter(sigma={self.sigma}, clip={self.clip})"


class RandomFlipXY:
    """Mirror x and y independently, each with probability p (coordinates and normals)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        rng = _rng(rng)
        flip = rng.random(2) < self.p
        sign = np.array([-1.0 if flip[0] else 1.0, -1.0 if flip[1] else 1.0, 1.0], dtype=np.float32)
        out = dict(sample)
        out["coord"] = (sample["coord"] * sign).astype(np.float32)
        if sample.get("normal") is not None:
            out["normal"] = (sample["normal"] * sign).astype(np.float32)
        return out

    def __repr__(self) -> str:
        return f"RandomFlipXY(p={self.p})"


class RandomTilt:
    """Rotate about a random horizontal axis by up to ``max_degrees``: real scans are not levelled exactly,
    synthetic ones are (coordinates and normals)."""

    def __init__(self, max_degrees: float = 3.0) -> None:
        if max_degrees < 0:
            raise ValueError(f"max_degrees must be >= 0, got {max_degrees}")
        self.max_degrees = float(max_degrees)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        return _rotated(sample, tilt_matrix(_rng(rng), self.max_degrees).astype(np.float32))

    def __repr__(self) -> str:
        return f"RandomTilt(max_degrees={self.max_degrees})"


class RandomColorJitter:
    """Photometric change of the whole sample, as between two cameras or two exposures: brightness
    (multiplied by 1 +- ``brightness``), contrast around the sample mean (1 +- ``contrast``), a per-channel
    gain (white balance, 1 +- ``balance``) and per-point noise (sigma ``noise``); colours stay in [0, 1]."""

    def __init__(self, brightness: float = 0.25, contrast: float = 0.25, balance: float = 0.1,
                 noise: float = 0.03) -> None:
        if min(brightness, contrast, balance, noise) < 0:
            raise ValueError("jitter amounts must be >= 0")
        self.brightness, self.contrast, self.balance, self.noise = (float(brightness), float(contrast),
                                                                    float(balance), float(noise))

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        if sample.get("color") is None:
            return sample
        rng = _rng(rng)
        color = np.asarray(sample["color"], dtype=np.float32)
        mean = color.mean(axis=0, keepdims=True)
        color = (color - mean) * rng.uniform(1 - self.contrast, 1 + self.contrast) + mean
        color = color * rng.uniform(1 - self.brightness, 1 + self.brightness)
        color = color * rng.uniform(1 - self.balance, 1 + self.balance, size=(1, 3))
        color = color + rng.normal(0, self.noise, size=color.shape)
        out = dict(sample)
        out["color"] = np.clip(color, 0, 1).astype(np.float32)
        return out

    def __repr__(self) -> str:
        return (f"RandomColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"balance={self.balance}, noise={self.noise})")


class RandomShade:
    """Light that falls unevenly across a surface, as in the photographs that colour a real scan: with
    probability p the points on one side of a random plane through the sample are darkened by a factor
    drawn from ``dark``, the change spread linearly over a soft edge ``edge`` metres wide (a penumbra, or the
    seam between two photographs taken at different exposures). A synthetic room's surfaces are lit evenly
    away from its cast shadows, so a dark patch of wall can become a class cue (doors are read mostly from
    colour); this takes that cue away. The ranges are a modelling choice, not measured ones. Colours stay in
    [0, 1]; coordinates and labels are untouched."""

    def __init__(self, p: float = 0.5, dark: tuple[float, float] = (0.55, 0.9),
                 edge: tuple[float, float] = (0.02, 0.3)) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if not 0 < dark[0] <= dark[1] <= 1 or not 0 < edge[0] <= edge[1]:
            raise ValueError(f"need 0 < dark low <= high <= 1 and 0 < edge low <= high, got {dark}, {edge}")
        self.p, self.dark, self.edge = float(p), (float(dark[0]), float(dark[1])), (float(edge[0]), float(edge[1]))

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        if sample.get("color") is None or len(sample["color"]) == 0:
            return sample
        rng = _rng(rng)
        if rng.random() >= self.p:
            return sample
        normal = rng.normal(size=3)
        side = np.asarray(sample["coord"], dtype=np.float64) @ (normal / max(np.linalg.norm(normal), 1e-12))
        cut, width = rng.uniform(side.min(), side.max()), rng.uniform(*self.edge)
        shaded = np.clip((side - cut) / width + 0.5, 0.0, 1.0)       # 0 lit, 1 in full shade
        factor = 1.0 - (1.0 - rng.uniform(*self.dark)) * shaded
        out = dict(sample)
        out["color"] = np.clip(np.asarray(sample["color"], dtype=np.float32) * factor[:, None].astype(np.float32),
                               0, 1)
        return out

    def __repr__(self) -> str:
        return f"RandomShade(p={self.p}, dark={self.dark}, edge={self.edge})"


class RandomColorDrop:
    """With probability p replace the whole sample's colour by mid-grey 0.5: exactly what ``pcseg segment``
    feeds a model trained with rgb when a cloud has no colour (pcseg.engine.inference.prepare_inputs), so a
    model trained with this stays sensible on colourless clouds and cannot lean on colour alone."""

    GREY = 0.5

    def __init__(self, p: float = 0.2) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        if sample.get("color") is None:
            return sample
        rng = _rng(rng)
        if rng.random() >= self.p:
            return sample
        out = dict(sample)
        out["color"] = np.full_like(np.asarray(sample["color"], dtype=np.float32), self.GREY)
        return out

    def __repr__(self) -> str:
        return f"RandomColorDrop(p={self.p})"


class RandomDensity:
    """Uneven density, as a scanner leaves it: with probability p, before a block's points are sampled,
    points are kept with probability ``min(1, (reach / d)^2)``, d their distance to a virtual scanner placed
    at a random spot up to 4 m from the block at 0.8-1.8 m height (density of a scan falls with the square of
    the distance; S3DIS rooms were captured from several tripod positions, Armeni et al. CVPR 2016), so some
    blocks are sparse and unevenly sampled where training rooms are dense everywhere. At least a quarter of
    the points stay. Acts in pcseg.data.blocks.BlockDataset through :meth:`keep` (it needs the block's
    points before the fixed-size sample is drawn); as a sample transform it passes the sample through.
    """

    def __init__(self, p: float = 0.5, reach: tuple[float, float] = (0.8, 3.0), min_keep: float = 0.25) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p, self.reach, self.min_keep = float(p), (float(reach[0]), float(reach[1])), float(min_keep)

    def keep(self, coord: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Indices of the points kept. Shapes: coord (N, 3) room coordinates -> (M,) int64, M >= N / 4."""
        n = len(coord)
        if n == 0 or self.p == 0 or rng.random() >= self.p:      # p = 0 draws nothing: off
            return np.arange(n)
        coord = np.asarray(coord, dtype=np.float64)
        angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 4.0)
        centre = coord.mean(axis=0)
        scanner = np.array([centre[0] + dist * np.cos(angle), centre[1] + dist * np.sin(angle),
                            coord[:, 2].min() + rng.uniform(0.8, 1.8)])
        d = np.linalg.norm(coord - scanner, axis=1)
        prob = np.minimum(1.0, (rng.uniform(*self.reach) / np.maximum(d, 1e-3)) ** 2)
        kept = np.flatnonzero(rng.random(n) < prob)
        least = int(np.ceil(self.min_keep * n))
        if len(kept) < least:                         # too sparse: keep the points nearest the scanner
            kept = np.sort(np.argsort(d, kind="stable")[:least])
        return kept

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        return sample

    def __repr__(self) -> str:
        return f"RandomDensity(p={self.p}, reach={self.reach}, min_keep={self.min_keep})"


class MixBlocks:
    """Out-of-context mixing (Mix3D, Nekrasov et al., 3DV 2021: two augmented scenes overlaid in one
    sample, so a model cannot lean on the context a synthetic room always gives): with probability p a
    training block is half its own points and half the points of another random block (another room,
    usually), both in block-local coordinates and each augmented on its own. Acts in
    pcseg.data.blocks.BlockDataset (it needs a second block); as a sample transform it passes through."""

    def __init__(self, p: float = 0.3) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, sample: Sample, rng: np.random.Generator | Any | None = None) -> Sample:
        return sample

    def __repr__(self) -> str:
        return f"MixBlocks(p={self.p})"


def find(transform: Any, kind: type) -> Any:
    """The first transform of type ``kind`` in ``transform`` (a Compose or a single transform), or None."""
    for t in getattr(transform, "transforms", [transform]):
        if isinstance(t, kind):
            return t
    return None


# the words ``data.augment`` accepts in a config, each with the defaults above
AUGMENTATIONS: dict[str, Callable[[], Callable[..., Sample]]] = {
    "rotate_z": RandomRotateZ, "flip": RandomFlipXY, "scale": RandomScale, "jitter": RandomJitter,
    "tilt": RandomTilt, "shade": RandomShade, "color_jitter": RandomColorJitter, "color_drop": RandomColorDrop,
    "density": RandomDensity, "mix": MixBlocks,
}


def build_augmentation(names: Sequence[str]) -> Compose | None:
    """The Compose of the named augmentations in config order (None for an empty list); an unknown name
    raises ValueError listing the valid ones."""
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown[0]!r}; valid: {', '.join(AUGMENTATIONS)}")
    return Compose([AUGMENTATIONS[n]() for n in names]) if names else None


__all__ = ["Compose", "RandomRotateZ", "RandomScale", "RandomJitter", "RandomFlipXY", "RandomTilt",
           "RandomColorJitter", "RandomShade", "RandomColorDrop", "RandomDensity", "MixBlocks", "find", "AUGMENTATIONS",
           "build_augmentation", "first_per_voxel"]
