"""The CUDA paths against the CPU ones, on one GPU: ops, bundled-model inference and training steps.

    python tools/check_cuda.py --prepare DIR                      # here: write the data (needs Open3D)
    python tools/check_cuda.py --s3dis DIR/s3dis --kitti DIR/kitti [--out OUT] [--only CHECK...]   # on the GPU

``--prepare`` writes a prepared synthetic S3DIS cache with Areas 1 and 5 (6 rooms, 340k points) and a
synthetic SemanticKITTI tree (sequence 00: 8 scans, 08: 4), about 40 MB, so that a GPU machine without
Open3D needs only PyTorch, PyG, numba, NumPy, SciPy, h5py, PyYAML, tqdm and matplotlib. Every check prints
one line, ``ok`` or ``FAIL`` with what differed, and the exit status is the number of failures. Checks:

- ops: farthest point sampling, kNN and the A-CNN ring query on CUDA tensors (the pure PyTorch path) give
  the CPU kernels' results (FPS indices equal; kNN / ring distances within 1e-5);
- inference: the bundled ``indoor`` (A-CNN) and ``lidar`` (DeepLab v3+) models label the synthetic
  validation rooms / scans on CUDA with mixed precision as on CPU in float32 (labels agree on >= 99 % of the
  points, mIoU within 1 point);
- training: every model family trains a few steps on CUDA with mixed precision (GradScaler): a finite loss,
  a checkpoint that loads with ``weights_only=True`` and resumes (scaler state included);
- distributed: ``torchrun --nproc_per_node=1`` initialises NCCL and trains under DistributedDataParallel;
- paper: the training speed of the paper-sized configs (two epochs of ``--steps`` steps, the second timed).

Times of each step are printed; they are for orientation, not benchmarks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FAILURES: list[str] = []


def report(name: str, ok: bool, detail: str) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if not ok:
        FAILURES.append(name)


def pcseg(args: list[str], launcher: list[str] | None = None, timeout: int = 300) -> tuple[int, str, float]:
    """Run ``python -m pcseg ARGS`` (or under ``launcher``); return status, the tail of its stderr, seconds."""
    cmd = (launcher or [sys.executable]) + ["-m", "pcseg"] + args
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return proc.returncode, (proc.stderr + proc.stdout)[-1500:], time.perf_counter() - start


def check_ops(device: str) -> None:
    import torch

    from pcseg.ops import fps, knn, ring_query

    gen = torch.Generator().manual_seed(0)
    xyz = torch.rand(4, 4096, 3, generator=gen)
    a, b = fps(xyz, 512), fps(xyz.to(device), 512)
    report("ops fps", torch.equal(a, b.cpu()), f"4 x 4096 -> 512, {int((a != b.cpu()).sum())} indices differ")
    q = xyz[:, :512]
    da, _ = knn(q, xyz, 16)
    db, _ = knn(q.to(device), xyz.to(device), 16)
    err = float((da - db.cpu()).abs().max())
    report("ops knn", err < 1e-5, f"k=16, largest distance difference {err:.2e}")
    ia, ca = ring_query(q, xyz, 0.05, 0.1, 16)
    ib, cb = ring_query(q.to(device), xyz.to(device), 0.05, 0.1, 16)
    same = torch.equal(ca, cb.cpu())
    differ = int((ia != ib.cpu()).sum())
    report("ops ring_query", same and differ == 0, f"ring [0.05, 0.1) k=16, counts equal {same}, "
           f"{differ} of {ia.numel()} indices differ")


def metrics_of(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def check_inference(device: str, s3dis: Path, kitti: Path, out: Path) -> None:
    cases = [("indoor", "configs/bundled_indoor.yaml", [f"data.root={s3dis}"]),
             ("lidar", "configs/bundled_lidar.yaml", [f"data.root={kitti}", 'data.val_sequences=["08"]'])]
    for name, config, over in cases:
        scores = {}
        for tag, dev in (("cpu", "cpu"), ("device", device)):
            dest = out / f"eval_{name}_{tag}"
            rc, tail, secs = pcseg(["eval", config, "--checkpoint", f"pcseg/pretrained/{name}.pt", "--out", str(dest),
                                    *over, f"train.device={dev}", f"train.amp={'true' if dev != 'cpu' else 'false'}"])
            if rc != 0:
                report(f"eval {name} {dev}", False, tail)
                break
            scores[tag] = (metrics_of(dest), secs)
        if len(scores) < 2:
            continue
        (mc, tc), (mg, tg) = scores["cpu"], scores["device"]
        diff = abs(mc["miou"] - mg["miou"]) * 100
        same = total = 0
        for path in sorted((out / f"eval_{name}_cpu" / "predictions").glob("*.npy")):
            a = np.load(path)
            b = np.load(out / f"eval_{name}_device" / "predictions" / path.name)
            same, total = same + int((a == b).sum()), total + a.size
        agree = same / max(total, 1)
        report(f"eval {name}", diff <= 1.0 and agree >= 0.99 and total > 0,
               f"labels agree on {100 * agree:.2f} % of {total:,} points; mIoU cpu {100 * mc['miou']:.2f} / {device}+amp {100 * mg['miou']:.2f}, "
               f"OA {100 * mc['oa']:.2f} / {100 * mg['oa']:.2f}; {tc:.0f} s / {tg:.0f} s")


TRAIN = [("pointnet", "configs/demo_pointnet.yaml"), ("acnn", "configs/demo_acnn.yaml"),
         ("pointnet2", "configs/demo_pointnet2.yaml"), ("point_transformer", "configs/demo_point_transformer.yaml"),
         ("deeplab", "configs/demo_range_deeplab.yaml"), ("unet", "configs/demo_range_unet.yaml")]


def check_training(device: str, s3dis: Path, out: Path, steps: int) -> None:
    import torch

    from pcseg.engine.checkpoint import load_checkpoint

    common = [f"data.root={s3dis}", "data.train_areas=[1]", "data.test_area=5", f"train.device={device}",
              "train.amp=true", f"train.max_steps_per_epoch={steps}", "train.val_every=1", "data.num_workers=2"]
    for name, config in TRAIN:
        dest = out / f"train_{name}"
        rc, tail, secs = pcseg(["train", config, *common, "train.epochs=1", f"train.out={dest}"])
        if rc != 0:
            report(f"train {name}", False, tail)
            continue
        ckpt = load_checkpoint(dest / "last.pt")          # weights_only=True inside
        records = [json.loads(line) for line in (dest / "metrics.jsonl").read_text().splitlines()]
        loss = records[-1].get("loss")
        loss = float("nan") if loss is None else loss                # metrics.jsonl writes NaN as null
        finite = all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
        has_scaler = "scaler" in ckpt or device == "cpu"            # AMP (and its scaler) is CUDA-only
        rc2, tail2, secs2 = pcseg(["train", config, *common, "train.epochs=2", f"train.out={dest}",
                                   f"resume={dest / 'last.pt'}"])
        report(f"train {name}", math.isfinite(loss) and finite and has_scaler and rc2 == 0,
               f"{ckpt['step']} steps, loss {loss:.3f}, weights finite {finite}, scaler saved {has_scaler}, "
               f"resumed to epoch 2: {'yes' if rc2 == 0 else tail2}; {secs:.0f} s + {secs2:.0f} s")


def check_torchrun(device: str, s3dis: Path, out: Path, steps: int) -> None:
    dest = out / "torchrun_acnn"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    rc, tail, secs = pcseg(["train", "configs/demo_acnn.yaml", f"data.root={s3dis}", "data.train_areas=[1]",
                            "data.test_area=5", f"train.device={device}", "train.amp=true", "train.epochs=1",
                            f"train.max_steps_per_epoch={steps}", "train.val_every=1", f"train.out={dest}"],
                           launcher=launcher)
    backend = "nccl" if device == "cuda" else "gloo"
    report(f"torchrun {backend}", rc == 0 and (dest / "last.pt").is_file(),
           f"1 process, DDP over {backend}, {secs:.0f} s" if rc == 0 else tail)


PAPER = [("s3dis_pointnet", []), ("s3dis_acnn", []), ("s3dis_pointnet2", []), ("s3dis_point_transformer", []),
         ("kitti_range_deeplab", ['data.train_sequences=["00"]', 'data.val_sequences=["08"]'])]


def time_paper(device: str, s3dis: Path, kitti: Path, out: Path, steps: int) -> None:
    """Training speed of the paper-sized configs: the second of two epochs of ``steps`` steps each."""
    for name, over in PAPER:
        dest = out / f"paper_{name}"
        root = kitti if name.startswith("kitti") else s3dis
        areas = [] if name.startswith("kitti") else ["data.train_areas=[1]", "data.test_area=5"]
        rc, tail, secs = pcseg(["train", f"configs/{name}.yaml", f"data.root={root}", *areas, *over,
                                "data.num_workers=8", f"train.device={device}", "train.epochs=2",
                                f"train.max_steps_per_epoch={steps}", "train.val_every=0", f"train.out={dest}"])
        if rc != 0:
            report(f"paper {name}", False, tail)
            continue
        last = [json.loads(line) for line in (dest / "metrics.jsonl").read_text().splitlines()][-1]
        per_step = last["seconds"] / steps
        report(f"paper {name}", True, f"{1e3 * per_step:.0f} ms per step, {last['points_per_s']:,.0f} points/s "
               f"(second epoch of {steps} steps; {secs:.0f} s in all)")


def prepare(root: Path) -> None:
    """The check's data: 6 surface-sampled rooms (Areas 1 and 5) prepared, and two short synthetic drives."""
    import shutil
    import tempfile

    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_lidar import synth_lidar
    from pcseg.data.synth_s3dis import synth_s3dis

    with tempfile.TemporaryDirectory(prefix="pcseg_check_") as tmp:
        synth_s3dis(Path(tmp) / "raw", areas=(1, 5), rooms_per_area=3, points_per_room=60_000, seed=3)
        prepare_s3dis(Path(tmp) / "raw", root / "s3dis", progress=False, verbose=False)
        synth_lidar(root / "kitti", sequences=["08"], scans=4, seed=4)
        synth_lidar(Path(tmp) / "train", sequences=["00"], scans=8, seed=3)      # batch 8 of the paper config
        shutil.rmtree(root / "kitti" / "sequences" / "00", ignore_errors=True)
        shutil.move(str(Path(tmp) / "train" / "sequences" / "00"), root / "kitti" / "sequences" / "00")
    print(f"wrote {root / 's3dis'} and {root / 'kitti'}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepare", type=Path, default=None, help="write the synthetic data under this folder, then stop")
    p.add_argument("--s3dis", type=Path, help="prepared S3DIS cache (Areas 1 and 5)")
    p.add_argument("--kitti", type=Path, help="SemanticKITTI tree with sequences 00 and 08")
    p.add_argument("--out", type=Path, default=Path("runs/check_cuda"))
    p.add_argument("--steps", type=int, default=8, help="training steps per model")
    p.add_argument("--device", default="cuda", help="cuda (cpu only to try the script itself)")
    p.add_argument("--only", nargs="*", default=["ops", "eval", "train", "torchrun", "paper"])
    args = p.parse_args()
    if args.prepare is not None:
        prepare(args.prepare)
        return 0
    if args.s3dis is None or args.kitti is None:
        p.error("--s3dis and --kitti are needed (write them with --prepare DIR)")

    import torch

    if args.device == "cuda":
        if not torch.cuda.is_available():
            print("check_cuda: torch sees no CUDA device", file=sys.stderr)
            return 2
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}, "
              f"NCCL {'.'.join(map(str, torch.cuda.nccl.version()))}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    s3dis, kitti = args.s3dis.resolve(), args.kitti.resolve()
    for step, fn in [("ops", lambda: check_ops(args.device)),
                     ("eval", lambda: check_inference(args.device, s3dis, kitti, args.out)),
                     ("train", lambda: check_training(args.device, s3dis, args.out, args.steps)),
                     ("torchrun", lambda: check_torchrun(args.device, s3dis, args.out, args.steps)),
                     ("paper", lambda: time_paper(args.device, s3dis, kitti, args.out, args.steps))]:
        if step in args.only:
            start = time.perf_counter()
            fn()
            print(f"--- {step}: {time.perf_counter() - start:.0f} s", flush=True)
    print(f"{len(FAILURES)} failed: {', '.join(FAILURES)}" if FAILURES else "all checks passed", flush=True)
    return len(FAILURES)


if __name__ == "__main__":
    sys.exit(main())
