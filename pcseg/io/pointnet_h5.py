"""PointNet's S3DIS blocks (``indoor3d_sem_seg_hdf5_data/``) back to whole rooms, and the writer.

Layout (charlesq34/pointnet `sem_seg/gen_indoor3d_h5.py`): ``ply_data_all_<k>.h5`` files, each with
``data`` (B, 4096, 9) float32 and ``label`` (B, 4096) uint8; ``room_filelist.txt`` names the room of every
block, in file order (``Area_1_conferenceRoom_1``); ``all_files.txt`` lists the .h5 files.

Columns (charlesq34/pointnet `sem_seg/indoor3d_util.py` room2blocks_plus_normalized; the room is first
shifted so that its minimum is 0, `collect_point_label`):

* 0-2: x - cx, y - cy, z, where (cx, cy) = (min x, min y) of the block's points + block_size / 2;
* 3-5: rgb / 255;
* 6-8: x / max_x, y / max_y, z / max_z over the room.

The reader recovers room coordinates in metres: within one block col0 = max_x * col6 - cx, so max_x is the
slope of col0 against col6, fitted by least squares over all blocks of the room with one intercept per block
(the same for y); max_z = col2 / col8 (least squares). Points repeated within a block (the reference pads
blocks by sampling with replacement) or across overlapping blocks (stride 0.5 < block 1.0) are the same
stored row (normalised coordinates, colour, label) and are kept once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

_ROOM = re.compile(r"^(Area_\d+)_(.+)$")
_H5 = re.compile(r"ply_data_all_(\d+)\.h5$")


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("reading PointNet HDF5 blocks needs h5py: pip install h5py") from e
    return h5py


def _h5_files(folder: Path) -> list[Path]:
    listing = folder / "all_files.txt"
    if listing.is_file():
        names = [line.strip() for line in listing.read_text(errors="replace").splitlines() if line.strip()]
        files = [folder / Path(name).name for name in names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise PcsegError(listing, f"lists {missing[0]}, which is not in {folder}")
    else:
        files = sorted((p for p in folder.glob("ply_data_all_*.h5") if _H5.search(p.name)),
                       key=lambda p: int(_H5.search(p.name).group(1)))
    if not files:
        raise PcsegError(folder, "no ply_data_all_*.h5 files (not a PointNet indoor3d_sem_seg_hdf5_data folder)")
    return files


def _fit_scale(offset: np.ndarray, norm: np.ndarray, block: np.ndarray) -> float:
    """Least-squares slope of ``offset`` against ``norm`` with one intercept per block.

    Shapes: offset (M,), norm (M,), block (M,) int block ids -> scalar.
    """
    counts = np.bincount(block)
    safe = np.maximum(counts, 1)
    d_norm = norm - (np.bincount(block, norm) / safe)[block]
    d_off = offset - (np.bincount(block, offset) / safe)[block]
    den = float(np.dot(d_norm, d_norm))
    if not den > 0:
        return float("nan")
    return float(np.dot(d_norm, d_off)) / den


def _room_from_blocks(data: np.ndarray, label: np.ndarray, where: Path, name: str) -> tuple[Cloud, list[str]]:
    """Blocks of one room -> a Cloud in room coordinates (shifted to min 0), duplicates removed.

    Shapes: data (B, P, 9) float32, label (B, P) -> Cloud with N <= B * P points.
    """
    b, p, _ = data.shape
    flat = data.reshape(-1, 9)
    lab = label.reshape(-1).astype(np.int64)
    if not np.all(np.isfinite(flat)):
        raise PcsegError(where, f"room {name}: non-finite values in data")
    # one row per distinct stored point: normalised coords + colour + label (bytes of the float32 values)
    key = np.concatenate([flat[:, 3:9].view(np.uint32), lab[:, None].astype(np.uint32)], axis=1)
    _, first = np.unique(np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1] * 4))).reshape(-1),
                         return_index=True)
    block = np.repeat(np.arange(b), p)
    f64 = flat.astype(np.float64)
    max_x = _fit_scale(f64[:, 0], f64[:, 6], block)
    max_y = _fit_scale(f64[:, 1], f64[:, 7], block)
    c8 = f64[:, 8]
    max_z = float(np.dot(f64[:, 2], c8) / np.dot(c8, c8)) if np.dot(c8, c8) > 0 else float("nan")
    if not all(np.isfinite(v) and v > 0 for v in (max_x, max_y, max_z)):
        raise PcsegError(where, f"room {name}: cannot recover the room extent from the normalised columns "
                                f"(every block is flat in x or y, or all z are 0)")
    keep = np.sort(first)
    coord = np.stack([f64[keep, 6] * max_x, f64[keep, 7] * max_y, f64[keep, 2]], axis=1)
    notes = [f"coordinates recovered from normalised columns (room extent {max_x:.3f} x {max_y:.3f} x "
             f"{max_z:.3f} m, shifted to min 0)"]
    dropped = len(flat) - len(keep)
    if dropped:
        notes.append(f"{dropped} repeated block points merged ({len(keep)} distinct of {len(flat)})")
    cloud = Cloud(coord=coord, color=flat[keep, 3:6], label=lab[keep])
    return cloud, notes


def read_pointnet_h5_rooms(folder: str | os.PathLike) -> Iterator[tuple[str, str, Cloud]]:
    """Yield (area, room, Cloud) for every room in a PointNet HDF5 folder, in file order.

    One room's blocks are read at a time, so memory is bounded by the largest room. Cloud: coord (N, 3)
    float32 in metres (room shifted to min 0), color (N, 3) float32 in [0, 1], label (N,) int64 in
    ``pcseg.classes.S3DIS`` order; meta = {"area", "room", "repairs", "source", "blocks"}.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PcsegError(folder, "no such folder")
    files = _h5_files(folder)
    listing = folder / "room_filelist.txt"
    if not listing.is_file():
        raise PcsegError(folder, "no room_filelist.txt beside the .h5 files")
    rooms = [line.strip() for line in listing.read_text(errors="replace").splitlines() if line.strip()]
    h5py = _h5py()

    # (file, first block, stop block) ranges of each room, in order of first appearance
    sizes = []
    for f in files:
        try:
            with h5py.File(f, "r") as h5:
                data, label = h5["data"], h5["label"]
                if data.ndim != 3 or data.shape[2] != 9 or label.shape != data.shape[:2]:
                    raise PcsegError(f, f"expected data (B, P, 9) and label (B, P), found {data.shape} "
                                        f"and {label.shape}")
                sizes.append(data.shape[0])
        except (OSError, KeyError) as e:
            raise PcsegError(f, f"not a PointNet block file ({e})") from None
    if sum(sizes) != len(rooms):
        raise PcsegError(listing, f"names {len(rooms)} blocks but the .h5 files hold {sum(sizes)}")
    ranges: dict[str, list[tuple[Path, int, int]]] = {}
    offset = 0
    for f, n in zip(files, sizes):
        start = 0
        while start < n:
            stop = start
            name = rooms[offset + start]
            while stop < n and rooms[offset + stop] == name:
                stop += 1
            ranges.setdefault(name, []).append((f, start, stop))
            start = stop
        offset += n

    for name, parts in ranges.items():
        m = _ROOM.match(name)
        if not m:
            raise PcsegError(listing, f"room name {name!r} is not Area_N_<room>")
        data, label = [], []
        for f, start, stop in parts:
            with h5py.File(f, "r") as h5:
                data.append(np.asarray(h5["data"][start:stop], dtype=np.float32))
                label.append(np.asarray(h5["label"][start:stop]))
        cloud, notes = _room_from_blocks(np.concatenate(data), np.concatenate(label), folder, name)
        cloud.meta = {"area": m.group(1), "room": m.group(2), "repairs": notes, "source": str(folder),
                      "blocks": sum(stop - start for _, start, stop in parts)}
        yield m.group(1), m.group(2), cloud


