"""``pcseg synth lidar OUT [--scans N] [--sequences ...] [--seed S]``: synthetic LiDAR scans in the exact
SemanticKITTI layout, made by ray casting a Velodyne HDL-64E-like beam pattern over procedural streets.

Layout written (as semantic-kitti.org, "Data format")::

    OUT/sequences/XX/velodyne/NNNNNN.bin    float32 x 4 per point: x y z remission (sensor frame, metres)
    OUT/sequences/XX/labels/NNNNNN.label    uint32 per point: raw semantic id (low 16 bits) | instance << 16
    OUT/sequences/XX/poses.txt              one 3x4 sensor-to-world matrix per scan (row-major, 12 numbers)
    OUT/sequences/XX/times.txt              scan time stamps in seconds (10 Hz)
    OUT/sequences/XX/calib.txt              identity Tr (the scans are already in the sensor frame)

Each sequence is one straight street (its own random layout), half of them with a crossroads or T-junction
near the drive and some with another further along; its scans are taken from a car driving along the
right-hand lane, ``STEP`` metres apart. The street has road, parking strips, raised sidewalks with curbs,
uneven terrain (grass strips and open ground as height fields), buildings, fences, trees (trunk + crown) and
bushes, poles, traffic signs (pole + plate), parked and moving cars and trucks, parked trailers, caravans
and buses (SemanticKITTI's other-vehicle), parked motorcycles, bicycles parked on the sidewalk in rows (as in
the Karlsruhe streets KITTI recorded), pedestrians and bicyclists, labelled with these raw SemanticKITTI ids
(PRBonn/semantic-kitti-api `config/semantic-kitti.yaml` `labels`): 10 car, 11 bicycle, 15 motorcycle,
18 truck, 20 other-vehicle, 30 person, 31 bicyclist (rider and bicycle), 40 road, 44 parking, 48 sidewalk,
50 building, 51 fence, 70 vegetation, 71 trunk, 72 terrain, 80 pole, 81 traffic-sign. Things (vehicles,
bicycles, people) carry an instance id.

Sensor model (a simple one, documented rather than calibrated):
- 64 beams at the HDL-64E's own elevations, which are not evenly spaced: an upper block of 32 lasers from
  +2.0 to -8.33 deg in 1/3 deg steps and a lower block of 32 from -8.83 to -24.33 deg in 1/2 deg steps
  (Velodyne HDL-64E S2 user's manual: upper and lower laser blocks, vertical angular resolution ~0.4 deg on
  average), 2048 azimuth steps over 360 deg, mounted 1.73 m above the road (KITTI's
  Velodyne height, Geiger et al., IJRR 2013, Fig. 3), returns up to 120 m (datasheet range).
- range noise: Gaussian, sigma 1-2 cm, one value per scan (the datasheet's accuracy, < 2 cm, is a bound);
  surfaces that are not solid return from inside them (``Part.depth``, mean depth of an exponential, cut at
  1.2 m): tree crowns 0.3 m, dense trimmed hedges and shrubs 5-30 cm, grass 3 cm, car windows 0.4 m (with
  40 % of their returns lost) - see FOLIAGE_DEPTH.
- remission = reflectivity(material, per-instance jitter) * (0.4 + 0.6 cos(incidence)) * exp(-range / 250)
  + N(0, 0.02), clipped to [0, 1]; traffic-sign plates are retro-reflective (0.85).
- dropouts: 1.5 % of returns at random, more with range (+ 15 % at 120 m), and half of the returns whose
  remission is below 0.03.

Deterministic by seed: the street of sequence XX comes from (seed, XX), scan k's noise from (seed, XX, k).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from pcseg.errors import PcsegError

RAW_IDS = {"car": 10, "bicycle": 11, "motorcycle": 15, "truck": 18, "other-vehicle": 20, "person": 30,
           "bicyclist": 31, "road": 40, "parking": 44, "sidewalk": 48, "building": 50, "fence": 51,
           "vegetation": 70, "trunk": 71, "terrain": 72, "pole": 80, "traffic-sign": 81}

# material reflectivity (mean, spread): plausible values for asphalt, concrete, paint, foliage, ...
REFLECTIVITY = {"car": (0.45, 0.25), "bicycle": (0.35, 0.15), "motorcycle": (0.4, 0.2), "truck": (0.45, 0.2),
                "other-vehicle": (0.45, 0.2), "person": (0.3, 0.1), "bicyclist": (0.3, 0.1),
                "road": (0.18, 0.03), "parking": (0.24, 0.03), "sidewalk": (0.32, 0.04), "building": (0.35, 0.1),
                "fence": (0.3, 0.1), "vegetation": (0.5, 0.08), "trunk": (0.3, 0.05), "terrain": (0.42, 0.06),
                "pole": (0.4, 0.08), "traffic-sign": (0.85, 0.05)}

ROWS, COLS = 64, 2048
FOV_UP, FOV_DOWN = 2.0, -24.8          # degrees, HDL-64E
SENSOR_HEIGHT = 1.73                   # metres, KITTI
MAX_RANGE = 120.0
RANGE_NOISE = (0.01, 0.02)            # sigma, metres, drawn per scan
# foliage is porous: a beam enters a crown or hedge and returns from a leaf some way inside it. The depth of
# the first return follows the canopy's gap probability, exp(-G * LAD * depth) (Beer-Lambert; Ni-Meister,
# Jupp and Dubayah, IEEE TGRS 2001, lidar waveforms in discrete canopies): exponential with this mean
# (metres), cut at FOLIAGE_MAX_DEPTH. Vegetation in a scan is a speckled volume, not a smooth shell. The mean
# is 1 / (G * LAD) (G the leaf projection, about 0.5; LAD the leaf area density), so it differs by plant:
# an open tree crown lets beams in deep, while a clipped hedge or garden shrub is a dense leaf shell that
# few beams pass (HEDGE_DEPTH, drawn per plant): a hedge reads rougher than a car, but far smoother than a
# crown (tools/scan_texture.py measures this for real and synthetic scans).
FOLIAGE_DEPTH = 0.3
HEDGE_DEPTH = (0.05, 0.3)
FOLIAGE_MAX_DEPTH = 1.2
# Mown grass (3-10 cm) is a thin porous layer: returns from the blades or the soil under them, a few cm
# apart, where a road returns from one surface. Grass reads rough beside smooth asphalt.
GRASS_DEPTH = 0.03
# Car windows: glass passes most of the near-infrared beam (905 nm), which returns from the seats and the
# far side of the cabin, or not at all.
GLASS_DEPTH, GLASS_DROP = 0.4, 0.4
SURFACE_DEPTH = {"vegetation": FOLIAGE_DEPTH, "terrain": GRASS_DEPTH}
STEP = 1.2                             # metres between scans (about 12 m/s at 10 Hz)
DEFAULT_SEQUENCES = ("00", "08")
DEFAULT_SCANS = 3
DRIVE_SCANS = 100                      # streets are built long enough for this many scans
# How often things are placed is set so that the class shares of the scans come near SemanticKITTI's own,
# KITTI_CONTENT (share of all points per raw id, PRBonn/semantic-kitti-api config/semantic-kitti.yaml
# `content`, rounded). A generator that shows a bicycle row or a bus beside every drive teaches a model that
# small irregular things near the car are bicycles, not bushes. `python tools/class_shares.py lidar` prints the
# generator's shares beside these.
KITTI_CONTENT = {10: 0.0408, 11: 0.00017, 15: 0.0004, 18: 0.0021, 20: 0.0016, 30: 0.00018, 31: 1e-8, 40: 0.1987,
                 44: 0.0147, 48: 0.1439, 50: 0.1327, 51: 0.0724, 70: 0.2668, 71: 0.0060, 72: 0.0781, 80: 0.0029,
                 81: 0.0006}


# ----------------------------------------------------------------------------------------------- meshes

def box(center: Sequence[float], size: Sequence[float], yaw: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned (then yawed about z) box. Shapes: -> vertices (8, 3) float32, triangles (12, 3) uint32"""
    sx, sy, sz = (float(s) / 2 for s in size)
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)], dtype=np.float64)
    c, s = math.cos(yaw), math.sin(yaw)
    v = v @ np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]]) + np.asarray(center, dtype=np.float64)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], dtype=np.uint32)
    return v.astype(np.float32), f


