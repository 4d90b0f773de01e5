"""Class shares of pcseg's synthetic data beside the real dataset's own.

    python tools/class_shares.py lidar [--sequences 8] [--scans 2] [--seed 5] [--cols 2048]
    python tools/class_shares.py indoor [--rooms 8] [--seed 5] [--style scan]

Synthesises data in a temporary folder and prints, per class, its share of all points, the real dataset's
share and their ratio: for ``lidar`` SemanticKITTI's (pcseg.data.synth_lidar.KITTI_CONTENT, from the
semantic-kitti-api's `content`), for ``indoor`` S3DIS's (pcseg.data.synth_s3dis.S3DIS_SHARES). The
generators' placement frequencies are set with these tables; a model trained on data whose shares are far
from the real ones learns the wrong priors (a bicycle row beside every drive; rooms with a tenth of real
S3DIS's clutter).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _table(title: str, shares: dict[str, float], real: dict[str, float]) -> None:
    print(title)
    print("| class | synthetic % | real % | ratio |\n|---|---:|---:|---:|")
    for name, r in real.items():
        share = shares.get(name, 0.0)
        print(f"| {name} | {100 * share:.2f} | {100 * r:.2f} | {share / r:.3g} |")


def lidar(args: argparse.Namespace) -> None:
    from pcseg.data.synth_lidar import KITTI_CONTENT, RAW_IDS, synth_lidar

    with tempfile.TemporaryDirectory() as tmp:
        summary = synth_lidar(tmp, sequences=[str(40 + i) for i in range(args.sequences)], scans=args.scans,
                              seed=args.seed, cols=args.cols)
    names = {v: k for k, v in RAW_IDS.items()}
    total = summary["points"]
    shares = {names[raw]: summary["class_points"].get(raw, 0) / total for raw in KITTI_CONTENT}
    _table(f"{args.sequences} streets x {args.scans} scans, {total:,} points (real: SemanticKITTI)", shares,
           {names[raw]: share for raw, share in sorted(KITTI_CONTENT.items())})


def indoor(args: argparse.Namespace) -> None:
    from pcseg.data.synth_s3dis import S3DIS_SHARES, synth_s3dis

    with tempfile.TemporaryDirectory() as tmp:
        summary = synth_s3dis(tmp, areas=(6,), rooms_per_area=args.rooms, seed=args.seed, style=args.style)
    total = summary["points"]
    shares = {name: n / total for name, n in summary["class_points"].items()}
    _table(f"{args.rooms} rooms, style {args.style}, {total:,} points (real: S3DIS)", shares, S3DIS_SHARES)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="data", required=True)
    pl = sub.add_parser("lidar", help="pcseg synth lidar scans against SemanticKITTI")
    pl.add_argument("--sequences", type=int, default=8, help="streets (sequence ids from 40 on)")
    pl.add_argument("--scans", type=int, default=2, help="scans per street")
    pl.add_argument("--seed", type=int, default=5)
    pl.add_argument("--cols", type=int, default=2048, help="azimuth steps (fewer is faster, about the same shares)")
    pi = sub.add_parser("indoor", help="pcseg synth s3dis rooms against S3DIS")
    pi.add_argument("--rooms", type=int, default=8, help="rooms (one area; 8 is one of each room type)")
    pi.add_argument("--seed", type=int, default=5)
    pi.add_argument("--style", choices=("scan", "surface"), default="scan")
    args = p.parse_args(argv)
    counts = [args.sequences, args.scans, args.cols] if args.data == "lidar" else [args.rooms]
    if min(counts) < 1:
        p.error("counts (--sequences, --scans, --cols, --rooms) must be at least 1")   # one line, exit status 2
    (lidar if args.data == "lidar" else indoor)(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
