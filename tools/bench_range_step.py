"""One training step of the bundled ``lidar`` network on this machine, by memory layout and loss.

    .venv/bin/python tools/bench_range_step.py [--repeats 6] [--batch 4] [--threads N] [--width W]

The network of configs/bundled_lidar.yaml (DeepLabv3+, its model.args) on random 64 x 2048 range images with
random labels, batch ``--batch`` (``--width`` replaces the network's width): forward, loss, backward and Adam step, timed ``--repeats`` times after one
warm-up step; best and median per case. Cases: the images and weights contiguous (NCHW) or channels-last
(NHWC, as pcseg.engine.train trains image networks), each with the config's cross-entropy; channels-last with
ce+lovasz on every pixel and on ``train.lovasz_points`` sampled pixels (32,768 when the config has none);
channels-last with cross-entropy under bfloat16 autocast (``train.cpu_amp``).
Untrained weights: the time does not depend on them. The cases take turns, so a load change hits all of them;
run it on an otherwise idle machine (it prints the load average).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=6, help="timed steps per case")
    p.add_argument("--batch", type=int, default=4, help="range images per step (the bundled recipe's 4)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--width", type=int, default=None, help="network width (default: the config's)")
    args = p.parse_args()

    import torch

    from pcseg.config import load_config
    from pcseg.engine.data import model_args
    from pcseg.engine.losses import build_loss
    from pcseg.models import create_model

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(REPO / "configs" / "bundled_lidar.yaml")
    sample = cfg.train.lovasz_points or 32768
    cases = [("contiguous", "ce", 0, False), ("channels-last", "ce", 0, False),
             ("channels-last", "ce+lovasz", 0, False), ("channels-last", "ce+lovasz", sample, False),
             ("channels-last", "ce", 0, True)]
    torch.manual_seed(0)
    margs = model_args(cfg)
    if args.width:
        margs["width"] = args.width
    k = margs["num_classes"]
    x = torch.randn(args.batch, margs["in_channels"], cfg.range.height, cfg.range.width)
    y = torch.randint(0, k, (args.batch, cfg.range.height, cfg.range.width))
    y[:, ::7] = -1                                              # some empty pixels, as in a real image
    runs = []
    for layout, loss_name, points, bf16 in cases:
        net = create_model(cfg.model.name, **margs)
        image = x
        if layout == "channels-last":
            net = net.to(memory_format=torch.channels_last)
            image = x.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        runs.append((net, opt, image, build_loss(loss_name, None, points), bf16))
    times: list[list[float]] = [[] for _ in cases]
    for r in range(args.repeats + 1):                            # the first round is the warm-up
        for i, (net, opt, image, loss_fn, bf16) in enumerate(runs):
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(image)
            loss = loss_fn(logits.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if r:
                times[i].append(time.perf_counter() - t)
    print(f"bundled lidar network, width {margs['width']}, batch {args.batch} x {cfg.range.height} x {cfg.range.width}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    print("| layout | loss | Lovasz pixels | autocast | best s | median s |")
    print("|---|---|---:|---|---:|---:|")
    for (layout, loss_name, points, bf16), ts in zip(cases, times):
        lov = "-" if loss_name == "ce" else (f"{points:,}" if points else "all")
        cast = "bfloat16" if bf16 else "-"
        print(f"| {layout} | {loss_name} | {lov} | {cast} | {min(ts):.3f} | {statistics.median(ts):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