def room_to_blocks(cloud: Cloud, num_point: int = 4096, block_size: float = 1.0, stride: float = 0.5,
                   min_points: int = 100, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cut one room into PointNet blocks with the 9-column recipe of the module docstring.

    Follows charlesq34/pointnet `sem_seg/indoor3d_util.py` room2blocks (grid of block_size cells every
    ``stride``, blocks with fewer than ``min_points`` points skipped, each block sampled to ``num_point``
    points: without replacement if it has more, all points plus random repeats if fewer) and
    room2blocks_plus_normalized. The room is shifted to min 0 first; colours come from ``cloud.color``
    (black when absent) and labels from ``cloud.label`` (must be 0..255).

    Shapes: -> data (B, num_point, 9) float32, label (B, num_point) uint8.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    xyz = cloud.coord.astype(np.float64)
    xyz = xyz - xyz.min(axis=0)
    color = cloud.color if cloud.color is not None else np.zeros_like(cloud.coord)
    label = cloud.label if cloud.label is not None else np.zeros(len(cloud), dtype=np.int64)
    if len(label) and (label.min() < 0 or label.max() > 255):
        raise ValueError("PointNet HDF5 labels are uint8: labels must be in 0..255")
    room_max = xyz.max(axis=0)
    if np.any(room_max <= 0):
        raise ValueError("the room has zero extent along an axis; the normalised columns would be undefined")
    limit = room_max[:2]
    nx = max(int(np.ceil((limit[0] - block_size) / stride)) + 1, 1)
    ny = max(int(np.ceil((limit[1] - block_size) / stride)) + 1, 1)
    blocks, labels = [], []
    for i in range(nx):
        for j in range(ny):
            x0, y0 = i * stride, j * stride
            inside = np.flatnonzero((xyz[:, 0] >= x0) & (xyz[:, 0] <= x0 + block_size)
                                    & (xyz[:, 1] >= y0) & (xyz[:, 1] <= y0 + block_size))
            if len(inside) < min_points:
                continue
            if len(inside) >= num_point:
                pick = rng.choice(inside, num_point, replace=False)
            else:
                pick = np.concatenate([inside, rng.choice(inside, num_point - len(inside), replace=True)])
            block = np.empty((num_point, 9), dtype=np.float64)
            pts = xyz[pick]
            block[:, 6:9] = pts / room_max
            block[:, 0] = pts[:, 0] - (pts[:, 0].min() + block_size / 2)
            block[:, 1] = pts[:, 1] - (pts[:, 1].min() + block_size / 2)
            block[:, 2] = pts[:, 2]
            block[:, 3:6] = color[pick]
            blocks.append(block.astype(np.float32))
            labels.append(label[pick].astype(np.uint8))
    if not blocks:
        return np.zeros((0, num_point, 9), np.float32), np.zeros((0, num_point), np.uint8)
    return np.stack(blocks), np.stack(labels)


def write_pointnet_h5(folder: str | os.PathLike, rooms: Iterable[tuple[str, str, Cloud]], num_point: int = 4096,
                      block_size: float = 1.0, stride: float = 0.5, min_points: int = 100,
                      blocks_per_file: int = 1000, seed: int = 0) -> list[Path]:
    """Write rooms as PointNet blocks: ``ply_data_all_<k>.h5`` + ``room_filelist.txt`` + ``all_files.txt``.

    ``rooms`` yields (area, room, Cloud) as :func:`read_pointnet_h5_rooms` does. Each file is written
    atomically (the listings last). Returns the .h5 paths.
    """
    from pcseg.utils import atomic_path, atomic_write_text

    h5py = _h5py()
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    pending_data: list[np.ndarray] = []
    pending_label: list[np.ndarray] = []
    names: list[str] = []
    written: list[Path] = []

    def flush(final: bool) -> None:
        while pending_data and (final or sum(len(d) for d in pending_data) >= blocks_per_file):
            data = np.concatenate(pending_data)
            label = np.concatenate(pending_label)
            head, rest = data[:blocks_per_file], data[blocks_per_file:]
            lhead, lrest = label[:blocks_per_file], label[blocks_per_file:]
            path = folder / f"ply_data_all_{len(written)}.h5"
            with atomic_path(path) as tmp:
                with h5py.File(tmp, "w") as h5:
                    # gzip level 4 as in charlesq34/pointnet `utils/data_prep_util.py` save_h5
                    h5.create_dataset("data", data=head, compression="gzip", compression_opts=4, dtype="float32")
                    h5.create_dataset("label", data=lhead, compression="gzip", compression_opts=1, dtype="uint8")
            written.append(path)
            pending_data[:] = [rest] if len(rest) else []
            pending_label[:] = [lrest] if len(lrest) else []

    for area, room, cloud in rooms:
        data, label = room_to_blocks(cloud, num_point, block_size, stride, min_points, rng)
        pending_data.append(data)
        pending_label.append(label)
        names += [f"{area}_{room}"] * len(data)
        flush(final=False)
    flush(final=True)
    atomic_write_text(folder / "room_filelist.txt", "".join(f"{n}\n" for n in names))
    atomic_write_text(folder / "all_files.txt", "".join(f"{folder.name}/{p.name}\n" for p in written))
    return written


__all__ = ["read_pointnet_h5_rooms", "write_pointnet_h5", "room_to_blocks"]
