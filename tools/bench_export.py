"""PyTorch vs onnxruntime on this machine, and the real KITTI scan end to end.

    python tools/bench_export.py [--threads 2] [--repeats 7] [--realdata ../shared/realdata]

1. Network time (best of ``--repeats``, after a warm-up) of each exportable model, PyTorch and onnxruntime
   with the same intra-op thread count: per block batch for 3D models (the demo and the paper PointNet), per
   scan for range models (the bundled ``lidar`` DeepLabv3+ at 64 x 2048, the demo DeepLabv3+ and U-Net).
   Untrained weights: time does not depend on them.
2. The real 123,389-point KITTI scan (../shared/realdata/torch-points3d/KITTI/000000.bin) labelled end to end
   by the bundled ``lidar`` model, as ``pcseg segment`` does it: read, the sensor-centred check, project,
   network, back-project with kNN (pcseg.engine.predict read_input + check_scan_inputs,
   pcseg.engine.inference.predict_cloud), once with PyTorch and once
   with onnxruntime (the goal of the lidar model: <= 0.25 s): a warm-up, then ``--repeats`` runs of each,
   taking turns; best and median.

Prints the machine's load average beside the numbers: other jobs on the 2 cores slow both runtimes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best_of(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _checkpoint(path: Path, name: str, args: dict, dataset: str, overrides: dict) -> Path:
    import torch

    from pcseg.config import Config, config_to_dict
    from pcseg.engine.checkpoint import save_checkpoint
    from pcseg.engine.data import model_args
    from pcseg.models import create_model

    torch.manual_seed(0)
    cfg = Config()
    cfg.model.name, cfg.model.args, cfg.data.dataset = name, dict(args), dataset
    for key, value in overrides.items():
        section, field = key.split(".")
        setattr(getattr(cfg, section), field, value)
    margs = model_args(cfg)
    net = create_model(name, **margs)
    classes = 13 if dataset == "s3dis" else 19
    save_checkpoint(path, {"model": name, "model_args": margs, "class_set": dataset,
                           "class_names": [f"c{i}" for i in range(classes)], "config": config_to_dict(cfg),
                           "epoch": 0, "step": 0, "state_dict": net.state_dict()})
    return path


CASES = [
    # label, model, args, dataset, config overrides, input kind
    ("PointNet demo (width 0.25), 16 blocks x 1,024 pts", "pointnet", {"width": 0.25}, "s3dis",
     {"data.num_points": 1024, "train.batch_size": 16}),
    ("PointNet paper (width 1), 24 blocks x 4,096 pts", "pointnet", {"width": 1.0}, "s3dis",
     {"data.num_points": 4096, "train.batch_size": 24}),
    ("DeepLabv3+ bundled lidar size (width 16, row_stride 1), 64 x 2048", "deeplabv3plus",
     {"width": 16, "layers": [1, 1, 1, 1], "output_stride": 8, "aspp_rates": [1, 2, 4, 6], "row_stride": 1},
     "semantickitti",
     {"range.height": 64, "range.width": 2048}),
    ("DeepLabv3+ demo size (width 16), 64 x 512, rgb", "deeplabv3plus",
     {"width": 16, "layers": [1, 1, 1, 1], "output_stride": 8, "aspp_rates": [1, 2, 4, 6]}, "s3dis",
     {"range.height": 64, "range.width": 512, "range.mean": [0.0] * 7, "range.std": [1.0] * 7}),
    ("U-Net demo size (width 32, depth 4), 64 x 512, rgb", "unet", {}, "s3dis",
     {"range.height": 64, "range.width": 512, "range.mean": [0.0] * 7, "range.std": [1.0] * 7}),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    p.add_argument("--lidar-checkpoint", type=Path, default=None,
                   help="time this checkpoint end to end in the bundled lidar model's place (a trial's weights)")
    args = p.parse_args(argv)
    if args.lidar_checkpoint is not None and not args.lidar_checkpoint.is_file():
        print(f"{args.lidar_checkpoint}: no such checkpoint", file=sys.stderr)
        return 2
    import torch

    from pcseg.engine.export import _example_inputs, export, session
    from pcseg.engine.predict import load_for_inference

    torch.set_num_threads(args.threads)
    print(f"threads {args.threads} (torch intra-op = onnxruntime intra-op), load average "
          f"{os.getloadavg()[0]:.2f}\n")
    print("| network | PyTorch | onnxruntime | onnxruntime / PyTorch |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, name, margs, dataset, overrides in CASES:
            ckpt = _checkpoint(tmp / f"{name}.pt", name, margs, dataset, overrides)
            export(ckpt, tmp / f"{name}.onnx")
            model, cfg, _, _ = load_for_inference(ckpt, device="cpu")
            from pcseg.engine.data import family

            batch = cfg.train.batch_size if family(cfg) == "3d" else 1
            inputs = _example_inputs(family(cfg), cfg, int(cfg.model.args["in_channels"]), batch, cfg.data.num_points)
            sess = session(tmp / f"{name}.onnx", args.threads)
            names = [i.name for i in sess.get_inputs()]
            tensors = [torch.from_numpy(v) for v in inputs.values()]

            def run_torch() -> None:
                with torch.inference_mode():
                    model(*tensors)

            def run_ort() -> None:
                sess.run(["logits"], {n: inputs[n] for n in names})

            t_pt, t_ox = best_of(run_torch, args.repeats), best_of(run_ort, args.repeats)
            print(f"| {label} | {1000 * t_pt:.1f} ms | {1000 * t_ox:.1f} ms | {t_ox / t_pt:.2f} |")
        scan = args.realdata / "torch-points3d" / "KITTI" / "000000.bin"
        from pcseg.pretrained import bundled_checkpoint, bundled_names

        if not scan.is_file() or (args.lidar_checkpoint is None and "lidar" not in bundled_names()):
            print("\n(real KITTI scan or bundled lidar model missing: end-to-end part skipped)")
            return 0
        from pcseg.engine.inference import predict_cloud
        from pcseg.engine.predict import check_scan_inputs, read_input

        ckpt = args.lidar_checkpoint or bundled_checkpoint("lidar")
        which = f"checkpoint {ckpt}" if args.lidar_checkpoint else "the bundled lidar model"
        export(ckpt, tmp / "lidar.onnx")
        print(f"\nThe real KITTI scan ({scan.name}) end to end with {which}: read, project, "
              f"network, back-project with kNN, argmax ({args.repeats} runs each, taking turns, load average "
              f"{os.getloadavg()[0]:.2f}):\n")
        print("| runtime | best | median | points |")
        print("|---|---:|---:|---:|")
        labels, runners, times = {}, {}, {}
        for runtime, onnx in (("PyTorch", None), ("onnxruntime", tmp / "lidar.onnx")):
            model, cfg, _, device = load_for_inference(ckpt, device="cpu", onnx=onnx)

            def run(model=model, cfg=cfg, device=device, runtime=runtime) -> None:
                cloud = check_scan_inputs(read_input(scan), cfg, str(scan))
                labels[runtime] = predict_cloud(model, cloud, cfg, device).argmax(1).numpy()

            run()   # warm-up
            runners[runtime], times[runtime] = run, []
        # the two runtimes take turns, so a burst of load on the machine falls on both
        for _ in range(args.repeats):
            for runtime, run in runners.items():
                t0 = time.perf_counter()
                run()
                times[runtime].append(time.perf_counter() - t0)
        for runtime, ts in times.items():
            print(f"| {runtime} | {min(ts):.3f} s | {float(np.median(ts)):.3f} s | {len(labels[runtime]):,} |")
        agree = float((labels["PyTorch"] == labels["onnxruntime"]).mean())
        print(f"\nlabels agree on {100 * agree:.3f} % of the points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
