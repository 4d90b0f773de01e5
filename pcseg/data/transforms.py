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
        a = rng.uniform(-self.max_angle, self.max_angle)
        c, s = np.cos(a), np.sin(a)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
        out = dict(sample)
        out["coord"] = (sample["coord"] @ rot.T).astype(np.float32)
        if sample.get("normal") is not None:
            out["normal"] = (sample["normal"] @ rot.T).astype(np.float32)
        return out

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


__all__ = ["Compose", "RandomRotateZ", "RandomScale", "RandomJitter", "RandomFlipXY"]
