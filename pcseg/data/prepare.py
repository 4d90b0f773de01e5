"""``pcseg prepare s3dis RAW OUT``: parse raw S3DIS text (or PointNet HDF5 blocks) once into the cache.

Cache layout (read by pcseg.data.s3dis.S3DISCache)::

    OUT/summary.json                        written last, atomically (see below)
    OUT/Area_N/<room>/coord.npy             float32 (N, 3)  metres, as in the raw files
    OUT/Area_N/<room>/color.npy             float32 (N, 3)  rgb / 255, in [0, 1]
    OUT/Area_N/<room>/label.npy             int64   (N,)    pcseg.classes.S3DIS order
    OUT/Area_N/<room>/info.json             {"points", "class_points": {class: n}, "repairs": [...],
                                             "source": the raw room folder or HDF5 folder}

A room is complete when its folder exists (info.json is written into it last). Each room is written into a
hidden temporary folder ``OUT/Area_N/.<room>.tmp-XXXX`` and renamed into place, so an interrupted run never
leaves half a room; temporary folders left by a killed run are removed on the next run, and finished rooms
are skipped. The files depend only on the raw input, so an interrupted-then-resumed cache is byte-identical
to an uninterrupted one.

``summary.json`` = {"rooms", "points", "class_points": {all 13 classes: n}, "repairs": ["Area_N/<room>...:
note"], "areas": {"Area_N": number of rooms}, "source": "raw" | "pointnet_h5"} over the rooms of RAW.

Raw rooms are parsed in parallel worker processes (``--workers``, default: CPU count), each holding one room
at a time, so memory is bounded by the largest room, not the area. A PointNet HDF5 folder (recognised by
``ply_data_all_*.h5``) is read room by room in the main process (pcseg.io.pointnet_h5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from pcseg.classes import S3DIS
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud

ARRAYS = ("coord", "color", "label")


def is_room_done(room_dir: Path) -> bool:
    return (room_dir / "info.json").is_file()


def clean_stale(out: Path) -> list[Path]:
    """Remove temporary room folders (``Area_N/.<room>.tmp-*``) left by an interrupted run."""
    removed = []
    for area_dir in sorted(out.glob("Area_*")):
        if not area_dir.is_dir():
            continue
        for tmp in sorted(area_dir.glob(".*.tmp-*")):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _json(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=False) + "\n"


def write_room(out: Path, area: str, room: str, cloud: Cloud) -> dict[str, Any]:
    """Write one room into the cache (temp folder + rename). Returns its info dict.

    Shapes: cloud.coord (N, 3), cloud.color (N, 3), cloud.label (N,).
    """
    if cloud.color is None or cloud.label is None:
        raise PcsegError(cloud.meta.get("source", room), "S3DIS rooms need colours and labels")
    counts = np.bincount(cloud.label[cloud.label >= 0], minlength=S3DIS.num_classes)
    info = {"points": len(cloud), "class_points": {n: int(c) for n, c in zip(S3DIS.names, counts)},
            "repairs": list(cloud.meta.get("repairs", [])), "source": str(cloud.meta.get("source", ""))}
    area_dir = out / area
    area_dir.mkdir(parents=True, exist_ok=True)
    final = area_dir / room
    tmp = Path(tempfile.mkdtemp(prefix=f".{room}.tmp-", dir=area_dir))
    try:
        np.save(tmp / "coord.npy", np.ascontiguousarray(cloud.coord, dtype=np.float32))
        np.save(tmp / "color.npy", np.ascontiguousarray(cloud.color, dtype=np.float32))
        np.save(tmp / "label.npy", np.ascontiguousarray(cloud.label, dtype=np.int64))
        (tmp / "info.json").write_text(_json(info))      # last: marks the room complete
        os.chmod(tmp, 0o755)
        if final.exists():                              # an incomplete folder from some other tool
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return info


def _prepare_raw_room(area: str, room: str, room_dir: str, out: str) -> dict[str, Any]:
    """Worker: parse one raw room and cache it. PcsegError does not pickle, so it travels as a tuple."""
    from pcseg.io.s3dis import read_s3dis_room

    try:
        cloud = read_s3dis_room(room_dir)
        return {"info": write_room(Path(out), area, room, cloud)}
    except PcsegError as exc:
        return {"error": (exc.where, exc.problem)}


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="room", desc="prepare", disable=not enabled,
                dynamic_ncols=True, file=sys.stderr)


def _run_raw(rooms: list[tuple[str, str, Path]], out: Path, workers: int, bar) -> int:
    todo = [(a, r, d) for a, r, d in rooms if not is_room_done(out / a / r)]
    if not todo:
        return 0
    if workers == 1 or len(todo) == 1:
        for area, room, room_dir in todo:
            result = _prepare_raw_room(area, room, str(room_dir), str(out))
            if "error" in result:
                raise PcsegError(*result["error"])
            bar.update(1)
        return len(todo)
    # compile/load the numba parser once here: forked workers inherit it instead of each paying ~1-2 s
    from pcseg.io.textparse import warm_up

    warm_up()
    with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
        pending = {pool.submit(_prepare_raw_room, a, r, str(d), str(out)) for a, r, d in todo}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    result = fut.result()
                    if "error" in result:
                        raise PcsegError(*result["error"])
                    bar.update(1)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return len(todo)


def _find_h5(raw: Path) -> Path | None:
    """The PointNet HDF5 folder: RAW itself or RAW/indoor3d_sem_seg_hdf5_data, when it has ply_data_all_*.h5."""
    for folder in (raw, raw / "indoor3d_sem_seg_hdf5_data"):
        if folder.is_dir() and any(folder.glob("ply_data_all_*.h5")):
            return folder
    return None


def _summary(out: Path, rooms: Iterable[tuple[str, str]], source: str) -> dict[str, Any]:
    class_points = dict.fromkeys(S3DIS.names, 0)
    areas: dict[str, int] = {}
    repairs: list[str] = []
    total_rooms = total_points = 0
    for area, room in rooms:
        info = json.loads((out / area / room / "info.json").read_text())
        total_rooms += 1
        total_points += int(info["points"])
        areas[area] = areas.get(area, 0) + 1
        for name, n in info["class_points"].items():
            class_points[name] += int(n)
        prefix = f"{area}/{room}"
        repairs += [r if r.startswith(prefix) else f"{prefix}: {r}" for r in info["repairs"]]
    return {"rooms": total_rooms, "points": total_points, "class_points": class_points, "repairs": repairs,
            "areas": areas, "source": source}


def prepare_s3dis(raw: str | os.PathLike, out: str | os.PathLike, workers: int | None = None,
                  progress: bool = True, verbose: bool = True) -> dict[str, Any]:
    """Build (or complete) the cache in ``out`` from a raw S3DIS tree or a PointNet HDF5 folder.

    Returns the summary dict (also written to ``out/summary.json``). Raises PcsegError for a missing RAW
    folder, a folder without rooms, or a bad input file (named in the message).
    """
    started = time.perf_counter()
    raw, out = Path(raw), Path(out)
    if not raw.exists():
        raise PcsegError(raw, "no such folder")
    if not raw.is_dir():
        raise PcsegError(raw, "not a folder (give the raw S3DIS tree or the PointNet HDF5 folder)")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 1:
        raise PcsegError("--workers", f"must be at least 1, got {workers}")
    if out.exists() and not out.is_dir():
        raise PcsegError(out, "output exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    stale = clean_stale(out)

    h5 = _find_h5(raw)
    if h5 is None:
        from pcseg.io.s3dis import find_rooms

        rooms = find_rooms(raw)
        names = [(a, r) for a, r, _ in rooms]
        done = sum(is_room_done(out / a / r) for a, r in names)
        with _progress(len(rooms), done, progress) as bar:
            new = _run_raw(rooms, out, workers, bar)
        source = "raw"
    else:
        from pcseg.io.pointnet_h5 import read_pointnet_h5_rooms

        names, new = [], 0
        with _progress(None, 0, progress) as bar:
            for area, room, cloud in read_pointnet_h5_rooms(h5):
                names.append((area, room))
                if not is_room_done(out / area / room):
                    write_room(out, area, room, cloud)
                    new += 1
                bar.update(1)
        if not names:
            raise PcsegError(h5, "no rooms in the PointNet HDF5 files")
        source = "pointnet_h5"

    summary = _summary(out, names, source)
    from pcseg.utils import atomic_write_text

    atomic_write_text(out / "summary.json", _json(summary))
    if verbose:
        print(describe(summary, out, raw, new, len(stale), time.perf_counter() - started))
    return summary


def describe(summary: dict[str, Any], out: Path, raw: Path, new: int, stale: int, seconds: float) -> str:
    """The one-paragraph report printed at the end of a prepare run."""
    total = max(summary["points"], 1)
    classes = ", ".join(f"{name} {100 * n / total:.1f}%" for name, n in summary["class_points"].items())
    areas = ", ".join(f"{a} ({n})" for a, n in summary["areas"].items())
    missing = [name for name, n in summary["class_points"].items() if n == 0]
    text = (f"Prepared {summary['rooms']} rooms ({new} new, {summary['rooms'] - new} already done"
            f"{f', {stale} interrupted rooms cleaned' if stale else ''}) with {summary['points']:,} points "
            f"from {raw} ({summary['source']}) into {out} in {seconds:.1f} s. Areas: {areas}. "
            f"Classes: {classes}.")
    if missing:
        text += f" No points of: {', '.join(missing)}."
    n_rep = len(summary["repairs"])
    text += (f" {n_rep} repair{'s' if n_rep != 1 else ''} of the raw data"
             + (f" (first: {summary['repairs'][0]}); all are listed in summary.json." if n_rep else "."))
    return text


def cli(args: argparse.Namespace) -> int:
    """``pcseg prepare s3dis RAW OUT [--workers N]``."""
    prepare_s3dis(args.raw, args.out, workers=args.workers)
    return 0


__all__ = ["prepare_s3dis", "write_room", "clean_stale", "is_room_done", "cli"]
