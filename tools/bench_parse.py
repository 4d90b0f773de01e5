"""Benchmark: pcseg's S3DIS text parser against np.loadtxt.

    .venv/bin/python tools/bench_parse.py [--lines 1000000] [--files 12] [--repeat 3] [--realdata DIR]

np.loadtxt (default float64) is what PointNet's reference loader calls on every annotation file
(charlesq34/pointnet `sem_seg/indoor3d_util.py` collect_point_label). Each file set is timed three ways:
np.loadtxt per file, pcseg's parser per file (``textparse.load_table``), and the whole room reader
(``read_s3dis_room``: parse + labels + float32 Cloud). The numba compile is done before timing and reported
on its own. Peak RSS is measured in a fresh subprocess reading one room.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CLASSES = ("ceiling", "floor", "wall", "wall", "wall", "door", "table", "chair", "chair", "bookcase", "board",
           "clutter")


def make_room(root: Path, total_lines: int, files: int, seed: int = 0) -> Path:
    """A synthetic room in raw S3DIS layout with lines ``%.3f %.3f %.3f %d %d %d`` (the real format)."""
    rng = np.random.default_rng(seed)
    ann = root / "Stanford3dDataset_v1.2_Aligned_Version" / "Area_1" / "office_1" / "Annotations"
    ann.mkdir(parents=True, exist_ok=True)
    sizes = rng.multinomial(total_lines, np.full(files, 1 / files))
    counters: dict[str, int] = {}
    for k, n in enumerate(sizes):
        name = CLASSES[k % len(CLASSES)]
        counters[name] = counters.get(name, 0) + 1
        xyz = rng.uniform(-20, 40, (n, 3))
        rgb = rng.integers(0, 256, (n, 3))
        lines = [f"{x:.3f} {y:.3f} {z:.3f} {r} {g} {b}\n" for (x, y, z), (r, g, b) in zip(xyz.tolist(), rgb.tolist())]
        (ann / f"{name}_{counters[name]}.txt").write_text("".join(lines))
    return ann.parent


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def compile_times() -> tuple[float, float]:
    """(seconds to compile the kernel from scratch, seconds for a fresh process to import numba and load the
    kernel from numba's disk cache)."""
    import numba

    from pcseg.io import textparse

    buf = textparse.with_sentinel(b"1 2\n")
    out = np.empty((2, 2))
    fresh = numba.njit(nogil=True)(textparse._parse_kernel)  # no cache: a real compile
    t = time.perf_counter()
    fresh(buf, 0, len(buf) - 1, 2, out, 0, textparse._POW10)
    compile_s = time.perf_counter() - t
    textparse.warm_up()  # make sure the disk cache exists
    code = ("import time; t = time.perf_counter(); from pcseg.io import textparse; textparse.warm_up(); "
            "print(time.perf_counter() - t)")
    out_s = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return compile_s, float(out_s)


def bench_room(room: Path, repeat: int) -> dict[str, float]:
    from pcseg.io.s3dis import read_s3dis_room
    from pcseg.io.textparse import load_table

    files = sorted((room / "Annotations").glob("*.txt"))
    size = sum(f.stat().st_size for f in files)
    lines = 0
    ref = []
    t_loadtxt = float("inf")
    for _ in range(max(1, min(repeat, 2))):  # loadtxt is slow: at most two rounds
        t = time.perf_counter()
        ref = [np.loadtxt(f) for f in files]
        t_loadtxt = min(t_loadtxt, time.perf_counter() - t)
    lines = sum(len(r) for r in ref)
    ours = [load_table(f, 6) for f in files]
    assert all(np.array_equal(a, b) for a, b in zip(ref, ours)), "parser disagrees with np.loadtxt"
    t_parse = _best(lambda: [load_table(f, 6) for f in files], repeat)
    t_room = _best(lambda: read_s3dis_room(room), repeat)
    return {"files": len(files), "lines": lines, "mb": size / 1e6, "loadtxt": t_loadtxt, "parse": t_parse,
            "room": t_room}


def peak_rss(room: Path) -> dict[str, float]:
    """RSS (MB) of a fresh process around reading one room.

    ru_maxrss (resource.getrusage) is a process-lifetime peak, and importing numba and loading the kernel
    already peak higher than reading a room, so on Linux the peak is first reset (``5`` into
    /proc/self/clear_refs) and read back from VmHWM; elsewhere the getrusage number is all there is.
    """
    code = (
        "import json, resource, sys\n"
        "from pcseg.io import textparse\n"
        "from pcseg.io.s3dis import read_s3dis_room\n"
        "def status(key):\n"
        "    try:\n"
        "        for line in open('/proc/self/status'):\n"
        "            if line.startswith(key + ':'):\n"
        "                return int(line.split()[1]) / 1024\n"
        "    except OSError:\n"
        "        return None\n"
        "textparse.warm_up()\n"
        "try:\n"
        "    open('/proc/self/clear_refs', 'w').write('5')\n"
        "except OSError:\n"
        "    pass\n"
        "before = status('VmRSS')\n"
        "cloud = read_s3dis_room(sys.argv[1])\n"
        "print(json.dumps({'before': before, 'peak': status('VmHWM'), 'points': len(cloud),\n"
        "                  'ru_maxrss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(room)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, default=1_000_000, help="lines in the synthetic room")
    p.add_argument("--files", type=int, default=12, help="annotation files in the synthetic room")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--realdata", type=Path,
                   default=Path(os.environ.get("PCSEG_REALDATA",
                                               Path(__file__).resolve().parents[2] / "shared" / "realdata")))
    args = p.parse_args()

    compile_s, cached_s = compile_times()
    print(f"numba kernel: compile {compile_s:.2f} s; a new process imports numba and loads the cached kernel "
          f"in {cached_s:.2f} s (both excluded below)\n")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        room = make_room(Path(tmp), args.lines, args.files)
        print(f"(synthetic room written in {time.perf_counter() - t:.1f} s)")
        rows.append(("synthetic", bench_room(room, args.repeat)))
        rss = [("synthetic", peak_rss(room), rows[-1][1]["mb"])]
        real = args.realdata / "s3dis-kpconv-fixtures/Stanford3dDataset_v1.2_Aligned_Version/Area_3/hallway_3"
        if real.is_dir():
            rows.append(("Area_3/hallway_3", bench_room(real, args.repeat)))
            rss.append(("Area_3/hallway_3", peak_rss(real), rows[-1][1]["mb"]))
        else:
            print(f"(real room not found at {real}; skipped)")

    print(f"\n{'file set':<18}{'files':>6}{'lines':>10}{'MB':>7}{'loadtxt s':>11}{'pcseg s':>9}{'MB/s':>7}"
          f"{'speedup':>9}{'room s':>8}{'speedup':>9}")
    for name, r in rows:
        print(f"{name:<18}{r['files']:>6}{r['lines']:>10}{r['mb']:>7.1f}{r['loadtxt']:>11.3f}{r['parse']:>9.3f}"
              f"{r['mb'] / r['parse']:>7.0f}{r['loadtxt'] / r['parse']:>8.1f}x{r['room']:>8.3f}"
              f"{r['loadtxt'] / r['room']:>8.1f}x")
    print("\n'pcseg s' = textparse.load_table on each file; 'room s' = read_s3dis_room (parse + labels + Cloud)")
    print(f"\n{'RSS, one room':<18}{'points':>9}{'text MB':>9}{'before MB':>11}{'peak MB':>9}{'growth MB':>11}"
          f"{'ru_maxrss MB':>14}")
    for name, r, mb in rss:
        if r["before"] is None or r["peak"] is None:
            print(f"{name:<18}{r['points']:>9}{mb:>9.1f}{'n/a':>11}{'n/a':>9}{'n/a':>11}{r['ru_maxrss']:>14.0f}")
        else:
            print(f"{name:<18}{r['points']:>9}{mb:>9.1f}{r['before']:>11.0f}{r['peak']:>9.0f}"
                  f"{r['peak'] - r['before']:>11.0f}{r['ru_maxrss']:>14.0f}")
    print(f"\n(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs: timings are noisy on a shared machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
