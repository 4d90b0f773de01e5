"""Blocks for the 3D models: the PointNet S3DIS protocol.

Reference: charlesq34/pointnet `sem_seg/indoor3d_util.py` (``room2blocks``, ``room2blocks_plus_normalized``,
``sample_data``). A room (shifted so that its minimum is 0) is cut into ``block_size`` x ``block_size``
columns in x-y, starting every ``stride`` metres (1 m and 0.5 m in the paper); the number of columns along x
is ``ceil((extent_x - block_size) / stride) + 1`` (at least 1), as in the reference. Per point the 9 input
channels are, as in ``room2blocks_plus_normalized``:

* ``xyz``: x, y minus the block centre, z minus the room's minimum z (metres). The reference centres on
  ``min(block points) + block_size / 2``; pcseg uses the nominal column centre ``begin + block_size / 2``,
  which is the same for full blocks and does not depend on which points were sampled;
* ``rgb``: colour in [0, 1];
* ``xyz_norm``: (coord - room_min) / (room_max - room_min);
* ``normal`` (optional, for A-CNN): the cloud's unit normals.

Training blocks (``BlockDataset``) are resampled every epoch (``sample_data``: without replacement when the
block has enough points, else every point plus random repeats). Evaluation blocks (``iter_eval_blocks``)
cover every point of the room: each column is split into chunks of ``num_points``; the last chunk is padded
with random repeats of the column's points, flagged in ``pad``.

Memory: a room's points are sorted once by stride cell (one int32/int64 index per point plus a cell offset
table); a column is a few contiguous slices of that order, never a stored copy of its points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from pcseg.data.transforms import MixBlocks, RandomDensity, find
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

FEATURE_CHANNELS = {"xyz": 3, "rgb": 3, "xyz_norm": 3, "normal": 3}
DEFAULT_FEATURES = ("xyz", "rgb", "xyz_norm")


def check_features(features: Sequence[str], cloud: Cloud | None = None) -> tuple[str, ...]:
    """Validate feature names (and that ``cloud`` carries what they need); returns them as a tuple."""
    features = tuple(features)
    unknown = [f for f in features if f not in FEATURE_CHANNELS]
    if unknown or not features:
        raise ValueError(f"unknown block feature {unknown[0] if unknown else '(none)'!r}; "
                         f"valid: {', '.join(FEATURE_CHANNELS)}")
    if cloud is not None:
        if "rgb" in features and cloud.color is None:
            raise ValueError("feature 'rgb' needs a cloud with colour")
        if "normal" in features and cloud.normal is None:
            raise ValueError("feature 'normal' needs a cloud with normals (estimate them first)")
    return features


def num_channels(features: Sequence[str]) -> int:
    return sum(FEATURE_CHANNELS[f] for f in check_features(features))


@dataclass(frozen=True)
class Grid:
    """The column grid of a room: ``nbx`` x ``nby`` block columns every ``stride`` metres, over
    ``ncx`` x ``ncy`` stride cells (a column covers ``span`` x ``span`` cells).

    A cloud processed tile by tile (pcseg.engine.tiled) uses the grid of the WHOLE cloud for every tile, so
    each column gets exactly the points, features and random chunks it gets when the cloud is processed in
    one piece. Shapes: room_min, room_max (3,) float64.
    """

    room_min: np.ndarray
    room_max: np.ndarray
    block_size: float
    stride: float
    nbx: int           # block columns along x
    nby: int
    span: int          # cells per block side: ceil(block_size / stride)
    exact: bool        # cells do not tile a block exactly -> filter by coordinate

    @property
    def ncx(self) -> int:
        return self.nbx - 1 + self.span

    @property
    def ncy(self) -> int:
        return self.nby - 1 + self.span

    def cells(self, coord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stride cell of every point (clipped to the grid). Shapes: coord (N, >=2) -> cx, cy (N,) int64."""
        coord = np.asarray(coord)
        cx = np.clip(((coord[:, 0] - self.room_min[0]) / self.stride).astype(np.int64), 0, self.ncx - 1)
        cy = np.clip(((coord[:, 1] - self.room_min[1]) / self.stride).astype(np.int64), 0, self.ncy - 1)
        return cx, cy

    def window(self, bx0: int, bx1: int, by0: int, by1: int) -> tuple[int, int, int, int]:
        """The cells (x0, x1, y0, y1; ends exclusive) holding the points of columns [bx0, bx1) x [by0, by1)."""
        return bx0, min(bx1 - 1 + self.span, self.ncx), by0, min(by1 - 1 + self.span, self.ncy)


