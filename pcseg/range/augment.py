"""Augmentations of whole LiDAR scans (clouds in the sensor frame) for range-image training: what a
synthetic scan gives away and a real one does not.

Each is a small callable ``(cloud, rng) -> cloud`` with a readable repr; ``build_scan_augmentation(names)``
chains the ones a config names (``range.scan_augment``; ``name:key=value`` sets an
argument, e.g. ``remission_drop:p=0.8``). They run before the projection, so the image,
labels and kNN back-projection all see the same changed scan.

- ``remission_drop``: the whole scan loses its remission (as the real labelled scans users have, which are
  xyz only), so the model learns to work from geometry alone and ``segment`` can feed such scans exactly
  what training showed: the channel mean (0 after normalisation, pcseg.range.projection.make_image).
- ``remission_jitter``: remission scaled and shifted per scan (other sensors, other calibrations).
- ``point_drop``: a random share of returns lost (rain, dark surfaces, other sensors' density).
- ``beam_drop``: whole beams (rows of equal elevation) lost, as with a sparser sensor or dead lasers.
- ``voxel``: the scan thinned to one point per grid cell of a random size, as users' clouds often are
  (a voxel down-sampling thins the dense near returns and leaves the sparse far ones).
- ``warp``: the ground not one plane (camber, a crest, streets meeting at other grades): every point moves
  along z by a smooth field of its x and y that is 0 under the sensor.
- ``height``: the sensor mounted higher or lower (another vehicle): the scan moves along z.
- ``tilt``: the sensor not level (pitch and roll of the car, a sloped road).
- ``scale``: the world a little larger or smaller.
- ``mix``: alternate inclination bands of two training scans (LaserMix); applied by the dataset.
- ``polarmix``: half the azimuth of another training scan swapped in, and its objects copied around the
  sensor at other headings (PolarMix); applied by the dataset.

Shapes: cloud.coord (N, 3) -> (M, 3), M <= N; intensity and label follow the kept points.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

import numpy as np

from pcseg.data.transforms import first_per_voxel, tilt_matrix, z_rotation
from pcseg.io.cloud import Cloud


def _subset(cloud: Cloud, keep: np.ndarray, coord: np.ndarray | None = None) -> Cloud:
    def take(a: Any) -> Any:
        return None if a is None else np.asarray(a)[keep]

    return Cloud(np.asarray(cloud.coord if coord is None else coord, dtype=np.float32)[keep],
                 color=take(cloud.color), intensity=take(cloud.intensity), normal=take(cloud.normal),
                 label=take(cloud.label), meta=cloud.meta)


def _with(cloud: Cloud, coord: np.ndarray | None = None, intensity: Any = "keep") -> Cloud:
    return Cloud(np.asarray(cloud.coord if coord is None else coord, dtype=np.float32), color=cloud.color,
                 intensity=cloud.intensity if isinstance(intensity, str) else intensity, normal=cloud.normal,
                 label=cloud.label, meta=cloud.meta)


def _join_clouds(parts: Sequence[Cloud]) -> Cloud:
    """One cloud of several sensor-frame clouds; remission only when every part has it."""
    def cat(field: str) -> np.ndarray | None:
        arrays = [getattr(c, field) for c in parts]
        return None if any(a is None for a in arrays) else np.concatenate([np.asarray(a) for a in arrays])

    return Cloud(np.asarray(cat("coord"), dtype=np.float32), intensity=cat("intensity"), label=cat("label"),
                 meta=parts[0].meta)


class RemissionDrop:
    """With probability p the scan has no remission channel at all."""

    def __init__(self, p: float = 0.4) -> None:
        self.p = float(p)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        if cloud.intensity is None or rng.random() >= self.p:
            return cloud
        return _with(cloud, intensity=None)

    def __repr__(self) -> str:
        return f"RemissionDrop(p={self.p})"


class RemissionJitter:
    """Remission * U(1 - scale, 1 + scale) + U(-shift, shift), per-point noise sigma ``noise``, in [0, 1]."""

    def __init__(self, scale: float = 0.3, shift: float = 0.05, noise: float = 0.03) -> None:
        self.scale, self.shift, self.noise = float(scale), float(shift), float(noise)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        if cloud.intensity is None:
            return cloud
        r = np.asarray(cloud.intensity, dtype=np.float32)
        r = r * rng.uniform(1 - self.scale, 1 + self.scale) + rng.uniform(-self.shift, self.shift)
        r = r + rng.normal(0, self.noise, len(r))
        return _with(cloud, intensity=np.clip(r, 0, 1).astype(np.float32))

    def __repr__(self) -> str:
        return f"RemissionJitter(scale={self.scale}, shift={self.shift}, noise={self.noise})"


class PointDrop:
    """Keep a random share U(1 - max_drop, 1) of the points."""

    def __init__(self, max_drop: float = 0.3) -> None:
        self.max_drop = float(max_drop)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        keep = rng.random(len(cloud)) >= rng.uniform(0, self.max_drop)
        return _subset(cloud, keep)

    def __repr__(self) -> str:
        return f"PointDrop(max_drop={self.max_drop})"


class BeamDrop:
    """With probability p, drop every other beam (a 32-beam sensor) or a random share up to ``max_share`` of
    the beams. Beams are told apart by elevation (0.4 deg bins, about the HDL-64E's spacing)."""

    def __init__(self, p: float = 0.3, max_share: float = 0.3) -> None:
        self.p, self.max_share = float(p), float(max_share)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        if rng.random() >= self.p:
            return cloud
        c = np.asarray(cloud.coord, dtype=np.float64)
        elev = np.degrees(np.arctan2(c[:, 2], np.hypot(c[:, 0], c[:, 1]) + 1e-9))
        beam = np.floor(elev / 0.4).astype(np.int64)
        if rng.random() < 0.5:
            keep = beam % 2 == int(rng.integers(2))
        else:
            beams = np.unique(beam)
            lost = rng.choice(beams, size=int(len(beams) * rng.uniform(0, self.max_share)), replace=False)
            keep = ~np.isin(beam, lost)
        return _subset(cloud, keep)

    def __repr__(self) -> str:
        return f"BeamDrop(p={self.p}, max_share={self.max_share})"


class VoxelThin:
    """With probability p, keep one point (the first) per cubic cell of edge U(low, high) metres: the near
    ground, where returns lie a few centimetres apart, loses most of its points and the far scan none."""

    def __init__(self, p: float = 0.3, low: float = 0.02, high: float = 0.1) -> None:
        self.p, self.low, self.high = float(p), float(low), float(high)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        if rng.random() >= self.p:
            return cloud
        return _subset(cloud, first_per_voxel(np.asarray(cloud.coord), rng.uniform(self.low, self.high)))

    def __repr__(self) -> str:
        return f"VoxelThin(p={self.p}, low={self.low}, high={self.high})"


class GroundWarp:
    """Move every point along z by a smooth field of its x and y: the sum of ``waves`` plane waves, each of
    amplitude U(0, amplitude) metres, wavelength U(low, high) metres and random heading and phase, less the
    field's value under the sensor (which keeps its height above the ground there). Synthetic streets lie on
    one plane; real ones do not: roads are cambered about 2.5 % to the kerb (RASt 06) and climb or crest
    along their length, and streets meet at other grades. On the levelled real SemanticKITTI scan the road
    lies up to 0.3 m off its fitted plane 25-40 m out. Walls and poles stay vertical (the shift depends on x
    and y only); the slope it adds is at most 2 pi x amplitude / low per wave (3 % with the defaults)."""

    def __init__(self, amplitude: float = 0.2, low: float = 40.0, high: float = 160.0, waves: int = 2) -> None:
        self.amplitude, self.low, self.high, self.waves = float(amplitude), float(low), float(high), int(waves)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        c = np.asarray(cloud.coord, dtype=np.float32).copy()
        x, y = c[:, 0].astype(np.float64), c[:, 1].astype(np.float64)
        dz = np.zeros(len(c))
        for _ in range(self.waves):
            amp = rng.uniform(0.0, self.amplitude)
            k = 2.0 * np.pi / rng.uniform(self.low, self.high)
            heading, phase = rng.uniform(0.0, 2.0 * np.pi, 2)
            dz += amp * (np.cos(k * (x * np.cos(heading) + y * np.sin(heading)) + phase) - np.cos(phase))
        c[:, 2] += dz.astype(np.float32)
        return _with(cloud, coord=c)

    def __repr__(self) -> str:
        return f"GroundWarp(amplitude={self.amplitude}, low={self.low}, high={self.high}, waves={self.waves})"


class SensorHeight:
    """Move the scan by U(-max_shift, max_shift) metres along z (a sensor mounted higher or lower)."""

    def __init__(self, max_shift: float = 0.25) -> None:
        self.max_shift = float(max_shift)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        c = np.asarray(cloud.coord, dtype=np.float32).copy()
        c[:, 2] += rng.uniform(-self.max_shift, self.max_shift)
        return _with(cloud, coord=c)

    def __repr__(self) -> str:
        return f"SensorHeight(max_shift={self.max_shift})"


class Tilt:
    """Rotate about a random horizontal axis by up to ``max_degrees`` (pitch and roll of the car)."""

    def __init__(self, max_degrees: float = 3.0) -> None:
        self.max_degrees = float(max_degrees)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        rot = tilt_matrix(rng, self.max_degrees)
        # coord @ rot.T one output column at a time: a BLAS product here starts OpenBLAS's own threads in the
        # data worker, which spin against the trainer's for the cores (27 ms a scan on 2 busy cores, 1 ms so)
        c = np.asarray(cloud.coord, dtype=np.float64)
        out = np.empty(c.shape, dtype=np.float32)
        for i in range(3):
            out[:, i] = c[:, 0] * rot[i, 0] + c[:, 1] * rot[i, 1] + c[:, 2] * rot[i, 2]
        return _with(cloud, coord=out)

    def __repr__(self) -> str:
        return f"Tilt(max_degrees={self.max_degrees})"


class Scale:
    """Scale the scan by U(low, high) about the sensor."""

    def __init__(self, low: float = 0.95, high: float = 1.05) -> None:
        self.low, self.high = float(low), float(high)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        return _with(cloud, coord=(np.asarray(cloud.coord, dtype=np.float32) * rng.uniform(self.low, self.high)))

    def __repr__(self) -> str:
        return f"Scale(low={self.low}, high={self.high})"


class LaserMix:
    """Mixing two scans (LaserMix, Kong et al., CVPR 2023): split the field of view into 2-6 bands of
    inclination and take alternate bands from two augmented training scans, so a model cannot lean on the
    context one synthetic street always gives (the near ground of one street under the far buildings of
    another). With probability p per training scan. Acts in pcseg.range.dataset.RangeDataset (it needs a
    second scan and the image's field of view; sensor-frame scans only, not the viewpoints of rooms); as a
    scan transform it passes through."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        return cloud

    def mix(self, a: Cloud, b: Cloud, rng: np.random.Generator, fov_up: float, fov_down: float) -> Cloud:
        """Alternate inclination bands of ``a`` and ``b`` (both sensor-frame) as one cloud. Bands split
        [fov_down, fov_up] degrees (points outside fall in the end bands); remission is kept only when both
        scans have it."""
        bands = int(rng.integers(2, 7))
        edges = np.radians(np.linspace(fov_down, fov_up, bands + 1))[1:-1]
        first = int(rng.integers(2))

        def band(cloud: Cloud) -> np.ndarray:
            c = np.asarray(cloud.coord, dtype=np.float64)
            return np.digitize(np.arctan2(c[:, 2], np.hypot(c[:, 0], c[:, 1])), edges) % 2

        return _join_clouds([a.select(band(a) == first), b.select(band(b) != first)])

    def __repr__(self) -> str:
        return f"LaserMix(p={self.p})"


# pcseg SemanticKITTI class indices (pcseg.classes.SEMANTICKITTI) that PolarMix copies: the things (car ...
# motorcyclist, as in the paper), and with ``flora=1`` also vegetation and trunk
POLARMIX_THINGS = (0, 1, 2, 3, 4, 5, 6, 7)
POLARMIX_FLORA = (14, 15)


class PolarMix:
    """Mixing two scans (PolarMix, Xiao et al., NeurIPS 2022): the scan takes the other scan's points in
    half of the azimuth circle (from a random heading), then the other scan's objects (points of the thing
    classes, and of vegetation and trunk with ``flora=1``) are copied ``copies`` times, each turned about the
    sensor's vertical axis by a random angle, and added. Objects so appear at headings and beside
    neighbours a synthetic street never puts them, at their own range and height. With probability p per
    training scan; acts in pcseg.range.dataset.RangeDataset like LaserMix (sensor-frame scans only); as a
    scan transform it passes through."""

    def __init__(self, p: float = 0.5, copies: float = 2, flora: float = 0) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if copies < 0 or copies != int(copies):
            raise ValueError(f"copies must be a whole number >= 0, got {copies}")
        if flora not in (0, 1):
            raise ValueError(f"flora must be 0 or 1, got {flora}")
        self.p, self.copies, self.flora = float(p), int(copies), int(flora)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        return cloud

    def mix(self, a: Cloud, b: Cloud, rng: np.random.Generator, fov_up: float = 0.0,
            fov_down: float = 0.0) -> Cloud:
        """``a`` with half its azimuth from ``b`` and ``b``'s objects pasted at other headings (both
        sensor-frame; the field of view is not used, the signature is LaserMix's)."""
        start = rng.uniform(-np.pi, np.pi)

        def half(cloud: Cloud) -> np.ndarray:
            c = np.asarray(cloud.coord, dtype=np.float64)
            return (np.arctan2(c[:, 1], c[:, 0]) - start) % (2 * np.pi) < np.pi

        parts = [a.select(~half(a)), b.select(half(b))]
        if b.label is not None and self.copies:
            classes = POLARMIX_THINGS + (POLARMIX_FLORA if self.flora else ())
            objects = b.select(np.isin(np.asarray(b.label), classes))
            if len(objects):
                xyz = np.asarray(objects.coord, dtype=np.float64)
                for angle in rng.uniform(0, 2 * np.pi, self.copies):
                    parts.append(_with(objects, coord=xyz @ z_rotation(angle).T))
        return _join_clouds(parts)

    def __repr__(self) -> str:
        return f"PolarMix(p={self.p}, copies={self.copies}, flora={self.flora})"


