"""Levelling a LiDAR scan on its ground before a range model labels it.

A range model reads height: its z channel, and the image row a surface falls in, both depend on where the
ground is relative to the sensor. The synthetic scans it is trained on stand on level ground 1.73 m below
the sensor (KITTI's mounting; training jitters both by a few degrees and centimetres). Real scans do not:
a street climbs, the vehicle pitches, and a scan moved out of a world frame carries whatever error its
sensor origin has. ``level_on_ground(xyz, height)`` finds the ground plane around the sensor and turns the
scan about the sensor so that the plane is level, then moves it along z so that the plane lies ``height``
metres below the sensor (``range.level_ground``).

The ground plane is a RANSAC plane fit over the points 3-25 m from the sensor horizontally and at least 1 m
below it (where the road, pavement and grass around a vehicle-mounted scanner are), on an evenly spaced
subsample, refitted by least squares to its inliers (three rounds). The draws come from a seeded NumPy
generator, so a scan is labelled the same way every time: Open3D's ``segment_plane`` was the first choice,
but it runs its iterations on several threads and, even with its generator seeded, returned the road's
plane in one run and a plane tilted onto a sidewalk in the next. A plane tilted more than ``MAX_TILT_DEG``
or not 1-3 m below the sensor is not taken to be the ground (a scan from a mast, a wall-dominated indoor
scan): the scan is then used as given and ``level_on_ground`` says so by returning no Ground.

Shapes: xyz (N, 3) sensor-frame float32 tensor -> (N, 3) float32 tensor, Ground | None
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RING = (3.0, 25.0)          # metres from the sensor, horizontally: the ground candidates
BELOW = 1.0                 # candidates lie at least this far below the sensor
THRESHOLD = 0.08            # RANSAC inlier distance (m): road camber and kerbs stay in one plane
ITERATIONS = 200
SAMPLE = 20_000             # candidates kept for the fit (evenly spaced)
JUDGES = 4_000              # of which this many count each RANSAC plane's support
MIN_POINTS = 500            # fewer candidates than this: no ground to fit
MAX_TILT_DEG = 10.0
HEIGHTS = (1.0, 3.0)        # metres below the sensor a ground plane may lie
SEED = 0


@dataclass(frozen=True)
class Ground:
    normal: tuple[float, float, float]   # unit normal, pointing up
    height: float                        # the sensor's distance above the plane (m)
    inliers: int                         # fitted candidates within THRESHOLD of the plane

    @property
    def tilt_deg(self) -> float:
        return float(np.degrees(np.arccos(np.clip(self.normal[2], -1.0, 1.0))))


def fit_ground(xyz: np.ndarray) -> Ground | None:
    """The ground plane around a sensor at the origin (RANSAC), or None when there is no plausible
    one (too few candidates, too steep, too near or too far below the sensor).

    Shapes: xyz (N, 3) -> Ground | None
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    flat = np.hypot(xyz[:, 0], xyz[:, 1])
    candidates = xyz[(flat > RING[0]) & (flat < RING[1]) & (xyz[:, 2] < -BELOW)]
    if len(candidates) < MIN_POINTS:
        return None
    if len(candidates) > SAMPLE:
        candidates = candidates[(np.arange(SAMPLE) * (len(candidates) / SAMPLE)).astype(np.int64)]
    normal, d = _ransac(candidates, np.random.default_rng(SEED))
    if normal is None:
        return None
    normal, d = _refine(candidates, normal, d)
    if normal[2] < 0:
        normal, d = -normal, -d
    inliers = int((np.abs(candidates @ normal + d) < THRESHOLD).sum())
    ground = Ground(normal=tuple(float(v) for v in normal), height=float(d), inliers=inliers)
    if ground.tilt_deg > MAX_TILT_DEG or not HEIGHTS[0] <= ground.height <= HEIGHTS[1]:
        return None
    return ground


def _ransac(points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray | None, float]:
    """The plane through three of the points that has the most points within THRESHOLD, of ITERATIONS
    random draws (RANSAC, Fischler & Bolles 1981), as unit normal and offset (normal . p + d = 0)."""
    pick = rng.integers(0, len(points), size=(ITERATIONS, 3))
    a, b, c = points[pick[:, 0]], points[pick[:, 1]], points[pick[:, 2]]
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1)
    ok = length > 1e-9
    if not ok.any():
        return None, 0.0
    normals = normals[ok] / length[ok, None]
    offsets = -np.einsum("ij,ij->i", normals, a[ok])
    # support is counted on a subsample (200 planes x 20k points is slow), by broadcasting rather than a
    # matrix product, whose BLAS threads cost more than the sums on a busy 2-core machine
    judges = points[:: max(1, len(points) // JUDGES)]
    dist = judges[:, :1] * normals[:, 0] + judges[:, 1:2] * normals[:, 1] + judges[:, 2:] * normals[:, 2]
    support = (np.abs(dist + offsets) < THRESHOLD).sum(axis=0)
    best = int(np.argmax(support))
    return normals[best], float(offsets[best])


def _refine(points: np.ndarray, normal: np.ndarray, d: float, rounds: int = 3) -> tuple[np.ndarray, float]:
    """The least-squares plane of the points within THRESHOLD of the plane (normal . p + d = 0), refitted
    to its own inliers up to ``rounds`` times: more precise than a plane through three points (the first
    round moves it most; later ones trade a few dozen of 20,000 inliers)."""
    inliers = np.abs(points @ normal + d) < THRESHOLD
    for _ in range(rounds):
        if inliers.sum() < 3:
            break
        centre = points[inliers].mean(axis=0)
        normal = np.linalg.svd(points[inliers] - centre, full_matrices=False)[2][2]
        d = -float(normal @ centre)
        again = np.abs(points @ normal + d) < THRESHOLD
        if np.array_equal(again, inliers):
            break
        inliers = again
    return normal, d


def levelling_rotation(normal: tuple[float, float, float]) -> np.ndarray:
    """The rotation about the sensor that turns ``normal`` onto +z (Rodrigues; the identity for +z).

    Shapes: -> (3, 3) float64, applied as R @ p
    """
    n = np.asarray(normal, dtype=np.float64)
    axis = np.cross(n, [0.0, 0.0, 1.0])
    sin = np.linalg.norm(axis)
    if sin < 1e-12:
        return np.eye(3)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + k + k @ k * ((1.0 - n[2]) / sin ** 2)


def level_on_ground(xyz: torch.Tensor, height: float) -> tuple[torch.Tensor, Ground | None]:
    """``xyz`` turned about the sensor so its ground is level and moved along z so the ground lies
    ``height`` m below the sensor; unchanged, with None, when no ground plane is found (see the module
    docstring).

    Shapes: xyz (N, 3) float32 -> (N, 3) float32, Ground | None
    """
    ground = fit_ground(xyz.numpy())
    if ground is None:
        return xyz, None
    rot = torch.as_tensor(levelling_rotation(ground.normal), dtype=torch.float32)
    shift = torch.tensor([0.0, 0.0, ground.height - height], dtype=torch.float32)
    return xyz @ rot.T + shift, ground


__all__ = ["Ground", "fit_ground", "levelling_rotation", "level_on_ground"]