# at most this many stride cells (8 bytes each in the tiling plan): 20 km x 20 km at a 1 m stride
MAX_GRID_CELLS = 4e8


def room_grid(room_min: np.ndarray, room_max: np.ndarray, block_size: float, stride: float) -> Grid:
    """The grid of a room with the given bounds (the number of columns as in the reference, see above)."""
    room_min = np.asarray(room_min, dtype=np.float64)
    room_max = np.asarray(room_max, dtype=np.float64)
    extent = room_max - room_min
    # reference: num_block_x = int(np.ceil((limit[0] - block_size) / stride)) + 1
    cells = float(np.prod(np.ceil(np.maximum(extent[:2], 0) / stride) + 1))
    if not np.isfinite(cells) or cells > MAX_GRID_CELLS:
        raise PcsegError(None, f"the cloud spans {extent[0]:.4g} x {extent[1]:.4g} (x, y), {cells:.3g} cells of "
                               f"{stride:g}: too many to cut into {block_size:g} blocks (coordinates not in metres?)")
    nbx, nby = (max(1, int(math.ceil((extent[a] - block_size) / stride)) + 1) for a in (0, 1))
    ratio = block_size / stride
    span = max(1, int(math.ceil(ratio - 1e-9)))
    exact = abs(ratio - round(ratio)) > 1e-9 or ratio < 1
    return Grid(room_min, room_max, float(block_size), float(stride), nbx, nby, span, exact)


@dataclass
class _RoomIndex:
    """Points of one room (or one tile of it) sorted by stride cell.

    The index covers the cells [x0, x0 + ncx) x [y0, y0 + ncy) of ``grid``; every point must lie there.
    Shapes: order (N,) int; offsets (ncx * ncy + 1,) int64.
    """

    order: np.ndarray
    offsets: np.ndarray
    grid: Grid
    x0: int
    y0: int
    ncx: int           # cells of the window along x
    ncy: int

    @property
    def nbx(self) -> int:
        return self.grid.nbx

    @property
    def nby(self) -> int:
        return self.grid.nby

    @property
    def room_min(self) -> np.ndarray:
        return self.grid.room_min

    @property
    def room_max(self) -> np.ndarray:
        return self.grid.room_max

    @property
    def exact(self) -> bool:
        return self.grid.exact

    def slices(self, bx: int, by: int) -> Iterator[tuple[int, int]]:
        """(start, stop) ranges of ``order`` that hold column (bx, by), one per cell row along x."""
        g = self.grid
        y_lo, y_hi = by - self.y0, min(by + g.span, g.ncy) - self.y0
        if not (0 <= y_lo and y_hi <= self.ncy and bx >= self.x0 and min(bx + g.span, g.ncx) <= self.x0 + self.ncx):
            raise ValueError(f"column ({bx}, {by}) is outside the indexed window")
        for a in range(bx - self.x0, min(bx + g.span, g.ncx) - self.x0):
            yield int(self.offsets[a * self.ncy + y_lo]), int(self.offsets[a * self.ncy + y_hi])


def _index_room(coord: np.ndarray, block_size: float, stride: float, grid: Grid | None = None,
                window: tuple[int, int, int, int] | None = None) -> _RoomIndex:
    """Sort the points by cell. ``grid`` defaults to the grid of ``coord``'s own bounds; ``window`` (cells
    x0, x1, y0, y1) to the whole grid."""
    coord = np.asarray(coord)
    if grid is None:
        grid = room_grid(coord.min(axis=0), coord.max(axis=0), block_size, stride)
    x0, x1, y0, y1 = window if window is not None else (0, grid.ncx, 0, grid.ncy)
    cx, cy = grid.cells(coord)
    cx -= x0
    cy -= y0
    ncx, ncy = x1 - x0, y1 - y0
    if len(coord) and (cx.min() < 0 or cx.max() >= ncx or cy.min() < 0 or cy.max() >= ncy):
        raise ValueError("points outside the indexed window")
    cell = cx * ncy + cy
    itype = np.int32 if len(coord) < 2**31 else np.int64
    order = np.argsort(cell, kind="stable").astype(itype)
    offsets = np.zeros(ncx * ncy + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell, minlength=ncx * ncy), out=offsets[1:])
    return _RoomIndex(order, offsets, grid, x0, y0, ncx, ncy)


