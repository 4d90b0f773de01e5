"""The real-data benchmark: every bundled model on every labelled real sample of its class set.

    python tools/bench_real.py [--models indoor lidar] [--realdata ../shared/realdata] [--write] [--json F]
    python tools/bench_real.py --checkpoint lidar=runs/seed1/lidar.pt      # a trial in a bundled model's place
    python tools/bench_real.py --tta                                       # as `pcseg segment --tta` labels

For each bundled model (pcseg/pretrained) and each real sample below whose class set matches, the model
labels EVERY point of the sample through the same path as ``pcseg segment`` (pcseg.engine.predict
load_for_inference + pcseg.engine.inference.predict_cloud) and the one ConfusionMatrix scores it: IoU per
class present in the ground truth, mIoU over those classes (``miou_present``), OA. Beside them the model's
synthetic validation score (from its checkpoint's training history, best epoch) shows the synthetic-to-real
gap. ``--write`` stores the scores in pcseg/pretrained/manifest.json, where ``pcseg models`` shows them.

The real samples (../shared/realdata, see its SOURCES.md) are for measuring only: the bundled models are
trained on pcseg's synthetic data alone, and the same models are scored on other real rooms and scans that
are kept back, so nothing here may be used to train or tune them.

Adding a sample: append a ``Sample`` to SAMPLES with a loader that returns a Cloud whose ``label`` holds
class indices of the sample's class set (-1 = ignore); ``prepare`` may adapt the cloud the way a user would
be told to (e.g. move a world-frame LiDAR scan to its sensor origin).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pcseg.errors import PcsegError  # noqa: E402
from pcseg.io.cloud import Cloud  # noqa: E402


@dataclass(frozen=True)
class Sample:
    name: str                        # shown in tables and stored in the manifest
    classes: str                     # class set name: "s3dis" | "semantickitti"
    path: str                        # relative to the realdata folder
    load: Callable[[Path], Cloud]    # realdata/path -> Cloud with labels


def _s3dis_room(path: Path) -> Cloud:
    from pcseg.io.s3dis import read_s3dis_room

    return read_s3dis_room(path)


def _open3d_ml_scan(path: Path) -> Cloud:
    """Open3D-ML's demo SemanticKITTI scan: points/<stem>.npy (N, 3) float32 xyz in a WORLD frame,
    labels/<stem>.npy (N, 1) int32 learning ids (0 = unlabeled -> ignore, id -> class id - 1). The sensor
    origin is not stored: it is estimated from the data (pcseg.range.origin), as a user would be told to."""
    from pcseg.range.origin import estimate_sensor_origin

    coord = np.load(path)
    learning = np.load(path.parent.parent / "labels" / path.name).reshape(-1).astype(np.int64)
    origin = estimate_sensor_origin(coord)
    print(f"bench_real: {path.name}: sensor origin estimated at {origin.round(2).tolist()}", file=sys.stderr)
    return Cloud(coord.astype(np.float32), label=learning - 1, meta={"sensor_origin": origin.tolist(),
                                                                     "source": str(path)})


def _kitti_pair(path: Path) -> Cloud:
    from pcseg.io.files import read_cloud

    return read_cloud(path)


SAMPLES: list[Sample] = [
    # a real SemanticKITTI scan, 85,962 points, xyz only, world frame; SOURCES.md
    Sample("semantickitti/000700 (Open3D-ML)", "semantickitti", "semantickitti-open3d-ml/points/000700.npy",
           _open3d_ml_scan),
    # 50 real points in the SemanticKITTI layout with raw labels (mmdetection3d's test data); SOURCES.md
    Sample("semantickitti/00/000000 (mmdetection3d, 50 points)", "semantickitti",
           "mmdetection3d/tests/data/semantickitti/sequences/00/velodyne/000000.bin", _kitti_pair),
    # a real S3DIS room, subsampled to 175,075 points (ceiling, floor, wall, door, clutter); SOURCES.md
    Sample("s3dis/Area_3/hallway_3", "s3dis",
           "s3dis-kpconv-fixtures/Stanford3dDataset_v1.2_Aligned_Version/Area_3/hallway_3", _s3dis_room),
]


def default_realdata() -> Path:
    return Path(os.environ.get("PCSEG_REALDATA", REPO.parent / "shared" / "realdata"))


def score(loaded: tuple, sample: Sample, realdata: Path, tta: bool = False) -> dict:
    """Label every point of one real sample with one model (``loaded``: what
    pcseg.engine.predict.load_for_inference returns; ``tta``: with test-time augmentation); the scores as a
    dict."""
    import torch

    from pcseg.engine.inference import predict_cloud
    from pcseg.metrics import ConfusionMatrix

    model, cfg, classes, device = loaded
    cloud = sample.load(realdata / sample.path)
    t0 = time.perf_counter()
    with torch.inference_mode():
        pred = predict_cloud(model, cloud, cfg, device, tta=tta).argmax(dim=1).numpy()
    seconds = time.perf_counter() - t0
    cm = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
    cm.update(pred.astype(np.int64), np.asarray(cloud.label, dtype=np.int64))
    present = cm.matrix.sum(axis=1) > 0
    iou = {n: float(v) for n, v, p in zip(classes.names, cm.iou(), present) if p}
    return {"miou": cm.miou_present, "oa": cm.oa, "iou": iou, "points": int(len(cloud)),
            "seconds": round(seconds, 2)}


def main(argv: list[str] | None = None) -> int:
    from pcseg.pretrained import MANIFEST, PRETRAINED_DIR, bundled_checkpoint, load_manifest, packed_validation

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=None, help="bundled models to score (default: all)")
    p.add_argument("--realdata", type=Path, default=None, help="the real samples (default ../shared/realdata "
                                                                 "or $PCSEG_REALDATA)")
    p.add_argument("--write", action="store_true", help="store the scores in pcseg/pretrained/manifest.json")
    p.add_argument("--json", type=Path, default=None, help="also write all scores to this JSON file")
    p.add_argument("--checkpoint", nargs="+", default=[], metavar="NAME=PATH",
                   help="score PATH in bundled model NAME's place (a seed repeat, a trial); not with --write")
    p.add_argument("--tta", action="store_true", help="label with test-time augmentation (pcseg segment --tta); "
                                                     "not with --write")
    args = p.parse_args(argv)
    trials = {}
    for item in args.checkpoint:
        name, _, path = item.partition("=")
        if not path or not Path(path).is_file():
            print(f"bench_real: --checkpoint {item}: want NAME=PATH of an existing checkpoint", file=sys.stderr)
            return 2
        trials[name] = Path(path)
    if (trials or args.tta) and args.write:
        print("bench_real: --write stores the bundled models' scores; not with --checkpoint or --tta",
              file=sys.stderr)
        return 2
    realdata = args.realdata or default_realdata()
    if not realdata.is_dir():
        print(f"bench_real: {realdata}: real samples not found", file=sys.stderr)
        return 2
    manifest = load_manifest()
    names = list(trials) or args.models or sorted(manifest)
    results: dict[str, dict] = {}
    rows = []
    for name in names:
        if name not in manifest:
            print(f"bench_real: no bundled model {name!r} (one of {', '.join(sorted(manifest))})", file=sys.stderr)
            return 2
        try:
            ckpt = trials.get(name) or bundled_checkpoint(name)
        except PcsegError as exc:
            print(f"bench_real: {exc}", file=sys.stderr)
            return 2
        entry = manifest[name]
        syn = packed_validation(ckpt)
        from pcseg.engine.predict import load_for_inference

        loaded = load_for_inference(ckpt)
        if loaded[2].name != entry.get("classes"):
            print(f"bench_real: {ckpt}: a {loaded[2].name} model, and {name!r} is a {entry.get('classes')} one",
                  file=sys.stderr)
            return 2
        real = {}
        for sample in SAMPLES:
            if sample.classes != entry.get("classes") or not (realdata / sample.path).exists():
                continue
            real[sample.name] = s = score(loaded, sample, realdata, args.tta)
            per_class = "  ".join(f"{c} {100 * v:.1f}" for c, v in s["iou"].items())
            rows.append(f"| {name} | {sample.name} | {s['points']:,} | {100 * s['miou']:.1f} | "
                        f"{100 * s['oa']:.1f} | {per_class} | "
                        + (f"{100 * syn['miou']:.1f} / {100 * syn['oa']:.1f}" if syn else "-") + " |")
        results[name] = {"synthetic_val": syn, "real": real}
    print("| model | real sample | points | mIoU (classes present) | OA | IoU per class present | "
          "synthetic val mIoU / OA |")
    print("|---|---|---:|---:|---:|---|---:|")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.write:
        from pcseg.utils import atomic_write_text

        for name, res in results.items():
            manifest[name]["scores"] = {"synthetic_val": res["synthetic_val"],
                                        "real": {k: {kk: v[kk] for kk in ("miou", "oa", "points", "iou")}
                                                 for k, v in res["real"].items()}}
        atomic_write_text(PRETRAINED_DIR / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        print(f"scores written to {PRETRAINED_DIR / MANIFEST}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
