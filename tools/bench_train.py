"""Training and inference throughput of PointNet at the paper configuration on this machine.

    .venv/bin/python tools/bench_train.py [--steps 6] [--warmup 2] [--workers 2] [--threads N] [--width 1.0]

Synthesises and prepares rooms (pcseg synth/prepare defaults: Areas 1 and 5, 3 rooms each) in a temporary
folder, then with configs/s3dis_pointnet.yaml (4096 points per 1 m block, batch 24, width 1):

- training: ``--steps`` optimiser steps after ``--warmup`` steps, DataLoader with ``--workers`` worker
  processes (BlockDataset sampling in the workers); for every step the time spent waiting for the next batch
  (``next(iterator)``) and the time in forward + backward + optimiser step are measured separately, giving
  training points/s and the share of the step spent outside the network (the goal is < 10 %);
- inference: pcseg.engine.inference.predict_cloud on one whole held-out room (every point, overlapping blocks
  with eval_stride 0.5) - room points per second, and the points pushed through the network per second.

Prints a small table. Timings on a shared machine are noisy; run it on an otherwise idle one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=6, help="timed training steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps first")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--width", type=float, default=1.0, help="PointNet width multiplier (1 = paper)")
    p.add_argument("--keep", default=None, help="folder for the synthetic data (default: a temp folder)")
    args = p.parse_args()

    import torch
    from torch.utils.data import DataLoader

    from pcseg.config import load_config
    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_s3dis import synth_s3dis
    from pcseg.engine.data import build_train_dataset, model_args, val_clouds
    from pcseg.engine.inference import predict_cloud
    from pcseg.models import create_model

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = tempfile.TemporaryDirectory(prefix="pcseg_bench_") if args.keep is None else None
    root = Path(args.keep) if args.keep else Path(tmp.name)
    if not (root / "cache" / "summary.json").is_file():
        synth_s3dis(root / "raw", seed=0)
        prepare_s3dis(root / "raw", root / "cache", progress=False, verbose=False)
    cfg = load_config(REPO / "configs" / "s3dis_pointnet.yaml",
                      [f"data.root={root / 'cache'}", "data.train_areas=[1]", "data.test_area=5",
                       f"data.num_workers={args.workers}", "train.device=cpu"])
    cfg.model.args["width"] = args.width
    dataset = build_train_dataset(cfg, seed=0)
    model = create_model(cfg.model.name, **model_args(cfg))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    bs, n_pts = cfg.train.batch_size, cfg.data.num_points
    total = args.warmup + args.steps
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(dataset), generator=g).tolist()
    while len(order) < total * bs:
        order += order
    loader = DataLoader(dataset, batch_size=bs, sampler=order[:total * bs], num_workers=args.workers,
                        drop_last=True, persistent_workers=False)
    model.train()
    wait = compute = 0.0
    it = iter(loader)
    for step in range(total):
        t0 = time.perf_counter()
        batch = next(it)
        t1 = time.perf_counter()
        logits = model(batch["features"], batch["coord"])
        loss = torch.nn.functional.cross_entropy(logits, batch["label"], ignore_index=-1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        t2 = time.perf_counter()
        if step >= args.warmup:
            wait += t1 - t0
            compute += t2 - t1
        print(f"step {step + 1}/{total}: data {1e3 * (t1 - t0):.0f} ms, network {1e3 * (t2 - t1):.0f} ms"
              + ("" if step >= args.warmup else " (warm-up)"), file=sys.stderr)
    del it
    step_time = (wait + compute) / args.steps
    train_pps = bs * n_pts / step_time

    name, load = val_clouds(cfg)[0]
    cloud = load()
    t0 = time.perf_counter()
    scores = predict_cloud(model, cloud, cfg, "cpu")
    infer = time.perf_counter() - t0
    assert scores.shape[0] == len(cloud)
    # points through the network: every column's points, chunked and padded to num_points
    from pcseg.data.blocks import iter_eval_blocks

    forwarded = sum(n_pts for _ in iter_eval_blocks(cloud, cfg.data.block_size, cfg.data.eval_stride, n_pts,
                                                     tuple(cfg.data.features)))

    rows = [
        ("configuration", f"PointNet width {args.width}, {n_pts} points x batch {bs}, {torch.get_num_threads()} "
                          f"threads, {args.workers} loader workers"),
        ("training step", f"{1e3 * step_time:.0f} ms (data wait {1e3 * wait / args.steps:.1f} ms, "
                          f"network {1e3 * compute / args.steps:.0f} ms)"),
        ("training throughput", f"{train_pps:,.0f} points/s"),
        ("data share of a step", f"{100 * wait / (wait + compute):.1f} % (goal < 10 %)"),
        ("inference, whole room", f"{name}: {len(cloud):,} points in {infer:.1f} s = {len(cloud) / infer:,.0f} "
                                  f"room points/s"),
        ("inference, network", f"{forwarded:,} block points = {forwarded / infer:,.0f} points/s "
                               f"(eval stride {cfg.data.eval_stride})"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