def _block_points(idx: _RoomIndex, bx: int, by: int, coord: np.ndarray | None, block_size: float,
                  stride: float) -> np.ndarray:
    """Indices (into the room) of the points of block column (bx, by); ``coord`` is needed only when the
    stride does not divide the block size."""
    parts = [idx.order[start:stop] for start, stop in idx.slices(bx, by)]
    pts = np.concatenate(parts) if len(parts) > 1 else parts[0]
    if idx.exact and len(pts):
        assert coord is not None
        begin = idx.room_min[:2] + np.array([bx, by]) * stride
        xy = np.asarray(coord[pts, :2], dtype=np.float64)
        keep = np.ones(len(pts), dtype=bool)
        for a, b, n in ((0, bx, idx.nbx), (1, by, idx.nby)):
            if b < n - 1:   # the last column keeps everything up to the room's edge
                keep &= xy[:, a] < begin[a] + block_size
        pts = pts[keep]
    return pts


def _block_count(idx: _RoomIndex, bx: int, by: int) -> int:
    return sum(stop - start for start, stop in idx.slices(bx, by))


def block_features(cloud: Cloud, pts: np.ndarray, center_xy: np.ndarray, room_min: np.ndarray,
                   room_max: np.ndarray, features: Sequence[str],
                   transform: Callable[..., dict] | None = None,
                   rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """Build one block sample from the room points ``pts``.

    Shapes: pts (N,) int -> {"features" (C, N) float32, "coord" (N, 3) float32 (block-local metres),
    "label" (N,) int64 when the cloud has labels}.
    """
    coord = np.asarray(cloud.coord[pts], dtype=np.float64)
    local = coord.copy()
    local[:, 0] -= center_xy[0]
    local[:, 1] -= center_xy[1]
    local[:, 2] -= room_min[2]
    sample: dict[str, Any] = {"coord": local.astype(np.float32)}
    if cloud.color is not None:
        sample["color"] = np.asarray(cloud.color[pts], dtype=np.float32)
    if cloud.normal is not None:
        sample["normal"] = np.asarray(cloud.normal[pts], dtype=np.float32)
    if cloud.label is not None:
        sample["label"] = np.asarray(cloud.label[pts], dtype=np.int64)
    if transform is not None:
        sample = transform(sample, rng)
    channels = []
    for f in features:
        if f == "xyz":
            channels.append(sample["coord"])
        elif f == "rgb":
            channels.append(sample["color"])
        elif f == "xyz_norm":
            channels.append(((coord - room_min) / np.maximum(room_max - room_min, 1e-6)).astype(np.float32))
        elif f == "normal":
            channels.append(sample["normal"])
    out = {"features": np.ascontiguousarray(np.concatenate(channels, axis=1).T, dtype=np.float32),
           "coord": np.ascontiguousarray(sample["coord"], dtype=np.float32)}
    if "label" in sample:
        out["label"] = np.ascontiguousarray(sample["label"], dtype=np.int64)
    return out


def sample_indices(n: int, num_points: int, rng: np.random.Generator) -> np.ndarray:
    """PointNet ``sample_data``: num_points of n without replacement when n >= num_points, else all n
    points followed by num_points - n random repeats. Shapes: -> (num_points,) int64."""
    if n >= num_points:
        return rng.choice(n, num_points, replace=False)
    return np.concatenate([np.arange(n), rng.choice(n, num_points - n, replace=True)])


CloudSource = Cloud | Callable[[], Cloud]


class BlockDataset:
    """Training blocks of many rooms (a map-style dataset for torch.utils.data.DataLoader).

    ``clouds`` are Clouds (numpy or memory-mapped arrays) or callables returning one (called once here to
    index the room, then again when an item of that room is drawn; the last room is kept). Blocks with fewer
    than ``min_points`` points are skipped. Item ``i`` is sampled with a generator seeded by
    ``(seed, epoch, i)``, so it does not depend on worker count or order; call ``set_epoch`` each epoch
    (before the DataLoader's workers start, or with ``persistent_workers=False``).

    Shapes: item -> {"features" (C, num_points) float32, "coord" (num_points, 3) float32,
    "label" (num_points,) int64}; C = 3 per feature name.
    """

    def __init__(self, clouds: Sequence[CloudSource], block_size: float = 1.0, stride: float = 0.5,
                 num_points: int = 4096, min_points: int = 100, transform: Callable[..., dict] | None = None,
                 seed: int = 0, features: Sequence[str] = DEFAULT_FEATURES) -> None:
        if block_size <= 0 or stride <= 0:
            raise ValueError(f"block_size and stride must be > 0, got {block_size}, {stride}")
        if num_points < 1:
            raise ValueError(f"num_points must be >= 1, got {num_points}")
        self.block_size, self.stride = float(block_size), float(stride)
        self.num_points, self.min_points = int(num_points), int(min_points)
        self.transform, self.seed, self.epoch = transform, int(seed), 0
        # block-level augmentations (pcseg.data.transforms): uneven density before sampling, block mixing
        self._density, self._mix = find(transform, RandomDensity), find(transform, MixBlocks)
        self.features = check_features(features)
        self._sources = list(clouds)
        self._cached: tuple[int, Cloud] | None = None   # the last room loaded through a callable
        self._indexes: list[_RoomIndex] = []
        blocks = []
        for r, src in enumerate(self._sources):
            cloud = self._cloud(r)
            check_features(self.features, cloud)
            if cloud.label is None:
                raise ValueError(f"room {r} has no labels; training blocks need them")
            if len(cloud) == 0:
                self._indexes.append(_index_room(np.zeros((1, 3)), block_size, stride))
                continue
            idx = _index_room(cloud.coord, self.block_size, self.stride)
            self._indexes.append(idx)
            for bx in range(idx.nbx):
                for by in range(idx.nby):
                    if _block_count(idx, bx, by) < self.min_points:
                        continue
                    if idx.exact and len(_block_points(idx, bx, by, cloud.coord, self.block_size,
                                                       self.stride)) < self.min_points:
                        continue
                    blocks.append((r, bx, by))
        self._blocks = np.array(blocks, dtype=np.int32).reshape(-1, 3)
        self._cached = None

    def _cloud(self, r: int) -> Cloud:
        src = self._sources[r]
        if isinstance(src, Cloud):
            return src
        if self._cached is None or self._cached[0] != r:
            self._cached = (r, src())
        return self._cached[1]

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_cached"] = None   # worker processes reload rooms through their callables
        return state

    @property
    def num_channels(self) -> int:
        return num_channels(self.features)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._blocks)

    def block(self, i: int) -> tuple[int, int, int]:
        """(room index, column x, column y) of block i."""
        r, bx, by = self._blocks[i]
        return int(r), int(bx), int(by)

    def block_indices(self, i: int) -> np.ndarray:
        """All point indices (into its room) of block i. Shapes: -> (M,) int."""
        r, bx, by = self.block(i)
        return _block_points(self._indexes[r], bx, by, self._cloud(r).coord, self.block_size, self.stride)

    def _sample_block(self, i: int, num_points: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        r, bx, by = self.block(i)
        idx = self._indexes[r]
        cloud = self._cloud(r)
        pts = _block_points(idx, bx, by, cloud.coord, self.block_size, self.stride)
        if self._density is not None:
            pts = pts[self._density.keep(cloud.coord[pts], rng)]
        pts = pts[sample_indices(len(pts), num_points, rng)]
        center = idx.room_min[:2] + np.array([bx, by]) * self.stride + self.block_size / 2
        return block_features(cloud, pts, center, idx.room_min, idx.room_max, self.features,
                              self.transform, rng)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"block {i} out of range ({len(self)} blocks)")
        i = i % len(self)
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self._mix is not None and self._mix.p > 0 and len(self) > 1 and rng.random() < self._mix.p:
            other = int(rng.integers(len(self) - 1))
            other += other >= i                                  # any block but this one
            half = self.num_points // 2
            own, mixed = self._sample_block(i, self.num_points - half, rng), self._sample_block(other, half, rng)
            return {k: np.concatenate([own[k], mixed[k]], axis=1 if k == "features" else 0) for k in own}
        return self._sample_block(i, self.num_points, rng)

    def __repr__(self) -> str:
        return (f"BlockDataset({len(self._sources)} rooms, {len(self)} blocks, block_size={self.block_size}, "
                f"stride={self.stride}, num_points={self.num_points}, features={list(self.features)}, "
                f"transform={self.transform!r})")


