"""Segment at scale: peak memory of `pcseg segment` on one very large cloud and on many small scans.

    .venv/bin/python tools/bench_segment.py                    # 10M-point room + 1,000 small scans
    .venv/bin/python tools/bench_segment.py --points 2000000 --scans 200 --threads 2
    .venv/bin/python tools/bench_segment.py --config configs/demo_pointnet.yaml   # the demo-sized PointNet
    .venv/bin/python tools/bench_segment.py --config configs/demo_pointnet.yaml --las las --points 50000000 \
        --skip-small --threads 1                                  # a 50M-point LAS through laspy's chunks

Part 1 tiles a synthetic S3DIS room into a grid of rooms until it holds --points points, saves it as one
(N, 6) xyz+rgb .npy, and runs `pcseg segment` on it with a PointNet checkpoint at the paper configuration
(width 1, 4096 points per block, batch 24; untrained weights: time and memory do not depend on them). The
file is larger than segment's --tile-points, so it is read in chunks and scored tile by tile; pass
--tile-points 0 to score it in one piece instead (segment then gets a limit above the cloud's size).
Part 2 writes --scans small KITTI-format scans (.bin, a 4 m x 4 m patch each) plus three broken files (size
not a multiple of 16, empty, NaN coordinates with a separate .label) and segments all of them in ONE call
with the demo-sized PointNet, checking one output pair per good scan, one error line per broken file and
exit status 2 (that the model is loaded once per call is tested in tests/engine/test_predict.py).

Peak memory is the child's peak resident set size (getrusage RUSAGE_CHILDREN of a fresh interpreter, so it
measures the segment process alone). Not a test: numbers go into the README.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_checkpoint(path: Path, config: Path, **overrides) -> None:
    from pcseg.classes import S3DIS
    from pcseg.config import config_to_dict, load_config
    from pcseg.engine.checkpoint import save_checkpoint
    from pcseg.engine.data import model_args
    from pcseg.models import create_model

    cfg = load_config(config, [f"{k}={v}" for k, v in overrides.items()])
    args = model_args(cfg)
    net = create_model(cfg.model.name, **args)
    save_checkpoint(path, {"model": cfg.model.name, "model_args": args, "class_set": "s3dis",
                           "class_names": list(S3DIS.names), "config": config_to_dict(cfg), "epoch": 0,
                           "step": 0, "state_dict": net.state_dict()})


def big_room(path: Path, points: int, work: Path) -> int:
    """Tile one synthetic room over a grid until `points` points; save (N, 6) float32 xyz rgb(0-1)."""
    from pcseg.data.synth_s3dis import synth_s3dis
    from pcseg.io.s3dis import find_rooms, read_s3dis_room

    synth_s3dis(work / "raw", areas=[1], rooms_per_area=1, points_per_room=200_000, seed=0)
    room = read_s3dis_room(find_rooms(work / "raw")[0][2])
    base = np.column_stack([room.coord - room.coord.min(0), room.color]).astype(np.float32)
    extent = room.coord.max(0) - room.coord.min(0) + 0.5
    copies = int(np.ceil(points / len(base)))
    side = int(np.ceil(np.sqrt(copies)))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(copies * len(base), 6))
    for i in range(copies):
        block = base.copy()
        block[:, 0] += (i % side) * extent[0]
        block[:, 1] += (i // side) * extent[1]
        out[i * len(base):(i + 1) * len(base)] = block
    out.flush()
    del out
    return copies * len(base)


def room_to_las(npy: Path, las_path: Path, compress: bool = False, chunk: int = 2_000_000) -> None:
    """Write the (N, 6) xyz rgb room as LAS (point format 2: xyz + 16-bit rgb, mm scale), chunk by chunk so
    that writing needs little memory; .laz when ``compress``."""
    import laspy

    room = np.load(npy, mmap_mode="r")
    header = laspy.LasHeader(point_format=2, version="1.2")
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.zeros(3)
    with laspy.open(las_path, mode="w", header=header, do_compress=compress) as writer:
        for start in range(0, len(room), chunk):
            part = np.asarray(room[start:start + chunk])
            rec = laspy.ScaleAwarePointRecord.zeros(len(part), header=header)
            rec.x, rec.y, rec.z = part[:, 0], part[:, 1], part[:, 2]
            rgb = np.round(part[:, 3:6] * 65535).astype(np.uint16)
            rec.red, rec.green, rec.blue = rgb[:, 0], rgb[:, 1], rgb[:, 2]
            rec.classification = np.full(len(part), 2, np.uint8)
            writer.write_points(rec)


def small_scans(folder: Path, scans: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(scans):
        n = int(rng.integers(1500, 3000))
        xyz = rng.uniform([0, 0, 0], [4, 4, 2.5], size=(n, 3))
        scan = np.column_stack([xyz, rng.uniform(0, 1, n)]).astype(np.float32)
        p = folder / f"{i:06d}.bin"
        scan.tofile(p)
        paths.append(p)
    bad = folder / "bad_size.bin"
    bad.write_bytes(b"\0" * 30)
    empty = folder / "empty.bin"
    empty.write_bytes(b"")
    nan_scan = np.array([[0, 0, 0, 0], [np.nan, 1, 1, 0], [1, 1, 1, 0]], dtype=np.float32)
    nan_path = folder / "nan_labelled.bin"
    nan_scan.tofile(nan_path)
    np.array([40, 40, 40], dtype=np.uint32).tofile(folder / "nan_labelled.label")
    return paths + [bad, empty, nan_path]


def run_segment(args: list[str], threads: int) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit status, stderr) of one `pcseg segment` process.

    The segment process is started by a fresh intermediate interpreter whose RUSAGE_CHILDREN then holds the
    peak of that one process only."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE")
    wrapper = ("import resource, subprocess, sys\n"
               "r = subprocess.run([sys.executable, '-m', 'pcseg', 'segment', *sys.argv[1:]])\n"
               "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(r.returncode)\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", wrapper, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB")]
    return seconds, peak_kb[-1] / 1024, proc.returncode, proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=10_000_000)
    ap.add_argument("--scans", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--config", default=str(REPO / "configs" / "s3dis_pointnet.yaml"),
                    help="PointNet config of the big-room run (default: the paper configuration)")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-small", action="store_true", help="skip the many-small-scans part")
    ap.add_argument("--las", choices=("las", "laz"), default=None,
                    help="write the big room as LAS (uncompressed) or LAZ instead of .npy: read through laspy's "
                         "chunk iterator")
    ap.add_argument("--batch-size", type=int, default=None, help="passed to segment for the big room")
    ap.add_argument("--tile-points", type=int, default=None,
                    help="passed to segment for the big room (default: segment's; 0: one piece, no tiles)")
    opts = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pcseg_bench_segment_") as tmp:
        work = Path(tmp)
        rows = []
        if not opts.skip_big:
            ckpt = work / "pointnet_paper.pt"
            make_checkpoint(ckpt, Path(opts.config))
            n = big_room(work / "big_room.npy", opts.points, work)
            big = work / "big_room.npy"
            if opts.las:
                big = work / f"big_room.{opts.las}"
                room_to_las(work / "big_room.npy", big, compress=opts.las == "laz")
                (work / "big_room.npy").unlink()
            tiles = [] if opts.tile_points is None else ["--tile-points", str(opts.tile_points or n + 1)]
            tiles += [] if opts.batch_size is None else ["--batch-size", str(opts.batch_size)]
            seconds, peak, status, err = run_segment([str(big), "--checkpoint", str(ckpt),
                                                      "--out", str(work / "out_big"), *tiles], opts.threads)
            labels = np.load(work / "out_big" / "big_room.npy", mmap_mode="r")
            assert status == 0 and len(labels) == n, (status, err[-2000:])
            how = ("in one piece" if opts.tile_points == 0 else "in tiles") + (f", .{opts.las}" if opts.las else "")
            how += "" if opts.batch_size is None else f", batch {opts.batch_size}"
            rows.append((f"one room, PointNet {Path(opts.config).stem}", f"{n:,} points {how}", seconds, peak,
                         status))
        if not opts.skip_small:
            ckpt_small = work / "pointnet_demo.pt"
            make_checkpoint(ckpt_small, REPO / "configs" / "demo_pointnet.yaml")
            paths = small_scans(work / "scans", opts.scans)
            seconds, peak, status, err = run_segment([*map(str, paths), "--checkpoint", str(ckpt_small),
                                                      "--out", str(work / "out_small")], opts.threads)
            outputs = len(list((work / "out_small").glob("*.npy")))
            errors = [line for line in err.splitlines() if line.startswith("pcseg: error:")]
            assert status == 2 and outputs == opts.scans and len(errors) == 3, (status, outputs, errors)
            rows.append((f"{opts.scans:,} small scans + 3 broken, one call", f"{outputs:,} labelled, "
                         f"{len(errors)} errors", seconds, peak, status))

    print(f"\n{'case':44s} {'result':34s} {'seconds':>8s} {'peak RSS MB':>12s} {'exit':>5s}")
    for case, result, seconds, peak, status in rows:
        print(f"{case:44s} {result:34s} {seconds:8.1f} {peak:12.0f} {status:5d}")


if __name__ == "__main__":
    main()
