"""Virtual scanner positions inside an indoor room (S3DIS), so a room can be seen as range images.

Placement (a documented choice; S3DIS has no scanner poses in its point files):
- the room's extent is taken robustly from the 0.5 / 99.5 percentiles of x, y and z (a few stray points
  outside a wall do not move it); floor = low z percentile, ceiling = high one;
- viewpoint 0 stands at the centre of the x-y extent, ``height`` metres above the floor (1.5 m by default:
  about a tripod scanner's head; clamped to stay 0.2 m below the ceiling and above the floor);
- viewpoints 1..V-1 stand on an ellipse around the centre, at centre + 0.3 * half extent * (cos a, sin a)
  with a = 45 deg + 360 deg * (v - 1) / (V - 1), at the same height: V = 5 adds one scanner per quadrant,
  V = 2 one towards the (+x, +y) corner.

During training (``jitter``) each viewpoint moves uniformly by up to +-25 % of the half extents in x and y and
+-0.2 m in z, so the network sees many positions.
"""

from __future__ import annotations

import math

import numpy as np


def room_frame(coord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust (low, high) corners of a room: 0.5 / 99.5 percentiles per axis.

    Shapes: coord (N, 3) -> low (3,), high (3,) float64
    """
    coord = np.asarray(coord)
    if len(coord) == 0:
        raise ValueError("a room without points has no viewpoints")
    step = max(1, len(coord) // 200_000)          # percentiles of a regular subsample are plenty
    sample = np.asarray(coord[::step], dtype=np.float64)
    low, high = np.percentile(sample, [0.5, 99.5], axis=0)
    return low, high


def room_viewpoints(coord: np.ndarray, count: int, height: float = 1.5, rng: np.random.Generator | None = None,
                    frame: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Scanner positions for a room (see the module docstring); ``rng`` adds the training jitter; ``frame``
    is ``room_frame(coord)`` when the caller has it already.

    Shapes: coord (N, 3) -> (count, 3) float64
    """
    if count < 1:
        raise ValueError(f"need at least one viewpoint, got {count}")
    low, high = room_frame(coord) if frame is None else frame
    centre = (low + high) / 2
    half = (high - low) / 2
    floor, ceiling = low[2], high[2]
    z = floor + height
    z = min(z, ceiling - 0.2) if ceiling - floor > 0.4 else (floor + ceiling) / 2
    z = max(z, floor + 0.2) if ceiling - floor > 0.4 else z
    out = np.empty((count, 3), dtype=np.float64)
    out[0] = (centre[0], centre[1], z)
    for v in range(1, count):
        a = math.pi / 4 + 2 * math.pi * (v - 1) / (count - 1)
        out[v] = (centre[0] + 0.3 * half[0] * math.cos(a), centre[1] + 0.3 * half[1] * math.sin(a), z)
    if rng is not None:
        out[:, 0] += rng.uniform(-0.25, 0.25, count) * half[0]
        out[:, 1] += rng.uniform(-0.25, 0.25, count) * half[1]
        out[:, 2] += rng.uniform(-0.2, 0.2, count)
    return out


__all__ = ["room_frame", "room_viewpoints"]