def cylinder(base: Sequence[float], radius: float, height: float, segments: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Vertical closed cylinder standing on ``base``. Shapes: -> (2s+2, 3) float32, (4s, 3) uint32"""
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([radius * np.cos(a), radius * np.sin(a), np.zeros_like(a)], 1)
    v = np.concatenate([ring, ring + [0, 0, height], [[0, 0, 0], [0, 0, height]]]) + np.asarray(base, float)
    i = np.arange(segments)
    j = (i + 1) % segments
    side = np.concatenate([np.stack([i, j, j + segments], 1), np.stack([i, j + segments, i + segments], 1)])
    caps = np.concatenate([np.stack([np.full_like(i, 2 * segments), j, i], 1),
                           np.stack([np.full_like(i, 2 * segments + 1), i + segments, j + segments], 1)])
    return v.astype(np.float32), np.concatenate([side, caps]).astype(np.uint32)


def heightfield(x0: float, x1: float, y0: float, y1: float, res: float, z0: float, rng: np.random.Generator,
                bumps: float, grain: float) -> tuple[np.ndarray, np.ndarray]:
    """Uneven ground over [x0, x1] x [y0, y1]: a grid every ``res`` metres at height ``z0`` plus three long
    waves (amplitude up to ``bumps``, 4-25 m wavelengths) and per-vertex grain (sigma ``grain``). Grass and
    soil are not planes: their centimetre roughness and metre-scale undulation is what tells terrain from the
    smooth road and sidewalk in a scan without remission. Shapes: -> (V, 3) float32, (T, 3) uint32"""
    nx, ny = max(2, int(math.ceil((x1 - x0) / res)) + 1), max(2, int(math.ceil((y1 - y0) / res)) + 1)
    gx, gy = np.meshgrid(np.linspace(x0, x1, nx), np.linspace(y0, y1, ny), indexing="ij")
    z = np.full_like(gx, z0)
    for _ in range(3):
        theta, wave = rng.uniform(0, np.pi), rng.uniform(4, 25)
        z += rng.uniform(0, bumps) * np.sin(2 * np.pi * (gx * np.cos(theta) + gy * np.sin(theta)) / wave
                                             + rng.uniform(0, 2 * np.pi))
    z += rng.normal(0, grain, z.shape)
    v = np.stack([gx, gy, z], -1).reshape(-1, 3)
    i = (np.arange(nx - 1)[:, None] * ny + np.arange(ny - 1)[None]).ravel()
    f = np.concatenate([np.stack([i, i + ny, i + ny + 1], 1), np.stack([i, i + ny + 1, i + 1], 1)])
    return v.astype(np.float32), f.astype(np.uint32)


_SPHERE: tuple[np.ndarray, np.ndarray] | None = None


def blob(center: Sequence[float], radii: Sequence[float], rng: np.random.Generator,
         roughness: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Irregular ellipsoid (a unit sphere mesh with random radial bumps), for crowns, bushes and heads."""
    global _SPHERE
    if _SPHERE is None:
        import open3d as o3d

        m = o3d.geometry.TriangleMesh.create_sphere(radius=1.0, resolution=8)
        _SPHERE = (np.asarray(m.vertices, dtype=np.float64), np.asarray(m.triangles, dtype=np.uint32))
    v, f = _SPHERE
    bump = 1.0 + roughness * rng.uniform(-1, 1, size=(len(v), 1))
    return (v * bump * np.asarray(radii, float) + np.asarray(center, float)).astype(np.float32), f


@dataclass
class Part:
    vertices: np.ndarray
    triangles: np.ndarray
    cls: str
    instance: int
    reflectivity: float
    depth: float = 0.0                       # mean depth (m) of returns inside the surface; 0 = solid
    drop: float = 0.0                        # share of its returns lost (glass)


@dataclass
class Street:
    """A procedural street: triangle parts with a class, an instance id and a reflectivity each."""

    parts: list[Part] = field(default_factory=list)
    sensor_y: float = 0.0
    road_half: float = 0.0                   # the main street's half width
    junctions: list[Junction] = field(default_factory=list)   # side streets (build_street)
    next_instance: int = 1

    def add(self, mesh: tuple[np.ndarray, np.ndarray], cls: str, rng: np.random.Generator,
            instance: int = 0, reflectivity: float | None = None, depth: float | None = None,
            drop: float = 0.0) -> None:
        if reflectivity is None:
            mean, spread = REFLECTIVITY[cls]
            reflectivity = float(np.clip(rng.normal(mean, spread / 2), 0.05, 0.95))
        depth = SURFACE_DEPTH.get(cls, 0.0) if depth is None else depth
        self.parts.append(Part(mesh[0], mesh[1], cls, instance, reflectivity, depth, drop))

    def new_instance(self) -> int:
        self.next_instance += 1
        return self.next_instance - 1


def _placer(x: float, y: float, yaw: float) -> Callable[[float, float, float], tuple[float, float, float]]:
    """Maps a vehicle-frame offset (dx forward, dy left, absolute z) to world coordinates."""
    c, s = math.cos(yaw), math.sin(yaw)
    return lambda dx, dy, z: (x + c * dx - s * dy, y + s * dx + c * dy, z)


def _car(street: Street, rng: np.random.Generator, x: float, y: float, yaw: float) -> None:
    inst = street.new_instance()
    refl = float(np.clip(rng.normal(*REFLECTIVITY["car"]), 0.08, 0.9))
    length, width = rng.uniform(3.8, 4.8), rng.uniform(1.7, 1.9)
    at = _placer(x, y, yaw)

    street.add(box(at(0, 0, 0.72), (length, width, 0.85), yaw), "car", rng, inst, refl)
    street.add(box(at(-0.2, 0, 1.4), (length * 0.5, width * 0.9, 0.55), yaw), "car", rng, inst, refl * 0.7,
               depth=GLASS_DEPTH, drop=GLASS_DROP)                   # the cabin: windows all round
    for dx in (-length * 0.32, length * 0.32):
        for dy in (-width * 0.4, width * 0.4):
            street.add(box(at(dx, dy, 0.32), (0.62, 0.22, 0.62), yaw), "car", rng, inst, 0.08)


def _truck(street: Street, rng: np.random.Generator, x: float, y: float, yaw: float) -> None:
    inst = street.new_instance()
    refl = float(np.clip(rng.normal(*REFLECTIVITY["truck"]), 0.08, 0.9))
    length, height = rng.uniform(6.0, 9.0), rng.uniform(2.6, 3.4)
    at = _placer(x, y, yaw)

    street.add(box(at(-1.1, 0, 0.6 + height / 2), (length, 2.5, height), yaw), "truck", rng, inst, refl)
    street.add(box(at(length / 2 + 0.1, 0, 1.75), (1.9, 2.4, 2.5), yaw), "truck", rng, inst, refl * 0.8)
    for dx in (-length / 2, 0.0, length / 2 + 0.2):
        for dy in (-1.05, 1.05):
            street.add(box(at(dx - 0.6, dy, 0.5), (1.0, 0.35, 1.0), yaw), "truck", rng, inst, 0.08)


def _other_vehicle(street: Street, rng: np.random.Generator, x: float, y: float, yaw: float) -> None:
    """A trailer, caravan or bus: SemanticKITTI's other-vehicle (Behley et al., ICCV 2019, class
    definitions: buses, trams, trailers, caravans) - one tall box on wheels, sizes of each kind."""
    inst = street.new_instance()
    refl = float(np.clip(rng.normal(*REFLECTIVITY["other-vehicle"]), 0.08, 0.9))
    kind = rng.random()
    if kind < 0.4:                                                   # trailer: low, open or boxed
        length, width, height, clear = rng.uniform(2.5, 4.5), rng.uniform(1.5, 2.1), rng.uniform(0.5, 1.8), 0.45
    elif kind < 0.75:                                                # caravan
        length, width, height, clear = rng.uniform(4.5, 7.0), rng.uniform(2.1, 2.4), rng.uniform(2.3, 2.7), 0.35
    else:                                                            # bus
        length, width, height, clear = rng.uniform(10.0, 12.5), 2.5, rng.uniform(2.9, 3.2), 0.3
    at = _placer(x, y, yaw)
    street.add(box(at(0, 0, clear + height / 2), (length, width, height), yaw), "other-vehicle", rng, inst, refl)
    for dx in ((-0.2 * length,) if length < 5 else (-0.3 * length, 0.3 * length)):
        for dy in (-width * 0.42, width * 0.42):
            street.add(box(at(dx, dy, 0.35), (0.7, 0.22, 0.7), yaw), "other-vehicle", rng, inst, 0.08)


def _two_wheeler(street: Street, rng: np.random.Generator, x: float, y: float, yaw: float, cls: str,
                 z0: float = 0.0) -> None:
    """A parked bicycle (wheels 0.66 m, frame, saddle, bars; about 1.7 m long) or motorcycle (wheels 0.6 m,
    a heavier body and seat up to 1.1 m; about 2.1 m long), standing upright on ground at height z0."""
    inst = street.new_instance()
    at = _placer(x, y, yaw)
    if cls == "bicycle":
        wheel, half, tyre = 0.66, 0.53, 0.05
        parts = [((0, 0, 0.7), (1.0, 0.06, 0.08)), ((-0.2, 0, 0.85), (0.25, 0.12, 0.06)),   # frame, saddle
                 ((0.45, 0, 1.0), (0.06, 0.55, 0.05))]                                        # handlebar
    else:
        wheel, half, tyre = 0.6, 0.7, 0.14
        parts = [((0, 0, 0.65), (1.3, 0.45, 0.5)), ((-0.25, 0, 0.95), (0.7, 0.3, 0.15)),     # body, seat
                 ((0.6, 0, 1.05), (0.1, 0.75, 0.06))]                                         # handlebar
    parts += [((dx, 0, wheel / 2 + 0.01), (wheel, tyre, wheel)) for dx in (-half, half)]
    for (dx, dy, z), size in parts:
        street.add(box(at(dx, dy, z0 + z), size, yaw), cls, rng, inst)


def _bicycle_row(street: Street, rng: np.random.Generator, x: float, y: float, z0: float, side: float) -> None:
    """1-7 bicycles parked side by side, across the sidewalk (a rack, or a row against a wall)."""
    for k in range(int(rng.integers(1, 8))):
        _two_wheeler(street, rng, x + k * rng.uniform(0.55, 0.8), y, side * np.pi / 2 + rng.normal(0, 0.15),
                     "bicycle", z0)


def _person(street: Street, rng: np.random.Generator, x: float, y: float, z0: float, cls: str = "person",
            instance: int | None = None) -> None:
    inst = street.new_instance() if instance is None else instance
    h = rng.uniform(1.6, 1.9)
    yaw = rng.uniform(0, 2 * np.pi)
    street.add(box((x, y, z0 + h * 0.25), (0.25, 0.35, h * 0.5), yaw), cls, rng, inst)
    street.add(box((x, y, z0 + h * 0.66), (0.3, 0.45, h * 0.34), yaw), cls, rng, inst)
    street.add(blob((x, y, z0 + h * 0.92), (0.11, 0.11, 0.13), rng, 0.05), cls, rng, inst)


def _bicyclist(street: Street, rng: np.random.Generator, x: float, y: float) -> None:
    inst = street.new_instance()
    yaw = rng.choice([0.0, np.pi]) + rng.normal(0, 0.05)
    c, s = math.cos(yaw), math.sin(yaw)
    for dx in (-0.55, 0.55):
        street.add(box((x + c * dx, y + s * dx, 0.35), (0.7, 0.05, 0.7), yaw), "bicyclist", rng, inst)
    street.add(box((x, y, 0.75), (1.1, 0.08, 0.1), yaw), "bicyclist", rng, inst)
    h = rng.uniform(1.6, 1.85)
    street.add(box((x, y, 1.0), (0.3, 0.35, 0.55), yaw), "bicyclist", rng, inst)
    street.add(box((x + 0.1 * c, y + 0.1 * s, 1.0 + h * 0.3), (0.3, 0.42, 0.55), yaw + 0.3), "bicyclist", rng, inst)
    street.add(blob((x + 0.2 * c, y + 0.2 * s, 1.0 + h * 0.55), (0.11, 0.11, 0.13), rng, 0.05),
               "bicyclist", rng, inst)


def _tree(street: Street, rng: np.random.Generator, x: float, y: float, z0: float) -> None:
    trunk_h = rng.uniform(1.2, 2.8)
    r = rng.uniform(0.12, 0.3)
    street.add(cylinder((x, y, z0), r, trunk_h + 0.8, 10), "trunk", rng)
    crown = rng.uniform(1.5, 3.2)
    street.add(blob((x, y, z0 + trunk_h + crown * 0.8), (crown, crown, crown * rng.uniform(0.8, 1.3)), rng),
               "vegetation", rng)


def _hedge(street: Street, rng: np.random.Generator, x0: float, x1: float, y: float) -> None:
    """A hedge from x0 to x1 along y: overlapping blobs of foliage 0.8-2.5 m high. Suburban streets of the
    KITTI drives (Karlsruhe) are lined with hedges and garden shrubs; vegetation is among the most
    frequent SemanticKITTI classes (Behley et al., ICCV 2019, Fig. 3)."""
    height = rng.uniform(0.8, 2.5)
    depth = rng.uniform(*HEDGE_DEPTH)
    x = x0
    while x < x1:
        r = rng.uniform(0.5, 0.9)
        street.add(blob((x + r, y + rng.normal(0, 0.1), height / 2), (r * 1.2, rng.uniform(0.4, 0.8), height / 2),
                        rng, 0.15), "vegetation", rng, depth=depth)
        x += r * 1.6


def _shrub(street: Street, rng: np.random.Generator, x: float, y: float, z0: float, length: float,
           width: float) -> None:
    """A clump of garden shrubs at the roadside: two to four overlapping blobs 0.9-2.4 m high that rise from
    the ground, their centres spread over ``length`` along x (each reaches 0.6-0.9 of the spacing to either
    side, so the clump runs about a metre past that) and ``width`` across. Junction corners, grass strips and verges of
    the KITTI drives' residential streets carry such clumps right at the kerb, where a parked car would stand;
    a generator that puts only cars there teaches a model that anything compact and man-high at the kerb is
    a car."""
    height = rng.uniform(0.9, 2.4)
    depth = rng.uniform(*HEDGE_DEPTH)
    n = int(rng.integers(2, 5))
    for k in range(n):
        cx = x - length / 2 + (k + 0.5) * length / n + rng.normal(0, 0.15)
        h = height * rng.uniform(0.75, 1.0)
        street.add(blob((cx, y + rng.normal(0, 0.1 * width), z0 + h / 2),
                        (length / n * rng.uniform(0.6, 0.9), width / 2 * rng.uniform(0.8, 1.0), h / 2), rng, 0.2),
                   "vegetation", rng, depth=depth)


@dataclass
class Junction:
    """A side street leaving the main street at x on one side (a crossroads is two, one per side): road
    ``half`` metres either side of x, a sidewalk ``walk`` wide on each of its sides."""

    x: float
    side: float
    half: float
    walk: float

    @property
    def span(self) -> tuple[float, float]:
        """The stretch of the main street's side that the side street (road and sidewalks) takes."""
        return self.x - self.half - self.walk, self.x + self.half + self.walk


def _junctions(rng: np.random.Generator, x_min: float, x_max: float, sensor_x: tuple[float, float]) -> list[Junction]:
    """Side streets: KITTI's drives are city, residential and road scenes (Geiger et al., IJRR 2013) that pass
    crossroads and T-junctions every few blocks, so a scan often sees road running across its view and corners
    of sidewalk and grass, which a straight street never shows. Half the streets have one within 30 m of the
    drive (a crossroads or a T to either side), a quarter one more further along."""
    out: list[Junction] = []
    spots = []
    if rng.random() < 0.5:
        spots.append(rng.uniform(sensor_x[0] - 25, sensor_x[1]))
    if rng.random() < 0.25:
        spots.append(rng.choice([rng.uniform(x_min + 15, sensor_x[0] - 45), rng.uniform(sensor_x[1] + 45, x_max - 15)]))
    for x in spots:
        half, walk = rng.uniform(2.8, 4.5), rng.uniform(1.5, 3.5)
        kind = rng.random()
        sides = (-1.0, 1.0) if kind < 0.4 else ((-1.0,) if kind < 0.7 else (1.0,))
        out += [Junction(float(x), side, half, walk) for side in sides]
    return out


def _spans(x0: float, x1: float, cuts: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """[x0, x1] less the cut intervals, as (start, end) pieces in order."""
    pieces, start = [], x0
    for a, b in sorted(cuts):
        if b <= start or a >= x1:
            continue
        if a > start:
            pieces.append((start, a))
        start = max(start, b)
    if start < x1:
        pieces.append((start, x1))
    return pieces


def _free(x0: float, x1: float, cuts: Sequence[tuple[float, float]]) -> bool:
    """Whether [x0, x1] misses every cut interval."""
    return all(b <= x0 or a >= x1 for a, b in cuts)


def _side_street(st: Street, rng: np.random.Generator, j: Junction, curb: float, outer: float, reach: float,
                 kerb: float) -> None:
    """The side street of junction j, from the main street's kerb line (``curb`` from its axis) out to
    ``reach``: road, kerbed sidewalks, parked cars, trees and poles, and buildings facing it beyond the main
    street's own (which stand up to ~25 m from the sidewalk's ``outer`` edge)."""
    side, a, b = j.side, *j.span
    near = st.road_half
    if curb > near:                                               # the mouth, across a parking strip
        st.add(box((j.x, side * (near + curb) / 2, -0.05), (b - a, curb - near, 0.1)), "road", rng)
    st.add(box((j.x, side * (curb + reach) / 2, -0.05), (2 * j.half, reach - curb, 0.1)), "road", rng)
    for e in (-1.0, 1.0):
        xw = j.x + e * (j.half + j.walk / 2)
        st.add(box((xw, side * (curb + reach) / 2, kerb / 2), (j.walk, reach - curb, kerb)), "sidewalk", rng)
        if rng.random() < 0.5:                                    # shrubs on the corner plot
            size = rng.uniform(1.5, 5.0), rng.uniform(1.2, 3.0)
            _shrub(st, rng, j.x + e * (j.half + j.walk + rng.uniform(0.2, 1.0) + size[0] / 2),
                   side * (outer + rng.uniform(0.2, 1.0) + size[1] / 2), kerb, *size)
        y = curb + rng.uniform(3, 8)                              # trees, poles and signs at the kerb
        while y < reach:
            xk, k = j.x + e * (j.half + 0.5), rng.random()
            if k < 0.5:
                _tree(st, rng, xk, side * y, kerb)
            elif k < 0.75:
                st.add(cylinder((xk, side * y, kerb), rng.uniform(0.07, 0.14), rng.uniform(4.5, 9), 8), "pole", rng)
            y += rng.uniform(6, 14)
        if rng.random() < 0.5:                                    # cars parked along the side street
            y = curb + rng.uniform(6, 12)
            while y < min(reach, curb + 45):
                _car(st, rng, j.x + e * (j.half - 1.1), side * y, np.pi / 2 + rng.normal(0, 0.04))
                y += rng.uniform(5.2, 9)
        y = outer + rng.uniform(24, 28)                          # buildings facing the side street
        while y < reach - 8:
            depth, blen, height = rng.uniform(8, 16), rng.uniform(10, 25), rng.uniform(5, 20)
            setback = rng.uniform(0.5, 5)
            xb = j.x + e * (j.half + j.walk + setback + depth / 2)
            st.add(box((xb, side * (y + blen / 2), height / 2), (depth, blen, height)), "building", rng)
            if setback > 1.5 and rng.random() < 0.6:
                st.add(blob((j.x + e * (j.half + j.walk + setback / 2), side * (y + blen / 2), 0.8),
                            (setback / 3, blen / 3, 0.8), rng, 0.25), "vegetation", rng,
                       depth=rng.uniform(*HEDGE_DEPTH))
            gap = rng.uniform(2, 10)
            if rng.random() < 0.6:                                # a garden fence or wall along the sidewalk
                fh = rng.uniform(0.8, 1.8)
                st.add(box((j.x + e * (j.half + j.walk + 0.3), side * (y + (blen + gap) / 2), fh / 2),
                           (0.08, blen + gap, fh)), "fence", rng)
            y += blen + gap
    if rng.random() < 0.5:                                        # a car waiting to turn into the main street
        _car(st, rng, j.x - side * j.half / 2, side * (curb + rng.uniform(2.6, 6)), -side * np.pi / 2)


def build_street(rng: np.random.Generator, x_min: float, x_max: float, sensor_x: tuple[float, float]) -> Street:
    """A random street along +x between x_min and x_max, with side streets (_junctions); the sensor drives
    along sensor_x in the right lane."""
    st = Street()
    half_road = rng.uniform(3.5, 5.5)
    st.road_half = half_road
    st.sensor_y = -half_road / 2
    junctions = st.junctions = _junctions(rng, x_min, x_max, sensor_x)
    st.add(box(((x_min + x_max) / 2, 0, -0.05), (x_max - x_min, 2 * half_road, 0.1)), "road", rng)
    walks: dict[float, tuple[float, float, float]] = {}           # side -> sidewalk's inner, outer edge, kerb
    for side in (-1.0, 1.0):
        cuts = [j.span for j in junctions if j.side == side]
        pieces = _spans(x_min, x_max, cuts)
        curb = half_road
        if rng.random() < 0.4:                                   # a parking strip, interrupted by road
            width = 2.5
            x = x_min
            while x < x_max:
                seg = rng.uniform(10, 35)
                cls = "parking" if rng.random() < 0.7 else "road"
                for a, b in _spans(x, x + seg, cuts):
                    st.add(box(((a + b) / 2, side * (curb + width / 2), -0.05), (b - a, width, 0.1)), cls, rng)
                if cls == "parking":                              # parked vehicles
                    px = x + rng.uniform(0.5, 3)
                    while px < x + seg - 4:
                        if not _free(px - 1, px + 12, cuts):
                            px += 3
                            continue
                        if rng.random() < 0.02:                  # trucks are rare in SemanticKITTI
                            _truck(st, rng, px + 4, side * (curb + 1.3), rng.normal(0, 0.03))
                            px += 11
                        elif rng.random() < 0.02:
                            _other_vehicle(st, rng, px + 3.5, side * (curb + 1.3), rng.normal(0, 0.03))
                            px += rng.uniform(8, 14)
                        elif rng.random() < 0.03:
                            _two_wheeler(st, rng, px + 1.2, side * (curb + 1.0), rng.normal(0, 0.2), "motorcycle")
                            px += rng.uniform(2.5, 4)
                        elif rng.random() < 0.3:
                            _car(st, rng, px + 2.3, side * (curb + 1.25), rng.normal(0, 0.04))
                            px += rng.uniform(5.2, 7.5)
                        else:
                            px += rng.uniform(3, 8)
                x += seg
            curb += width
        # most streets (60 %) have a grass strip between kerb and sidewalk, where the trees stand (terrain and
        # vegetation are among SemanticKITTI's most frequent classes, Behley et al., ICCV 2019, Fig. 3)
        lawn = rng.uniform(1.2, 3.0) if rng.random() < 0.6 else 0.0
        # one side in eight has no sidewalk, only a grass verge 1.5-4 m wide with the hedges and gardens right
        # behind it (suburban and country roads of the KITTI drives)
        walk = rng.uniform(2.0, 4.0) if rng.random() < 0.88 else 0.0
        if not walk:
            lawn = max(lawn, rng.uniform(1.5, 4.0))
        # kerb height: German street design guidelines (RASt 06) give about 10-12 cm, lowered at driveways and
        # crossings and raised at bus stops; one height per side, 6-20 cm
        kerb = rng.uniform(0.06, 0.2)
        for a, b in pieces:
            if lawn:                                             # a kerbed bed, grass on top
                st.add(box(((a + b) / 2, side * (curb + lawn / 2), 0.04), (b - a, lawn, 0.08)), "terrain", rng)
                y_in, y_out = sorted((side * curb, side * (curb + lawn)))
                st.add(heightfield(a, b, y_in, y_out, 0.25, 0.1, rng, 0.04, 0.025), "terrain", rng)
            if walk:
                st.add(box(((a + b) / 2, side * (curb + lawn + walk / 2), kerb / 2), (b - a, walk, kerb)), "sidewalk",
                       rng)
        outer = curb + lawn + walk
        walks[side] = (curb + lawn, outer, kerb)
        ground = max(0.02, kerb + rng.uniform(-0.12, -0.04))   # the open ground behind the sidewalk
        for a, b in pieces:
            st.add(box(((a + b) / 2, side * (outer + 40), ground - 0.05), (b - a, 80, 0.1)), "terrain", rng)
            y_in, y_out = sorted((side * outer, side * (outer + 80)))
            st.add(heightfield(a, b, y_in, y_out, 1.0, ground, rng, 0.15, 0.04), "terrain", rng)
        for j in junctions:
            if j.side == side:
                _side_street(st, rng, j, curb, outer, outer + 80, kerb)
        # trees, poles and signs along the sidewalk
        x = x_min + rng.uniform(0, 6)
        while x < x_max:
            if not _free(x - 1.5, x + 4.5, cuts):
                x += rng.uniform(5, 12)
                continue
            kind = rng.random()
            if lawn and kind < 0.15:                            # a shrub clump on the grass strip or verge
                width = min(lawn - 0.2, rng.uniform(1.0, 2.5))
                _shrub(st, rng, x + 1.5, side * (curb + 0.1 + width / 2), kerb, rng.uniform(1.5, 5.0), width)
            elif kind < 0.55:
                _tree(st, rng, x, side * (curb + (lawn / 2 if lawn else rng.uniform(0.6, 1.0))), kerb)
                if lawn and rng.random() < 0.8:                  # shrubs on the grass strip
                    r = rng.uniform(0.4, min(1.0, lawn / 2))
                    st.add(blob((x + rng.uniform(2, 4), side * (curb + lawn / 2), r * 0.6), (r, r, r * 0.7),
                                rng, 0.25), "vegetation", rng, depth=rng.uniform(*HEDGE_DEPTH))
            elif kind < 0.75:
                st.add(cylinder((x, side * (curb + 0.35), kerb), rng.uniform(0.07, 0.14), rng.uniform(4.5, 9), 8),
                       "pole", rng)
            elif kind < 0.9:
                h = rng.uniform(2.2, 2.8)
                st.add(cylinder((x, side * (curb + 0.35), kerb), 0.04, h, 8), "pole", rng)
                plate = (0.04, rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.9))
                st.add(box((x - side * 0.05, side * (curb + 0.35), kerb + h), plate), "traffic-sign", rng,
                       reflectivity=float(np.clip(rng.normal(0.85, 0.05), 0.6, 0.95)))
            x += rng.uniform(5, 12)
        # bicycles parked in rows at the sidewalk's edges
        x = x_min + rng.uniform(0, 100)
        while walk and x < x_max:
            edge = curb + lawn + 0.9 if rng.random() < 0.5 else outer - 0.9
            if _free(x - 1, x + 6, cuts):
                _bicycle_row(st, rng, x, side * edge, kerb, side)
            x += rng.uniform(80, 200)
        # pedestrians on the sidewalk
        x = x_min + rng.uniform(0, 40)
        while walk and x < x_max:
            if _free(x - 1, x + 1, cuts):
                _person(st, rng, x, side * (curb + lawn + rng.uniform(0.4, walk - 0.3)), kerb)
            x += rng.uniform(25, 80)
        # buildings, with fences, bushes and trees in the gaps; none across a side street
        x = x_min
        while x < x_max:
            nxt = min((a for a, b in cuts if b > x), default=x_max + 100)
            if nxt <= x:                                          # inside a side street: skip past it
                x = max(b for a, b in cuts if a <= x < b)
                continue
            if rng.random() < 0.55:
                blen, depth, height = rng.uniform(10, 35), rng.uniform(8, 16), rng.uniform(5, 22)
                blen = min(blen, nxt - x - 0.3)
                if blen < 5:
                    x = nxt
                    continue
                setback = rng.uniform(0.5, 6)
                st.add(box((x + blen / 2, side * (outer + setback + depth / 2), height / 2), (blen, depth, height)),
                       "building", rng)
                if setback > 1.5 and rng.random() < 0.8:       # front-garden hedge or shrubs
                    _hedge(st, rng, x, x + blen, side * (outer + setback * rng.uniform(0.3, 0.6)))
                elif setback > 1.0 and rng.random() < 0.6:     # or a garden fence / wall
                    fh = rng.uniform(0.8, 1.8)
                    st.add(box((x + blen / 2, side * (outer + 0.4), fh / 2), (blen, 0.08, fh)), "fence", rng)
                x += blen + rng.uniform(0, 3)
            else:
                gap = min(rng.uniform(6, 20), nxt - x)
                if rng.random() < 0.8:
                    fh = rng.uniform(0.9, 1.8)
                    st.add(box((x + gap / 2, side * (outer + 0.6), fh / 2), (gap, 0.06, fh)), "fence", rng)
                if rng.random() < 0.7:                           # a hedge along the property line
                    _hedge(st, rng, x, x + gap, side * (outer + rng.uniform(0.8, 1.6)))
                for _ in range(int(rng.integers(2, 6))):
                    bx, by = x + rng.uniform(0, gap), side * (outer + rng.uniform(1.5, 8))
                    if rng.random() < 0.5:
                        _tree(st, rng, bx, by, 0.05)
                    else:
                        r = rng.uniform(0.6, 1.5)
                        st.add(blob((bx, by, r * 0.6), (r, r, r * 0.7), rng, 0.25), "vegetation", rng,
                               depth=rng.uniform(*HEDGE_DEPTH))
                x += gap
    # traffic: oncoming lane anywhere, the sensor's lane only ahead of / behind the drive
    x = x_min + rng.uniform(0, 15)
    while x < x_max:
        if rng.random() < 0.06:
            _truck(st, rng, x, half_road / 2, np.pi + rng.normal(0, 0.02))
        else:
            _car(st, rng, x, half_road / 2, np.pi + rng.normal(0, 0.03))
        x += rng.uniform(20, 60)
    for x in (sensor_x[0] - rng.uniform(10, 20), sensor_x[1] + rng.uniform(12, 25)):
        if rng.random() < 0.5:
            _car(st, rng, x, st.sensor_y, rng.normal(0, 0.02))
    # bicyclists at the right road edge
    for x in rng.uniform(x_min, x_max, int(rng.integers(0, 3))):
        _bicyclist(st, rng, x, -(half_road - 0.6))
    # one rare thing close to the drive (a truck, a bus or trailer, a motorcycle, a bicycle row, a pedestrian or
    # a bicyclist), so that a few sequences are enough for every class to be seen up close
    near = rng.uniform(*sensor_x)
    guest = int(rng.integers(6))
    if guest == 0:
        _truck(st, rng, sensor_x[1] + rng.uniform(20, 40), half_road / 2, np.pi)
    elif guest == 1:
        _other_vehicle(st, rng, sensor_x[0] - rng.uniform(5, 20), half_road / 2, np.pi + rng.normal(0, 0.02))
    elif guest == 2:
        _two_wheeler(st, rng, near + rng.uniform(-10, 10), half_road - 0.8, rng.normal(0, 0.2), "motorcycle")
    elif guest == 3:
        _bicycle_row(st, rng, near + rng.uniform(-6, 6), -(walks[-1.0][0] + 0.9), walks[-1.0][2], -1.0)
    elif guest == 4:
        _person(st, rng, near + rng.uniform(3, 10), -(half_road + 0.5), 0.0)
    else:
        _bicyclist(st, rng, near + rng.uniform(-8, 12), -(half_road - 0.6))
    return st


# ----------------------------------------------------------------------------------------------- scanning

def beam_elevations(rows: int = ROWS) -> np.ndarray:
    """Beam elevations in degrees, highest first: the HDL-64E's two blocks (module docstring) for 64 rows,
    evenly spaced over FOV_UP..FOV_DOWN for any other count.

    Shapes: -> (rows,) float64
    """
    if rows != 64:
        return np.linspace(FOV_UP, FOV_DOWN, rows)
    upper = FOV_UP - np.arange(32) / 3.0          # +2.0 .. -8.33, 1/3 deg apart
    lower = -8.83 - np.arange(32) * 0.5           # -8.83 .. -24.33, 1/2 deg apart
    return np.concatenate([upper, lower])


def beam_directions(rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    """Unit ray directions of the beam pattern, row 0 the highest beam, column 0 looking backwards (-x) and
    azimuth turning clockwise seen from above (the order of RangeNet++'s projection).

    Shapes: -> (rows * cols, 3) float32
    """
    elev = np.radians(beam_elevations(rows))
    az = np.pi - (np.arange(cols) + 0.5) / cols * 2 * np.pi
    ce, se = np.cos(elev)[:, None], np.sin(elev)[:, None]
    d = np.stack([ce * np.cos(az)[None], ce * np.sin(az)[None], np.broadcast_to(se, (rows, cols))], -1)
    return d.reshape(-1, 3).astype(np.float32)


class StreetScanner:
    """Ray-casting scene of a street (Open3D RaycastingScene) and the sensor model."""

    def __init__(self, street: Street, rows: int = ROWS, cols: int = COLS):
        import open3d as o3d

        self._o3d = o3d
        self.scene = o3d.t.geometry.RaycastingScene()
        ids = []
        for part in street.parts:
            ids.append(self.scene.add_triangles(o3d.core.Tensor(part.vertices), o3d.core.Tensor(part.triangles)))
        if ids != list(range(len(ids))):      # geometry ids index the lookup tables below
            raise RuntimeError("unexpected Open3D geometry ids")
        self.raw = np.array([RAW_IDS[p.cls] for p in street.parts] + [0], dtype=np.uint32)
        self.instance = np.array([p.instance for p in street.parts] + [0], dtype=np.uint32)
        self.refl = np.array([p.reflectivity for p in street.parts] + [0.0], dtype=np.float32)
        self.depth = np.array([p.depth for p in street.parts] + [0.0], dtype=np.float32)
        self.drop = np.array([p.drop for p in street.parts] + [0.0], dtype=np.float32)
        self.directions = beam_directions(rows, cols)

    def scan(self, origin: Sequence[float], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One sweep from ``origin`` (sensor frame axes = world axes).

        Shapes: -> points (N, 4) float32 x y z remission in the sensor frame, labels (N,) uint32
        """
        o3d = self._o3d
        d = self.directions
        rays = np.concatenate([np.broadcast_to(np.asarray(origin, np.float32), d.shape), d], 1)
        hit = self.scene.cast_rays(o3d.core.Tensor(np.ascontiguousarray(rays)), nthreads=0)
        t = hit["t_hit"].numpy()
        gid = hit["geometry_ids"].numpy().astype(np.int64)
        normal = hit["primitive_normals"].numpy()
        ok = np.isfinite(t) & (t <= MAX_RANGE) & (gid >= 0) & (gid < len(self.raw) - 1)
        t, gid, normal, d = t[ok], gid[ok], normal[ok], d[ok]
        cos_inc = np.abs(np.einsum("ij,ij->i", normal, d))
        remission = self.refl[gid] * (0.4 + 0.6 * cos_inc) * np.exp(-t / 250.0)
        remission = np.clip(remission + rng.normal(0, 0.02, len(t)), 0.0, 1.0).astype(np.float32)
        depth = np.minimum(rng.exponential(1.0, len(t)) * self.depth[gid], FOLIAGE_MAX_DEPTH)
        r = t + depth + rng.normal(0, rng.uniform(*RANGE_NOISE), len(t))
        keep = (rng.random(len(t)) >= 0.015 + 0.15 * (t / MAX_RANGE) ** 2 + self.drop[gid]) & (r <= MAX_RANGE)
        keep &= ~((remission < 0.03) & (rng.random(len(t)) < 0.5))
        xyz = (d * r[:, None])[keep]
        points = np.concatenate([xyz, remission[keep, None]], 1).astype(np.float32)
        labels = (self.raw[gid[keep]] | (self.instance[gid[keep]] << 16)).astype(np.uint32)
        return points, labels


# ----------------------------------------------------------------------------------------------- writing

def _seq_id(seq: str | int) -> str:
    s = str(seq).strip()
    if not s.isdigit():
        raise PcsegError(None, f"sequence ids are numbers like 00 or 08, got {seq!r}")
    return s.zfill(2)


def synth_lidar(out: str | Path, sequences: Sequence[str | int] = DEFAULT_SEQUENCES, scans: int = DEFAULT_SCANS,
                seed: int = 0, rows: int = ROWS, cols: int = COLS) -> dict:
    """Write ``scans`` scans for each sequence under ``out/sequences``; returns a summary
    {"sequences": {id: scans}, "points": int, "class_points": {raw id: points}}."""
    from pcseg.utils import atomic_path, atomic_write_text

    if scans < 1:
        raise PcsegError(None, f"--scans must be at least 1, got {scans}")
    out = Path(out)
    summary: dict = {"sequences": {}, "points": 0, "class_points": {}}
    for seq in [_seq_id(s) for s in sequences]:
        rng = np.random.default_rng([seed, int(seq)])
        # the street does not depend on the number of scans (scan k is the same in a longer run) as long as
        # the drive fits in DRIVE_SCANS; the objects placed "near the drive" stand along its first 30 m
        drive_end = STEP * (max(scans, DRIVE_SCANS) - 1)
        street = build_street(rng, -110.0, drive_end + 110.0, (0.0, min(drive_end, 30.0)))
        scanner = StreetScanner(street, rows, cols)
        folder = out / "sequences" / seq
        poses, times = [], []
        for k in range(scans):
            origin = (k * STEP, street.sensor_y, SENSOR_HEIGHT)
            points, labels = scanner.scan(origin, np.random.default_rng([seed, int(seq), k]))
            with atomic_path(folder / "velodyne" / f"{k:06d}.bin") as tmp:
                points.tofile(tmp)
            with atomic_path(folder / "labels" / f"{k:06d}.label") as tmp:
                labels.tofile(tmp)
            poses.append(f"1 0 0 {origin[0]:.6f} 0 1 0 {origin[1]:.6f} 0 0 1 {origin[2]:.6f}")
            times.append(f"{0.1 * k:.6e}")
            summary["points"] += len(points)
            ids, counts = np.unique(labels & 0xFFFF, return_counts=True)
            for i, c in zip(ids.tolist(), counts.tolist()):
                summary["class_points"][i] = summary["class_points"].get(i, 0) + c
        atomic_write_text(folder / "poses.txt", "\n".join(poses) + "\n")
        atomic_write_text(folder / "times.txt", "\n".join(times) + "\n")
        atomic_write_text(folder / "calib.txt", "".join(f"{p}: 1 0 0 0 0 1 0 0 0 0 1 0\n"
                                                        for p in ("P0", "P1", "P2", "P3", "Tr")))
        summary["sequences"][seq] = scans
    return summary


def cli(args: argparse.Namespace) -> int:
    """``pcseg synth lidar OUT [--scans N] [--sequences ...] [--seed S]``."""
    sequences = args.sequences if args.sequences else list(DEFAULT_SEQUENCES)
    scans = args.scans if args.scans is not None else DEFAULT_SCANS
    summary = synth_lidar(args.out, sequences, scans, args.seed)
    names = {v: k for k, v in RAW_IDS.items()}
    classes = ", ".join(f"{names.get(i, i)} {n}" for i, n in sorted(summary["class_points"].items()))
    seqs = ", ".join(f"{s} ({n} scans)" for s, n in summary["sequences"].items())
    print(f"wrote {sum(summary['sequences'].values())} scans, {summary['points']} points to "
          f"{Path(args.out) / 'sequences'}: sequences {seqs}; points per class: {classes}")
    return 0


__all__ = ["synth_lidar", "cli", "build_street", "StreetScanner", "beam_directions", "RAW_IDS", "KITTI_CONTENT"]
