"""Class shares of `pcseg synth lidar` scans beside SemanticKITTI's own.

    python tools/lidar_shares.py [--sequences 8] [--scans 2] [--seed 5] [--cols 2048]

Synthesises the scans in a temporary folder and prints, per class, its share of all points, SemanticKITTI's
share (pcseg.data.synth_lidar.KITTI_CONTENT, from the semantic-kitti-api's `content`) and their ratio. The
generator's placement frequencies are set with this table; a model trained on scans whose shares are far
from the real ones learns the wrong priors (e.g. a bicycle row beside every drive).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    from pcseg.data.synth_lidar import KITTI_CONTENT, RAW_IDS, synth_lidar

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sequences", type=int, default=8, help="streets (sequence ids from 40 on)")
    p.add_argument("--scans", type=int, default=2, help="scans per street")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--cols", type=int, default=2048, help="azimuth steps (fewer is faster, about the same shares)")
    args = p.parse_args(argv)
    if args.sequences < 1 or args.scans < 1 or args.cols < 1:
        p.error("--sequences, --scans and --cols must be at least 1")        # one line, exit status 2
    with tempfile.TemporaryDirectory() as tmp:
        summary = synth_lidar(tmp, sequences=[str(40 + i) for i in range(args.sequences)], scans=args.scans,
                              seed=args.seed, cols=args.cols)
    names = {v: k for k, v in RAW_IDS.items()}
    total = summary["points"]
    print(f"{args.sequences} streets x {args.scans} scans, {total:,} points")
    print("| class | synthetic % | SemanticKITTI % | ratio |\n|---|---:|---:|---:|")
    for raw, real in sorted(KITTI_CONTENT.items()):
        share = summary["class_points"].get(raw, 0) / total
        print(f"| {names[raw]} | {100 * share:.2f} | {100 * real:.2f} | {share / real:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
