"""Latency per LiDAR scan of the range-image branch on CPU, split into its stages.

    .venv/bin/python tools/bench_range.py [--scan PATH] [--repeats N] [--threads T] [--width 2048]

Stages on one real HDL-64E scan (default: ../shared/realdata/torch-points3d/KITTI/000000.bin, 123,389
points) at 64 x 2048:

- projection: points -> normalised 5-channel input image (range, x, y, z, remission);
- network: forward pass of deeplabv3plus and unet at the sizes of configs/kitti_range_*.yaml (batch 1);
- back-projection + kNN: per-point scores for every point with RangeNet++'s kNN voting (k=5, 5x5, sigma 1,
  cutoff 1 m).

pcseg's projection and back-projection run on one thread, as predict_scan runs them; the network uses
``--threads`` (torch's default when not given); the PyTorch kNN path row uses ``--threads`` too.

Baseline: a straightforward NumPy implementation of the reference (pcseg.range.reference: laserscan.py's
sort + last-write-wins projection with the channel images and the parser's normalisation; KNN.py's
whole-image unfold, column indexing, top-k via argpartition and voting). pcseg's versions: one
scatter_reduce(amin) instead of the sort, channel values gathered for the pixel owners only, and the kNN
window gathered per point from a padded image instead of unfolding the whole image. The two kNN versions
are checked to agree before timing. Times are medians over ``--repeats`` runs after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCAN = REPO.parent / "shared" / "realdata" / "torch-points3d" / "KITTI" / "000000.bin"


CLOCK = time.perf_counter


def timed(fn, repeats: int) -> tuple[float, object]:
    out = fn()                                   # warm-up
    times = []
    for _ in range(repeats):
        t = CLOCK()
        out = fn()
        times.append(CLOCK() - t)
    return statistics.median(times), out


def baseline_image(scan: np.ndarray, h: int, w: int, mean: np.ndarray, std: np.ndarray) -> tuple[dict, np.ndarray]:
    """laserscan.py do_range_projection (range, xyz, remission, index images) + parser.py normalisation."""
    from pcseg.range.reference import np_project

    ref = np_project(scan[:, :3], h, w, 3.0, -25.0)
    order = np.argsort(ref["depth"])[::-1]
    py, px = ref["py"][order], ref["px"][order]
    proj_xyz = np.full((h, w, 3), -1, dtype=np.float32)
    proj_rem = np.full((h, w), -1, dtype=np.float32)
    proj_xyz[py, px] = scan[order, :3]
    proj_rem[py, px] = scan[order, 3]
    img = np.concatenate([ref["range"][None], proj_xyz.transpose(2, 0, 1), proj_rem[None]])
    img = (img - mean[:, None, None]) / std[:, None, None]
    img = img * (ref["index"] >= 0)
    return ref, img.astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scan", type=Path, default=DEFAULT_SCAN)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--width", type=int, default=2048)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time, or this process's CPU time (steadier on a busy machine; with T threads "
                        "it sums them)")
    args = p.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    if not args.scan.is_file():
        print(f"scan not found: {args.scan} (give one with --scan)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    from pcseg.config import load_config
    from pcseg.models import create_model
    from pcseg.range.backproject import knn_votes
    from pcseg.range.inference import view_scores
    from pcseg.range.projection import (KITTI_MEAN, KITTI_STD, make_image, pixel_points, point_channels, project,
                                        single_thread)
    from pcseg.range.reference import np_knn_votes

    h, w, k_classes = 64, args.width, 19
    scan = np.fromfile(args.scan, dtype=np.float32).reshape(-1, 4)
    mean, std = np.array(KITTI_MEAN, np.float32), np.array(KITTI_STD, np.float32)
    coord = torch.from_numpy(scan[:, :3].copy())
    rem = torch.from_numpy(scan[:, 3].copy())
    print(f"scan {args.scan.name}: {len(scan):,} points, image {h} x {w}, torch threads {torch.get_num_threads()}, "
          f"{args.clock} clock, median of {args.repeats}")

    # ---- projection
    def ours_project():
        proj = project(coord, h, w, 3.0, -25.0)
        win = pixel_points(proj)
        vals = point_channels(coord[win], proj.point_range[win], ("range", "x", "y", "z", "remission"), rem[win])
        return proj, make_image(proj, vals, KITTI_MEAN, KITTI_STD)

    t_proj_ref, (ref, img_ref) = timed(lambda: baseline_image(scan, h, w, mean, std), args.repeats)
    with single_thread():                        # as predict_scan runs it
        t_proj, (proj, img) = timed(ours_project, args.repeats)
    agree_img = float(np.mean(np.abs(img.numpy() - img_ref) < 1e-4))

    # ---- network
    net_times = {}
    logits = None
    for name in ("deeplab", "unet"):
        cfg = load_config(REPO / "configs" / f"kitti_range_{name}.yaml")
        model = create_model(cfg.model.name, num_classes=k_classes, **cfg.model.args).eval()
        with torch.inference_mode():
            t, out = timed(lambda: model(img[None]), max(3, args.repeats // 2))
        net_times[cfg.model.name] = t
        logits = out[0] if logits is None else logits
    probs = torch.softmax(logits, 0)
    argmax = probs.argmax(0)

    # ---- back-projection + kNN
    knn = {"k": 5, "window": 5, "sigma": 1.0, "cutoff": 1.0}
    sl = slice(None)
    with single_thread():
        t_back, scores = timed(lambda: view_scores(probs, proj, sl, knn, argmax), args.repeats)
    t_back_ref, votes_ref = timed(lambda: np_knn_votes(ref["range"], ref["depth"], argmax.numpy(), ref["px"],
                                                       ref["py"], k_classes).argmax(1), args.repeats)
    t_noknn, _ = timed(lambda: view_scores(probs, proj, sl, None), args.repeats)
    t_torch, _ = timed(lambda: knn_votes(proj.range, argmax, proj.px, proj.py, proj.point_range, k_classes,
                                         backend="torch"), args.repeats)
    votes = knn_votes(proj.range, argmax, proj.px, proj.py, proj.point_range, k_classes)
    agree_knn = float((votes.argmax(1).numpy() == votes_ref).mean())

    ms = lambda t: f"{1000 * t:8.1f}"  # noqa: E731
    rows = [("projection -> input image", t_proj_ref, t_proj),
            ("back-projection + kNN -> (N, K) scores", t_back_ref, t_back)]
    print()
    print(f"{'stage':42s} {'NumPy ref (ms)':>15s} {'pcseg (ms)':>11s} {'speed-up':>9s}")
    for name, a, b in rows:
        print(f"{name:42s} {ms(a):>15s} {ms(b):>11s} {a / b:8.1f}x")
    total_ref, total = t_proj_ref + t_back_ref, t_proj + t_back
    print(f"{'projection + back-projection with kNN':42s} {ms(total_ref):>15s} {ms(total):>11s} "
          f"{total_ref / total:8.1f}x")
    print(f"{'back-projection without kNN':42s} {'':>15s} {ms(t_noknn):>11s}")
    print(f"{'kNN votes, PyTorch path (CUDA fallback)':42s} {'':>15s} {ms(t_torch):>11s}")
    for name, t in net_times.items():
        print(f"{'network forward: ' + name:42s} {'':>15s} {ms(t):>11s}   (pre + post = {total / t:.0%} of it)")
    print()
    print(f"checks: input images agree on {agree_img:.4%} of values; kNN labels agree on {agree_knn:.4%} of points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
