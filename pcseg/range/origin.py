"""Where was the sensor? Finding a spinning LiDAR's origin in a scan stored in another frame.

Range-image models project a scan from its sensor origin (pcseg.range.projection). Scans users have are
often stored in a world or map frame (SemanticKITTI scans transformed by their poses, as the Open3D-ML demo
data, merged or georeferenced clouds): projected from (0, 0, 0) they make a meaningless image.

The sensor can be found from the data: seen from the true origin, each laser's returns fill one row of the
range image and neighbouring returns fall in neighbouring columns, so the scan covers the most pixels; from
anywhere else returns pile into the same pixels or leave the field of view. ``occupancy(coord, origin)``
counts the pixels a scan fills seen from ``origin``; ``estimate_sensor_origin`` maximises it by a coarse to
fine search in x, y and z, started from the densest part of the scan (density falls with the square of the
range, so it peaks near the sensor). ``looks_sensor_centred`` is the cheap check ``segment`` runs: is
(0, 0, 0) a local maximum of the occupancy?

Shapes: coord (N, 3) -> origin (3,) float64.
"""

from __future__ import annotations

import numpy as np

# the projection the occupancy is measured in: 64 x 2048 over +3..-25 deg (RangeNet++'s HDL-64E setting,
# PRBonn/lidar-bonnetal `train/tasks/semantic/config/arch/darknet53.yaml` sensor block)
H, W = 64, 2048
FOV_UP, FOV_DOWN = 3.0, -25.0
SAMPLE = 30_000


def _sample(coord: np.ndarray, n: int = SAMPLE) -> np.ndarray:
    coord = np.asarray(coord, dtype=np.float64)
    if len(coord) <= n:
        return coord
    step = len(coord) / n
    return coord[(np.arange(n) * step).astype(np.int64)]


def occupancy(coord: np.ndarray, origin: np.ndarray) -> int:
    """Range-image pixels filled by the points seen from ``origin`` (points outside the vertical field of
    view or within 1 m of the origin fill none)."""
    rel = coord - origin
    depth = np.linalg.norm(rel, axis=1)
    ok = depth > 1.0
    rel, depth = rel[ok], depth[ok]
    pitch = np.degrees(np.arcsin(np.clip(rel[:, 2] / depth, -1, 1)))
    v = (FOV_UP - pitch) / (FOV_UP - FOV_DOWN) * H
    inside = (v >= 0) & (v < H)
    yaw = np.arctan2(rel[inside, 1], rel[inside, 0])
    u = ((0.5 * (1 - yaw / np.pi)) * W).astype(np.int64) % W
    # a count per pixel (linear time) rather than np.unique (a sort): segment runs this on every scan
    return int(np.count_nonzero(np.bincount(v[inside].astype(np.int64) * W + u, minlength=H * W)))


def _best(coord: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, int]:
    scores = [occupancy(coord, c) for c in candidates]
    i = int(np.argmax(scores))
    return candidates[i], scores[i]


def _grid(center: np.ndarray, half: float, step: float, axes: tuple[int, ...]) -> np.ndarray:
    offsets = np.arange(-half, half + 1e-9, step)
    grids = np.meshgrid(*([offsets] * len(axes)), indexing="ij")
    out = np.repeat(center[None], grids[0].size, axis=0)
    for axis, g in zip(axes, grids):
        out[:, axis] += g.ravel()
    return out


def estimate_sensor_origin(coord: np.ndarray, sensor_height: float = 1.73) -> np.ndarray:
    """The sensor origin of a spinning-LiDAR scan in any frame (z up), by maximising the occupancy.

    ``sensor_height`` (above the ground under the sensor; KITTI's 1.73 m, Geiger et al. IJRR 2013) only
    seeds the search of z. A sensor-centred scan gives about (0, 0, 0).

    Shapes: coord (N, 3) -> (3,) float64
    """
    pts = _sample(coord)
    xy = pts[:, :2]
    # seed: the densest 2 m cell
    cell = np.floor(xy / 2.0).astype(np.int64)
    keys, counts = np.unique(cell, axis=0, return_counts=True)
    seed_xy = (keys[int(np.argmax(counts))] + 0.5) * 2.0
    near = np.linalg.norm(xy - seed_xy, axis=1) < 6.0
    ground = np.percentile(pts[near, 2], 5) if near.any() else float(np.percentile(pts[:, 2], 5))
    best = np.array([seed_xy[0], seed_xy[1], ground + sensor_height])
    for half, step in ((8.0, 1.0), (1.0, 0.25), (0.3, 0.1)):
        best, _ = _best(pts, _grid(best, half, step, (0, 1)))
        best, _ = _best(pts, _grid(best, max(half / 4, 0.1), step / 2, (2,)))
    return best


# a spinning LiDAR's returns crowd around it (density falls with the square of the range; a KITTI scan has a
# tenth of its points within about 5 m): a cloud whose nearest tenth lies further than this from (0, 0, 0)
# was not scanned from there, however flat the occupancy is around it
NEAR_TENTH = 20.0


def looks_sensor_centred(coord: np.ndarray, tolerance: float = 1.0) -> bool:
    """True when a tenth of the points lie within NEAR_TENTH metres of (0, 0, 0) and it fills at least as
    many pixels as the points ``tolerance`` metres away from it in x, y and z (a cheap local check: 7
    occupancy counts on a subsample). Far from a cloud the occupancy hardly changes within ``tolerance``,
    so the distance check comes first."""
    pts = _sample(coord, 20_000)
    if np.percentile(np.linalg.norm(pts, axis=1), 10) > NEAR_TENTH:
        return False
    zero = np.zeros(3)
    here = occupancy(pts, zero)
    for axis in range(3):
        for sign in (-1.0, 1.0):
            probe = zero.copy()
            probe[axis] = sign * tolerance
            if occupancy(pts, probe) > here * 1.02:
                return False
    return True


__all__ = ["occupancy", "estimate_sensor_origin", "looks_sensor_centred"]
