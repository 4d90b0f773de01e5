"""Labels for a cloud too large to hold at once, tile by tile: ``pcseg segment`` on big .npy / .bin / binary
.ply files.

The cloud is read in chunks (pcseg.io.stream) and never held whole. Tiles follow the column grid of the WHOLE
cloud (pcseg.data.blocks.room_grid over the stream's bounds): a tile owns a rectangle of stride cells (its
core) and evaluates every block column that covers a core cell, on the points of those columns, so each core
point gets the scores of exactly the chunks that pcseg.engine.inference.predict_cloud gives it on the whole
cloud (same points per column in the same order, same random chunks, same features). Neighbouring tiles
both evaluate the columns on their common border (span - 1 = 1 cell per side at the default stride).

Tiles are planned from a per-cell point count so that a tile holds at most ``tile_points`` points (core and
border) where the density allows; a single row of cells is never split. The file is read once to open the
stream, once for the counts and once per tile (from the page cache when the file fits there).

Memory: the (ncx, ncy) cell counts, one int16 label per point, and one tile: its points, its (M, K) float32
score sums and one batch of the model.
"""

from __future__ import annotations

import sys
from typing import Iterator

import numpy as np
import torch

from pcseg.config import Config
from pcseg.data.blocks import Grid, iter_eval_blocks, room_grid
from pcseg.engine.inference import accumulate_scores
from pcseg.ops.interpolate import fill_from_nearest
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.stream import CloudStream

TILE_POINTS = 2_000_000


def _split(counts: np.ndarray, span: int, nb: int, limit: int) -> list[tuple[int, int]]:
    """Cut the cells 0..len(counts) of one axis into consecutive core ranges [c0, c1) whose tiles hold at
    most ``limit`` points with their border (at least one cell each). ``counts`` (nc,) points per cell."""
    nc = len(counts)
    cum = np.concatenate([[0], np.cumsum(counts)])
    ranges, c0 = [], 0
    while c0 < nc:
        c1 = c0 + 1
        while c1 < nc:
            lo, hi = _window(c0, c1 + 1, span, nb, nc)
            if cum[hi] - cum[lo] > limit:
                break
            c1 += 1
        ranges.append((c0, c1))
        c0 = c1
    return ranges


def _columns(c0: int, c1: int, span: int, nb: int) -> tuple[int, int]:
    """The block columns [b0, b1) that cover any of the cells [c0, c1) (a column b covers b .. b + span - 1)."""
    return max(0, c0 - span + 1), min(c1, nb)


def _window(c0: int, c1: int, span: int, nb: int, nc: int) -> tuple[int, int]:
    """The cells holding the points of the columns that cover the cells [c0, c1)."""
    b0, b1 = _columns(c0, c1, span, nb)
    return b0, min(b1 - 1 + span, nc)


def plan_tiles(grid: Grid, cell_counts: np.ndarray, tile_points: int) -> list[tuple[int, int, int, int]]:
    """Core cell rectangles (x0, x1, y0, y1; ends exclusive) that partition the grid's cells.

    Strips along x hold at most ``tile_points`` points with their borders; each strip is then cut along y
    the same way. Shapes: cell_counts (ncx, ncy) int.
    """
    tiles = []
    for x0, x1 in _split(cell_counts.sum(axis=1), grid.span, grid.nbx, tile_points):
        wx0, wx1 = _window(x0, x1, grid.span, grid.nbx, grid.ncx)
        for y0, y1 in _split(cell_counts[wx0:wx1].sum(axis=0), grid.span, grid.nby, tile_points):
            tiles.append((x0, x1, y0, y1))
    return tiles


def stream_grid(stream: CloudStream, cfg: Config) -> tuple[Grid, np.ndarray]:
    """The whole cloud's grid and its per-cell point counts. Shapes: -> counts (ncx, ncy) int64."""
    grid = room_grid(stream.coord_min, stream.coord_max, cfg.data.block_size, cfg.data.eval_stride)
    counts = np.zeros(grid.ncx * grid.ncy, dtype=np.int64)
    for _, chunk in stream.chunks():
        cx, cy = grid.cells(chunk.coord)
        counts += np.bincount(cx * grid.ncy + cy, minlength=grid.ncx * grid.ncy)
    return grid, counts.reshape(grid.ncx, grid.ncy)