def iter_eval_blocks(cloud: Cloud, block_size: float = 1.0, stride: float = 0.5, num_points: int = 4096,
                     features: Sequence[str] = DEFAULT_FEATURES, seed: int = 0, grid: Grid | None = None,
                     columns: tuple[int, int, int, int] | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Evaluation chunks that together cover every point of ``cloud`` at least once.

    Each (overlapping, stride <= block_size) column's points are shuffled with a generator seeded by
    (seed, column) and split into chunks of ``num_points``; the last chunk is filled up with random repeats
    of the column's points (``pad`` True there). With stride = block_size / 2 an interior point lies in 4
    columns. Empty columns are skipped.

    Tiles: with ``grid`` (the whole cloud's, from :func:`room_grid`) and ``columns`` (bx0, bx1, by0, by1),
    ``cloud`` holds the points of ``grid.window(*columns)`` in their original order, and only those columns
    are produced, exactly as they are for the whole cloud.

    Shapes: yields {"features" (C, num_points) float32, "coord" (num_points, 3) float32,
    "index" (num_points,) int64 into the cloud, "pad" (num_points,) bool}.
    """
    if stride > block_size:
        raise ValueError(f"evaluation stride {stride} > block size {block_size} would leave points out")
    features = check_features(features, cloud)
    if len(cloud) == 0:
        return
    if grid is None:
        idx = _index_room(cloud.coord, block_size, stride)
        columns = (0, idx.nbx, 0, idx.nby)
    else:
        columns = columns if columns is not None else (0, grid.nbx, 0, grid.nby)
        idx = _index_room(cloud.coord, block_size, stride, grid, grid.window(*columns))
    for bx in range(columns[0], columns[1]):
        for by in range(columns[2], columns[3]):
            pts = _block_points(idx, bx, by, cloud.coord, block_size, stride)
            n = len(pts)
            if n == 0:
                continue
            rng = np.random.default_rng([seed, bx, by])
            pts = pts[rng.permutation(n)]
            center = idx.room_min[:2] + np.array([bx, by]) * stride + block_size / 2
            for start in range(0, n, num_points):
                chunk = pts[start:start + num_points]
                pad = np.zeros(num_points, dtype=bool)
                if len(chunk) < num_points:
                    pad[len(chunk):] = True
                    chunk = np.concatenate([chunk, pts[rng.choice(n, num_points - len(chunk), replace=True)]])
                out = block_features(cloud, chunk, center, idx.room_min, idx.room_max, features)
                out.pop("label", None)
                out["index"] = chunk.astype(np.int64)
                out["pad"] = pad
                yield out


def batch_eval_blocks(blocks: Iterable[dict[str, np.ndarray]], batch_size: int
                      ) -> Iterator[dict[str, np.ndarray]]:
    """Stack evaluation chunks into batches of up to ``batch_size``.

    Shapes: yields {"features" (B, C, N), "coord" (B, N, 3), "index" (B, N), "pad" (B, N)}.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch: list[dict[str, np.ndarray]] = []
    for block in blocks:
        batch.append(block)
        if len(batch) == batch_size:
            yield {k: np.stack([b[k] for b in batch]) for k in batch[0]}
            batch = []
    if batch:
        yield {k: np.stack([b[k] for b in batch]) for k in batch[0]}


__all__ = ["BlockDataset", "Grid", "room_grid", "iter_eval_blocks", "batch_eval_blocks", "block_features", "sample_indices",
           "check_features", "num_channels", "FEATURE_CHANNELS", "DEFAULT_FEATURES"]
