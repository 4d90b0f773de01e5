"""Spherical projection of a point cloud into a range image, and the per-channel input image.

The projection follows RangeNet++ (Milioto et al., IROS 2019; PRBonn/lidar-bonnetal
`train/common/laserscan.py`, `LaserScan.do_range_projection`):

    yaw = -atan2(y, x),  pitch = asin(z / r)
    u = floor(0.5 (yaw / pi + 1) W),  v = floor((1 - (pitch + |fov_down|) / fov) H),  both clamped to the image,

and when several points fall into one pixel the closest one wins (the reference writes points sorted by
decreasing range so the last, closest write stays). Differences from the reference, on purpose:

- The closest point per pixel is found with one ``scatter_reduce(amin)`` over a packed (range bits, index)
  int64 key instead of a sort plus a last-write-wins assignment (PyTorch leaves duplicate-index writes
  unordered). Ties in range go to the lower point index.
- Empty pixels have index -1 and every pixel holding a point is valid, point 0 included; the reference's
  mask ``proj_idx > 0`` silently drops point 0.
- A point at the sensor origin (r = 0) gets pitch 0 instead of NaN.

Everything is in PyTorch so the same code runs on CPU and CUDA.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

# Channel names understood by `make_image`. x, y, z are in the sensor (viewpoint) frame, and so are the surface
# normal's nx, ny, nz (`pixel_normals`); roughness is how much the normals around a pixel disagree
# (`normal_roughness`); above_ground is a point's height over the lowest point near it (`above_ground`).
CHANNELS = ("range", "x", "y", "z", "remission", "r", "g", "b", "nx", "ny", "nz", "roughness", "above_ground")
NORMAL_CHANNELS = ("nx", "ny", "nz")
ROUGHNESS_CHANNEL = "roughness"
ABOVE_GROUND_CHANNEL = "above_ground"

# the local ground under a point is the lowest point of the bird's-eye cells of this size (metres) within
# GROUND_REACH cells of its own, 3 x 3 m: wide enough that a car (1.8 m wide) or a tree trunk has ground
# points beside it in reach, narrow enough that on a 6 % slope the lowest point in reach, at most 2 m
# downhill, lies at most 12 cm below the ground under the point
GROUND_CELL = 1.0
GROUND_REACH = 1

# a pixel's neighbour counts for its normal only while their ranges differ by at most this share of the
# pixel's range: consecutive rows on level ground 20 m away lie about 2 m apart, an object's edge against
# the wall behind it is a jump of metres at any distance
NORMAL_MAX_STEP = 0.3
# the neighbours looked at, in order (a nearer pixel wins a tie in range): one pixel either way, then two,
# as a real scan leaves pixels empty (lost returns, rows its beams fall between)
NORMAL_SHIFTS = (1, -1, 2, -2)

# SemanticKITTI input statistics of RangeNet++ for (range, x, y, z, remission):
# PRBonn/lidar-bonnetal `train/tasks/semantic/config/arch/darknet53.yaml`, dataset.sensor.img_means/img_stds.
KITTI_CHANNELS = ("range", "x", "y", "z", "remission")
KITTI_MEAN = (12.12, 10.88, 0.23, -1.04, 0.21)
KITTI_STD = (12.32, 11.47, 6.91, 0.86, 0.16)

_INT64_MAX = torch.iinfo(torch.int64).max


@dataclass
class Projection:
    """Where every point of a cloud landed in an H x W range image.

    Shapes:
        px, py (N,) int64 column / row of each point (every point has one, also those that lost the pixel);
        point_range (N,) float32; index (H, W) int64 point index per pixel, -1 = empty;
        range (H, W) float32 range of the pixel's (closest) point, -1 = empty.
    """

    px: torch.Tensor
    py: torch.Tensor
    point_range: torch.Tensor
    index: torch.Tensor
    range: torch.Tensor

    @property
    def height(self) -> int:
        return int(self.index.shape[0])

    @property
    def width(self) -> int:
        return int(self.index.shape[1])

    @property
    def mask(self) -> torch.Tensor:
        """(H, W) bool: pixels that hold a point."""
        return self.index >= 0

    def winners(self) -> torch.Tensor:
        """(N,) bool: points that own their pixel (the closest point of the pixel)."""
        won = torch.zeros_like(self.px, dtype=torch.bool)
        valid = self.index[self.index >= 0]
        won[valid] = True
        return won


@contextmanager
def single_thread() -> Iterator[None]:
    """Run the block on one torch intra-op thread (restored afterwards).

    The per-point work of the range branch is many short, memory-bound tensor operations. On a busy machine,
    splitting each of them across threads made them about 5x slower (every operation waits for its slowest
    thread), while on one thread they stay several times faster than the NumPy reference
    (tools/bench_range.py). predict_scan and the normalisation statistics use this; DataLoader workers run
    on one thread anyway.
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def spherical_coords(coord: torch.Tensor, height: int, width: int, fov_up: float,
                     fov_down: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel column, row and range of every point (RangeNet++ formulas, see the module docstring).

    Shapes: coord (N, 3) float -> px (N,) int64, py (N,) int64, range (N,) float32
    """
    coord = coord.to(torch.float32)
    fov_up_rad = math.radians(fov_up)
    fov_down_rad = math.radians(fov_down)
    fov = abs(fov_up_rad) + abs(fov_down_rad)
    if fov <= 0:
        raise ValueError(f"empty vertical field of view: fov_up={fov_up}, fov_down={fov_down}")
    r = torch.linalg.vector_norm(coord, dim=1)
    yaw = -torch.atan2(coord[:, 1], coord[:, 0])
    pitch = torch.asin(torch.where(r > 0, coord[:, 2] / r.clamp_min(1e-12), torch.zeros_like(r)).clamp(-1, 1))
    u = 0.5 * (yaw / math.pi + 1.0) * width
    v = (1.0 - (pitch + abs(fov_down_rad)) / fov) * height
    px = torch.floor(u).clamp_(0, width - 1).to(torch.int64)
    py = torch.floor(v).clamp_(0, height - 1).to(torch.int64)
    return px, py, r


def project(coord: torch.Tensor, height: int = 64, width: int = 2048, fov_up: float = 3.0,
            fov_down: float = -25.0) -> Projection:
    """Project points (sensor frame) into an H x W range image; the closest point wins each pixel.

    Shapes: coord (N, 3) -> Projection (see there)
    """
    if coord.dim() != 2 or coord.shape[1] != 3:
        raise ValueError(f"coord must be (N, 3), got {tuple(coord.shape)}")
    if len(coord) >= 2 ** 31:
        raise ValueError(f"too many points for one range image: {len(coord)}")
    px, py, r = spherical_coords(coord, height, width, fov_up, fov_down)
    n = len(r)
    device = coord.device
    lin = py * width + px
    # non-negative float32 bit patterns sort like the floats, so (range bits << 32 | index) orders points by
    # range first and index second; the per-pixel minimum is the closest point
    key = (r.view(torch.int32).to(torch.int64) << 32) | torch.arange(n, device=device, dtype=torch.int64)
    best = torch.full((height * width,), _INT64_MAX, dtype=torch.int64, device=device)
    best.scatter_reduce_(0, lin, key, reduce="amin")
    filled = best != _INT64_MAX
    index = torch.where(filled, best & 0xFFFFFFFF, torch.full_like(best, -1))
    rng = torch.where(filled, r[index.clamp_min(0)], torch.full_like(best, -1, dtype=torch.float32))
    return Projection(px=px, py=py, point_range=r, index=index.view(height, width),
                      range=rng.view(height, width))


def _pixel_grid(proj: Projection, values: torch.Tensor, fill: float) -> torch.Tensor:
    """Per-pixel values laid out on the image, ``fill`` in empty pixels.

    Shapes: values (P, C) for ``pixel_points(proj)`` -> (H, W, C) float32
    """
    grid = torch.full((proj.height * proj.width, values.shape[1]), fill, dtype=torch.float32,
                      device=values.device)
    grid[proj.mask.reshape(-1)] = values.to(torch.float32)
    return grid.view(proj.height, proj.width, -1)


def _pad_cylinder(grid: torch.Tensor, pad: int, fill: float) -> torch.Tensor:
    """``pad`` pixels more on every side of an image: columns wrap round (a spinning scan's image is a full
    turn), the rows beyond the top and bottom hold ``fill``. Shapes: (H, W, C) -> (H + 2 pad, W + 2 pad, C)"""
    wrapped = torch.cat([grid[:, -pad:], grid, grid[:, :pad]], dim=1)
    return torch.nn.functional.pad(wrapped, (0, 0, 0, 0, pad, pad), value=fill)


def pixel_normals(proj: Projection, coord: torch.Tensor) -> torch.Tensor:
    """The surface normal at every filled pixel, from its neighbours in the range image: the cross product
    of a horizontal and a vertical step to a neighbouring pixel's point, turned to face the sensor. Each
    step goes to whichever of the two neighbours (left or right, the row above or below) is nearer in range,
    so an object's edge takes its normal from the object, not from what lies behind it. Columns wrap
    around (a spinning scan is a cylinder), rows do not; where the next pixel is empty, the one after it
    stands in (NORMAL_SHIFTS). A pixel with no usable neighbour in either
    direction (isolated, or every neighbour more than NORMAL_MAX_STEP of its range away) gets NaN, which
    `make_image` turns into the channel's mean. Image-space normals as range networks use them for input
    (Gigli et al. 2020, "Road segmentation on low resolution LiDAR point clouds", local normals as an input
    channel; arXiv 2504.21602, "Real time semantic segmentation of high resolution automotive LiDAR scans",
    surface normals as input features): a unit vector that reads the same at every distance, where the
    millimetre-to-decimetre steps of x, y and z between neighbours are small next to their normalisation.

    Shapes: proj over H x W, coord (N, 3) the projected points -> (P, 3) float32 for ``pixel_points(proj)``
    """
    h, w = proj.height, proj.width
    filled = proj.mask
    pts = _pixel_grid(proj, coord[pixel_points(proj)], 0.0)
    rng = torch.where(filled, proj.range, torch.full_like(proj.range, float("inf")))
    # every neighbour is a slice of one padded copy: columns wrap round, rows beyond the image are empty
    pad = max(abs(shift) for shift in NORMAL_SHIFTS)
    rng_pad = _pad_cylinder(rng[..., None], pad, float("inf"))[..., 0]
    pts_pad = _pad_cylinder(pts, pad, 0.0)

    def step(dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The step to the nearer-in-range neighbour along ``dim`` (0 rows, 1 columns), and whether it is
        usable; on a tie in range the earlier of NORMAL_SHIFTS wins. Shapes: -> (H, W, 3), (H, W) bool"""
        views = []
        for shift in NORMAL_SHIFTS:     # the pixel ``shift`` before this one, as torch.roll(x, shift, dim)
            rows = slice(pad - shift, pad - shift + h) if dim == 0 else slice(pad, pad + h)
            cols = slice(pad - shift, pad - shift + w) if dim == 1 else slice(pad, pad + w)
            views.append((rows, cols))
        gaps = torch.stack([(rng_pad[rows, cols] - rng).abs() for rows, cols in views])
        gaps = torch.nan_to_num(gaps, nan=float("inf"))      # empty beside empty is no neighbour
        best_gap, best = gaps.min(0)                          # the first of equal gaps
        neighbours = torch.stack([pts_pad[rows, cols] for rows, cols in views])
        best_pts = torch.gather(neighbours, 0, best[None, ..., None].expand(1, h, w, 3))[0]
        return best_pts - pts, best_gap <= NORMAL_MAX_STEP * rng

    across, ok_across = step(1)
    down, ok_down = step(0)
    normal = torch.linalg.cross(across, down, dim=-1)
    length = torch.linalg.vector_norm(normal, dim=-1, keepdim=True)
    ok = filled & ok_across & ok_down & (length[..., 0] > 0)
    normal = normal / length.clamp_min(1e-12)
    facing = (normal * pts).sum(-1, keepdim=True) > 0          # pointing away from the sensor: turn it
    normal = torch.where(facing, -normal, normal)
    normal = torch.where(ok[..., None], normal, torch.full_like(normal, float("nan")))
    return normal.view(h * w, 3)[filled.reshape(-1)]


def normal_roughness(proj: Projection, normal: torch.Tensor) -> torch.Tensor:
    """How much the surface normals in each filled pixel's 3 x 3 neighbourhood disagree: 1 - |mean of the
    unit normals there|, 0 on a plane and towards 1 where they scatter (foliage, clutter), counting only the
    pixels that have a normal (``pixel_normals``); columns wrap around, rows do not. A pixel without a normal
    of its own, or with fewer than two neighbours that have one, gets NaN (the channel's mean in
    `make_image`). The spread of unit normals as a scatter measure is the resultant length of directional
    statistics (Mardia & Jupp, "Directional Statistics", 2000, sec. 9.2); on range images it sets
    vegetation (median about 0.3 on synthetic and real scans) apart from walls and the ground (0.001-0.06),
    where normals alone leave the network to find it with its first layers.

    Shapes: normal (P, 3) for ``pixel_points(proj)``, NaN where a pixel has none -> (P,) float32
    """
    h, w = proj.height, proj.width
    grid = _pixel_grid(proj, normal, float("nan"))
    has = ~grid[..., 0].isnan()
    vec = torch.cat([torch.nan_to_num(grid), has[..., None].to(torch.float32)], dim=-1)    # (H, W, 4)
    vec = _pad_cylinder(vec, 1, 0.0)
    across = vec[:, :-2] + vec[:, 1:-1] + vec[:, 2:]                                        # 3 columns
    total = across[:-2] + across[1:-1] + across[2:]                                         # 3 x 3
    count = total[..., 3]
    rough = 1.0 - torch.linalg.vector_norm(total[..., :3], dim=-1) / count.clamp_min(1.0)
    rough = torch.where(has & (count >= 3), rough.clamp_min(0.0), torch.full_like(rough, float("nan")))
    return rough.view(h * w)[proj.mask.reshape(-1)]


def above_ground(coord: torch.Tensor, cell: float = GROUND_CELL, reach: int = GROUND_REACH) -> torch.Tensor:
    """Each point's height above the local ground: its z minus the lowest z of the points in the
    (2 reach + 1)^2 bird's-eye cells of ``cell`` metres around its own cell. Height above ground, the
    normalised height of airborne and terrestrial LiDAR classification (e.g. Weinmann et al., ISPRS J. 2015,
    "Semantic point cloud interpretation based on optimal neighborhoods", its height features), read the
    same on a cambered road, a crest or a ramp as on level ground, where z alone shifts with every slope.
    Only occupied cells are kept (a sorted key per cell and ``searchsorted`` for the neighbours), so the cost
    follows the points, not the extent of the cloud; a point is never below its own ground, so the channel is
    >= 0.

    Shapes: coord (N, 3) -> (N,) float32
    """
    if len(coord) == 0:
        return coord.new_zeros(0, dtype=torch.float32)
    z = coord[:, 2].to(torch.float32)
    ij = torch.floor(coord[:, :2].to(torch.float64) / cell).to(torch.int64)
    ij = ij - ij.min(0).values + reach                     # >= reach, so every neighbour index is >= 0
    stride = int(ij[:, 1].max()) + reach + 1
    key = ij[:, 0] * stride + ij[:, 1]
    cells, inverse = torch.unique(key, return_inverse=True)          # sorted
    lowest = torch.full((len(cells),), float("inf"), dtype=torch.float32, device=coord.device)
    lowest = lowest.scatter_reduce(0, inverse, z, reduce="amin")
    ground = lowest                                  # torch.where below makes new tensors: lowest stays
    for di in range(-reach, reach + 1):
        for dj in range(-reach, reach + 1):
            if di == 0 and dj == 0:
                continue
            near = cells + di * stride + dj
            at = torch.searchsorted(cells, near).clamp_max(len(cells) - 1)
            found = cells[at] == near
            ground = torch.where(found, torch.minimum(ground, lowest[at]), ground)
    return z - ground[inverse]


def point_channels(coord: torch.Tensor, point_range: torch.Tensor, channels: Sequence[str],
                   intensity: torch.Tensor | None = None, color: torch.Tensor | None = None,
                   normal: torch.Tensor | None = None, roughness: torch.Tensor | None = None,
                   height: torch.Tensor | None = None) -> torch.Tensor:
    """Per-point input values for the named channels; a channel the cloud does not have is NaN (it becomes
    the channel mean, i.e. 0 after normalisation, in `make_image`).

    Shapes: coord (N, 3), point_range (N,), intensity (N,), color (N, 3), normal (N, 3), roughness (N,),
    height (N,) the points' `above_ground` -> (N, C) with NaN for missing
    """
    cols = []
    nan = torch.full_like(point_range, float("nan"))
    for name in channels:
        if name == "range":
            cols.append(point_range)
        elif name in ("x", "y", "z"):
            cols.append(coord[:, "xyz".index(name)])
        elif name == "remission":
            cols.append(intensity if intensity is not None else nan)
        elif name in ("r", "g", "b"):
            cols.append(color[:, "rgb".index(name)] if color is not None else nan)
        elif name in NORMAL_CHANNELS:
            cols.append(normal[:, NORMAL_CHANNELS.index(name)] if normal is not None else nan)
        elif name == ROUGHNESS_CHANNEL:
            cols.append(roughness if roughness is not None else nan)
        elif name == ABOVE_GROUND_CHANNEL:
            cols.append(height if height is not None else nan)
        else:
            raise ValueError(f"unknown range-image channel {name!r}; known: {', '.join(CHANNELS)}")
    return torch.stack([c.to(torch.float32) for c in cols], dim=1)


def pixel_points(proj: Projection) -> torch.Tensor:
    """The points that own the filled pixels, in row-major pixel order (the rows `make_image` expects).

    Shapes: -> (P,) int64, P = number of filled pixels
    """
    flat_index = proj.index.reshape(-1)
    return flat_index[flat_index >= 0]


def make_image(proj: Projection, values: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """The normalised network input: each filled pixel holds its point's channel values, (v - mean) / std, and
    empty pixels are 0 (as lidar-bonnetal `dataset/kitti/parser.py` multiplies by the projection mask). NaN
    values (a channel the cloud lacks) become 0, i.e. the mean.

    Shapes: values (P, C) for the points ``pixel_points(proj)`` -> image (C, H, W) float32
    """
    c = values.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"need {c} channel means/stds, got {len(mean)} and {len(std)}")
    device = values.device
    m = torch.as_tensor(list(mean), dtype=torch.float32, device=device)
    s = torch.as_tensor(list(std), dtype=torch.float32, device=device)
    filled = torch.nonzero(proj.index.reshape(-1) >= 0).squeeze(1)
    if len(filled) != len(values):
        raise ValueError(f"{len(values)} value rows for {len(filled)} filled pixels")
    norm = torch.nan_to_num((values.to(torch.float32) - m) / s, nan=0.0)
    image = torch.zeros(c, proj.height * proj.width, dtype=torch.float32, device=device)
    image.index_copy_(1, filled, norm.t())
    return image.view(c, proj.height, proj.width)


def label_image(proj: Projection, label: torch.Tensor, ignore: int = -1) -> torch.Tensor:
    """Per-pixel label of the pixel's point; empty pixels get ``ignore``.

    Shapes: label (N,) int -> (H, W) int64
    """
    flat_index = proj.index.reshape(-1)
    out = torch.full_like(flat_index, ignore)
    filled = flat_index >= 0
    out[filled] = label.to(torch.int64)[flat_index[filled]]
    return out.view(proj.height, proj.width)


__all__ = ["Projection", "single_thread", "spherical_coords", "project", "pixel_normals", "normal_roughness",
           "above_ground", "point_channels", "pixel_points", "make_image", "label_image",
           "CHANNELS", "NORMAL_CHANNELS", "ROUGHNESS_CHANNEL", "ABOVE_GROUND_CHANNEL", "KITTI_CHANNELS", "KITTI_MEAN",
           "KITTI_STD"]
