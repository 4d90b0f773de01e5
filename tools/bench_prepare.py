"""Benchmark ``pcseg prepare s3dis``: end-to-end time with 1 and N workers, parse speed against np.loadtxt,
and peak memory against the size of the largest room.

    .venv/bin/python tools/bench_prepare.py [--rooms 8] [--points 300000] [--workers 1 2] [--keep DIR]

Peak RSS comes from resource.getrusage(RUSAGE_CHILDREN).ru_maxrss of a small wrapper process that runs the
prepare command: the largest resident set of any one process of the run (the parent or one worker).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WRAPPER = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _measured_room(area: str, room: str, room_dir: str, out: str) -> float:
    """Worker job: prepare one room; returns the growth of this process's peak RSS in MiB."""
    import resource

    from pcseg.data.prepare import _prepare_raw_room

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = _prepare_raw_room(area, room, room_dir, out)
    assert "info" in result, result
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024


def run_prepare(raw: Path, out: Path, workers: int) -> tuple[float, float]:
    """(seconds, peak RSS MiB of any one process) for one fresh ``pcseg prepare`` run."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, "-m", "pcseg", "prepare", "s3dis", str(raw), str(out),
           "--workers", str(workers)]
    seconds, maxrss_kb = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()
    return float(seconds), int(maxrss_kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=8)
    ap.add_argument("--points", type=int, default=300_000, help="approximate points per room")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--keep", default=None, help="work folder to keep (default: a temp folder, removed)")
    args = ap.parse_args()

    from pcseg.data.synth_s3dis import ALIGNED, synth_s3dis
    from pcseg.io.s3dis import find_rooms, read_s3dis_room

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        raw = work / "raw"
        t = time.perf_counter()
        info = synth_s3dis(raw, areas=[1], rooms_per_area=args.rooms, points_per_room=args.points, seed=0)
        synth_s = time.perf_counter() - t
        rooms = find_rooms(raw)
        ann_bytes = {r: sum(f.stat().st_size for f in (d / "Annotations").iterdir()) for _, r, d in rooms}
        area_bytes = sum(ann_bytes.values())
        largest = max(ann_bytes, key=ann_bytes.get)
        print(f"synthetic area: {info['rooms']} rooms, {info['points']:,} points, "
              f"{area_bytes / 2**20:.0f} MiB of annotation text (written in {synth_s:.1f} s)\n")

        # per-room parse speed: pcseg reader (after a warm-up for the JIT) vs np.loadtxt on the same files
        read_s3dis_room(rooms[0][2])
        rows = []
        for _, name, d in rooms:
            t = time.perf_counter()
            cloud = read_s3dis_room(d)
            ours = time.perf_counter() - t
            t = time.perf_counter()
            ref = np.concatenate([np.loadtxt(f) for f in sorted((d / "Annotations").iterdir())])
            loadtxt = time.perf_counter() - t
            assert len(ref) == len(cloud)
            rows.append((name, len(cloud), ann_bytes[name], ours, loadtxt))
        print(f"{'room':<18} {'points':>9} {'MiB':>6} {'pcseg s':>8} {'loadtxt s':>9} {'speedup':>7}")
        for name, n, b, ours, lt in rows:
            print(f"{name:<18} {n:>9,} {b / 2**20:>6.1f} {ours:>8.3f} {lt:>9.3f} {lt / ours:>6.1f}x")
        tot_n = sum(r[1] for r in rows)
        tot_ours, tot_lt = sum(r[3] for r in rows), sum(r[4] for r in rows)
        print(f"{'total':<18} {tot_n:>9,} {area_bytes / 2**20:>6.1f} {tot_ours:>8.3f} {tot_lt:>9.3f} "
              f"{tot_lt / tot_ours:>6.1f}x   ({tot_n / tot_ours / 1e6:.2f} M points/s vs "
              f"{tot_n / tot_lt / 1e6:.2f} M points/s)\n")

        # end to end, and memory. Baseline: the same command on a tiny 2-room area (interpreter, imports,
        # JIT, pool). Half area: the first half of the rooms (it holds the largest room too), to show that
        # the peak follows the largest room and not the area.
        tiny = work / "tiny"
        synth_s3dis(tiny, areas=[1], rooms_per_area=2, points_per_room=2000, seed=0)
        half = work / "half" / ALIGNED / "Area_1"
        half.mkdir(parents=True)
        half_rooms = rooms[: max(1, len(rooms) // 2)]
        for _, name, d in half_rooms:
            (half / name).symlink_to(d)
        largest_pts = next(r[1] for r in rows if r[0] == largest)
        half_bytes = sum(ann_bytes[name] for _, name, _ in half_rooms)
        print(f"largest room {largest}: {ann_bytes[largest] / 2**20:.1f} MiB text, "
              f"{largest_pts * 32 / 2**20:.1f} MiB as cached arrays (32 B/point); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
        print(f"{'input':<22} {'text MiB':>8} {'workers':>7} {'seconds':>8} {'points/s':>9} {'peak RSS MiB':>12} "
              f"{'above baseline':>14}")
        for w in args.workers:
            _, base = run_prepare(tiny, work / "tiny_cache", w)
            for label, tree, size, points in (
                    (f"{len(rooms)} rooms (area)", raw, area_bytes, info["points"]),
                    (f"{len(half_rooms)} rooms (half area)", work / "half", half_bytes,
                     sum(r[1] for r in rows[: len(half_rooms)]))):
                seconds, rss = run_prepare(tree, work / f"cache_{w}", w)
                print(f"{label:<22} {size / 2**20:>8.1f} {w:>7} {seconds:>8.2f} {points / seconds / 1e6:>8.2f}M "
                      f"{rss:>12.0f} {rss - base:>14.0f}")
        # what one room costs inside a worker: a fresh worker process per room
        from concurrent.futures import ProcessPoolExecutor

        print(f"\n{'room in a fresh worker':<22} {'text MiB':>8} {'points':>9} {'RSS growth MiB':>14} "
              f"{'growth / text':>13}")
        for area, name, d in rooms:
            with ProcessPoolExecutor(1) as pool:
                grow = pool.submit(_measured_room, area, name, str(d), str(work / "per_room")).result()
            n = next(r[1] for r in rows if r[0] == name)
            print(f"{name:<22} {ann_bytes[name] / 2**20:>8.1f} {n:>9,} {grow:>14.0f} "
                  f"{grow / (ann_bytes[name] / 2**20):>12.1f}x")
        print("\npeak RSS = the largest single process of the run (parent or one worker), from "
              "getrusage(RUSAGE_CHILDREN); baseline = the same command on a tiny 2-room area.")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