class ScanCompose:
    """Apply scan augmentations in order."""

    def __init__(self, transforms: Sequence[Callable[[Cloud, np.random.Generator], Cloud]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, cloud: Cloud, rng: np.random.Generator) -> Cloud:
        for t in self.transforms:
            cloud = t(cloud, rng)
        return cloud

    def __repr__(self) -> str:
        return "ScanCompose([" + ", ".join(repr(t) for t in self.transforms) + "])"


# the words ``range.scan_augment`` accepts, each with the defaults above
SCAN_AUGMENTATIONS: dict[str, Callable[[], Callable[[Cloud, np.random.Generator], Cloud]]] = {
    "remission_drop": RemissionDrop, "remission_jitter": RemissionJitter, "point_drop": PointDrop,
    "beam_drop": BeamDrop, "voxel": VoxelThin, "warp": GroundWarp, "height": SensorHeight, "tilt": Tilt,
    "scale": Scale, "mix": LaserMix, "polarmix": PolarMix,
}


def _parse(entry: str) -> tuple[str, dict[str, float]]:
    """``"name"`` or ``"name:key=value,key=value"`` (numbers) -> (name, keyword arguments)."""
    name, _, rest = entry.partition(":")
    kwargs: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = item.partition("=")
        try:
            kwargs[key.strip()] = float(value)   # no "=" leaves value empty, which fails here too
        except ValueError:
            raise ValueError(f"scan augmentation {entry!r}: {item!r} is not key=number") from None
    return name.strip(), kwargs


def build_scan_augmentation(names: Sequence[str]) -> ScanCompose | None:
    """The chain of named scan augmentations (None for none). An entry is a name (the defaults above) or
    ``name:key=value,...`` with other arguments, e.g. ``remission_drop:p=0.8``. An unknown name or argument
    raises ValueError naming it."""
    chain = []
    for entry in names:
        name, kwargs = _parse(entry)
        if name not in SCAN_AUGMENTATIONS:
            raise ValueError(f"unknown scan augmentation {name!r}; valid: {', '.join(SCAN_AUGMENTATIONS)}")
        try:
            chain.append(SCAN_AUGMENTATIONS[name](**kwargs))
        except TypeError:
            args = ", ".join(inspect.signature(SCAN_AUGMENTATIONS[name]).parameters)
            raise ValueError(f"scan augmentation {entry!r}: {name} takes {args}") from None
    return ScanCompose(chain) if chain else None


__all__ = ["RemissionDrop", "RemissionJitter", "PointDrop", "BeamDrop", "VoxelThin", "GroundWarp", "SensorHeight",
           "Tilt", "Scale", "LaserMix", "PolarMix", "ScanCompose", "SCAN_AUGMENTATIONS", "build_scan_augmentation"]