def _gather(stream: CloudStream, grid: Grid, window: tuple[int, int, int, int], grey: bool
            ) -> tuple[Cloud, np.ndarray, np.ndarray, np.ndarray]:
    """The points of the cells ``window`` in file order: (tile cloud with the stream's colour (or grey),
    intensity and normals, their indices in the whole cloud, their cells cx, cy).

    Shapes: -> Cloud of M points, index (M,) int64, cx (M,), cy (M,).
    """
    x0, x1, y0, y1 = window
    attrs = ("color", "intensity", "normal")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ("coord", *attrs, "index", "cx", "cy")}
    for first, chunk in stream.chunks():
        cx, cy = grid.cells(chunk.coord)
        sel = np.flatnonzero((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1))
        if not len(sel):
            continue
        parts["coord"].append(chunk.coord[sel])
        for name in attrs:
            if getattr(chunk, name) is not None:
                parts[name].append(getattr(chunk, name)[sel])
        parts["index"].append(first + sel)
        parts["cx"].append(cx[sel])
        parts["cy"].append(cy[sel])
    if not parts["coord"]:
        empty = np.zeros(0, dtype=np.int64)
        return Cloud(np.zeros((0, 3), np.float32)), empty, empty, empty
    coord = np.concatenate(parts["coord"])
    color, intensity, normal = (np.concatenate(parts[name]) if parts[name] else None for name in attrs)
    if color is None and grey:
        color = np.full((len(coord), 3), 0.5, dtype=np.float32)
    cloud = Cloud(coord, color=color, intensity=intensity, normal=normal, meta={"source": str(stream.path)})
    return cloud, np.concatenate(parts["index"]), np.concatenate(parts["cx"]), np.concatenate(parts["cy"])


@torch.inference_mode()
def iter_tile_scores(model: torch.nn.Module, stream: CloudStream, cfg: Config, device: torch.device | str,
                     batch_size: int | None = None, tile_points: int = TILE_POINTS, show_progress: bool = False,
                     tta: bool = False) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
    """Averaged class probabilities of every point of ``stream``, one tile core at a time (``tta``: each chunk
    also turned, as pcseg.engine.inference.predict_cloud does).

    Yields (indices (M,) int64 into the stream's points, scores (M, K) float32); the cores partition the
    cloud. A 3D (block) model only.
    """
    from tqdm import tqdm

    device = torch.device(device)
    model.eval()
    batch_size = batch_size or cfg.train.batch_size
    where = str(stream.path)
    grey = "rgb" in cfg.data.features and not stream.has_color
    if grey:
        print(f"pcseg: warning: {where}: no colour; using grey (the model was trained with rgb)", file=sys.stderr)
    grid, cell_counts = stream_grid(stream, cfg)
    tiles = plan_tiles(grid, cell_counts, tile_points)
    for x0, x1, y0, y1 in tqdm(tiles, desc="tiles", unit="tile", disable=not show_progress, file=sys.stderr,
                               dynamic_ncols=True, leave=False):
        if not cell_counts[x0:x1, y0:y1].any():
            continue
        bx0, bx1 = _columns(x0, x1, grid.span, grid.nbx)
        by0, by1 = _columns(y0, y1, grid.span, grid.nby)
        columns = (bx0, bx1, by0, by1)
        cloud, index, cx, cy = _gather(stream, grid, grid.window(*columns), grey)
        blocks = iter_eval_blocks(cloud, block_size=cfg.data.block_size, stride=cfg.data.eval_stride,
                                  num_points=cfg.data.num_points, features=tuple(cfg.data.features),
                                  grid=grid, columns=columns)
        scores, counts = accumulate_scores(model, blocks, len(cloud), cfg, device, batch_size, where, tta)
        core = (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
        covered = counts.numpy() > 0
        scores /= counts.clamp(min=1).unsqueeze(1).to(torch.float32)
        if not covered[core].all():     # a guard, as in predict_cloud: iter_eval_blocks covers every point
            scores = fill_from_nearest(cloud.coord, scores, covered)
        keep = np.flatnonzero(core)
        yield index[keep], scores[torch.from_numpy(keep)]


def predict_stream(model: torch.nn.Module, stream: CloudStream, cfg: Config, device: torch.device | str,
                   batch_size: int | None = None, tile_points: int = TILE_POINTS, show_progress: bool = False,
                   tta: bool = False) -> np.ndarray:
    """The predicted class of every point of ``stream``. Shapes: -> (stream.n,) int16."""
    labels = np.full(stream.n, -1, dtype=np.int16)
    for index, scores in iter_tile_scores(model, stream, cfg, device, batch_size, tile_points, show_progress,
                                          tta):
        labels[index] = scores.argmax(dim=1).numpy()
    if (labels < 0).any():
        raise PcsegError(stream.path, f"{int((labels < 0).sum())} points were in no tile")
    return labels


__all__ = ["predict_stream", "iter_tile_scores", "plan_tiles", "stream_grid", "TILE_POINTS"]
