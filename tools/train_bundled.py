"""Rebuild a bundled model from pcseg's synthetic data alone: one command per model.

    python tools/train_bundled.py indoor [--work data/bundled_indoor] [--seed 0] [--rooms 10]
    python tools/train_bundled.py lidar [--work data/bundled_lidar] [--seed 0]
    python tools/train_bundled.py lidar --seed 1 --work data/lidar_seed1 --pack-dir runs/seed1   # a repeat

``--pack-dir`` packs the model there and leaves pcseg/pretrained (model and manifest) alone: for seed
repeats and trials, scored with ``tools/bench_real.py --checkpoint lidar=runs/seed1/lidar.pt``.

``indoor``: synthesises scanner-simulated rooms (``pcseg synth s3dis --style scan``; Areas 1-4 for training,
Area 5 for synthetic validation), prepares them, trains ``configs/bundled_indoor.yaml``, packs the last
checkpoint into ``pcseg/pretrained/indoor.pt`` and writes the model's manifest entry (seed, wall time, the
command). ``lidar``: synthesises 80 short drives of 5 scans (``pcseg synth lidar``), trains
``configs/bundled_lidar.yaml`` on sequences 00-75 (76-79 validation) and packs ``pcseg/pretrained/lidar.pt``.
A config with ``train.average_from`` has its averaged weights (``averaged.pt``) packed, not ``last.pt``.
Then ``python tools/bench_real.py --write`` adds their real-sample scores.

Nothing here reads ../shared/realdata: the bundled models never see a real sample before they are scored.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECIPES = {
    "indoor": {
        "config": "configs/bundled_indoor.yaml",
        "classes": "s3dis",
        "for": "indoor rooms: raw S3DIS room folders, PLY/PCD/LAS/NPY clouds in metres, z up",
        "inputs": "xyz + rgb (a cloud without colour gets mid-grey, which training also shows it)",
        "areas": (1, 2, 3, 4, 5),
        "style": "scan",
    },
    "lidar": {
        "config": "configs/bundled_lidar.yaml",
        "classes": "semantickitti",
        "for": "spinning-LiDAR scans (HDL-64E-like, sensor-centred; --sensor-origin for world-frame scans); "
               "each scan is levelled on its ground plane before it is labelled; labels come from its "
               "probabilities with three quarters of the loss's class weighting divided out (w ** -0.75), "
               "smoothed in 3D over the points within about a metre (ground classes left out)",
        "inputs": "xyz, each point's surface normal found from its neighbours in the range image, and "
                  "remission (a scan without remission gets the remission mean, which training also shows it)",
        "sequences": 80,
        "scans": 5,
    },
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=sorted(RECIPES))
    p.add_argument("--work", type=Path, default=None, help="data and run folder (default data/bundled_<name>)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rooms", type=int, default=10, help="synthetic rooms per area")
    p.add_argument("--pack-dir", type=Path, default=None,
                   help="pack the model here, not into pcseg/pretrained (whose manifest is then left alone)")
    args = p.parse_args(argv)
    recipe = RECIPES[args.name]
    work = args.work or REPO / "data" / f"bundled_{args.name}"

    from pcseg.config import load_config
    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_s3dis import synth_s3dis
    from pcseg.engine.train import train
    from pcseg.pretrained import MANIFEST, PRETRAINED_DIR, load_manifest, pack_checkpoint, packed_validation
    from pcseg.utils import atomic_write_text

    t0 = time.perf_counter()
    if args.name == "indoor":
        summary = synth_s3dis(work / "raw", areas=recipe["areas"], rooms_per_area=args.rooms, seed=args.seed,
                              style=recipe["style"])
        prepare_s3dis(work / "raw", work / "cache", progress=False, verbose=False)
        root = work / "cache"
        trained_on = (f"{summary['rooms']} synthetic rooms ({summary['points']:,} points), pcseg synth s3dis "
                      f"--style scan, areas {list(recipe['areas'][:-1])} (area {recipe['areas'][-1]} validation)")
    else:
        from pcseg.data.synth_lidar import synth_lidar

        seqs = [f"{i:02d}" for i in range(recipe["sequences"])]
        summary = synth_lidar(work / "raw", sequences=seqs, scans=recipe["scans"], seed=args.seed)
        root = work / "raw"
        trained_on = (f"{recipe['sequences'] * recipe['scans']} synthetic scans of {recipe['sequences']} "
                      f"streets, pcseg synth lidar (sequences 00-{recipe['sequences'] - 5} train, the last 4 "
                      f"validation)")
    cfg = load_config(REPO / recipe["config"], [f"data.root={root}", f"train.out={work / 'run'}",
                                                f"train.seed={args.seed}"])
    train(cfg)
    # with train.average_from the averaged weights are the model (pcseg.engine.averaging), else the last epoch's
    ckpt = work / "run" / ("averaged.pt" if cfg.train.average_from else "last.pt")
    packed = pack_checkpoint(ckpt, args.name, args.pack_dir)
    minutes = (time.perf_counter() - t0) / 60
    syn = packed_validation(packed)
    val = "" if syn is None else f", synthetic val mIoU {100 * syn['miou']:.1f} (the packed epoch's)"
    print(f"{args.name}: packed {packed} in {minutes:.1f} min{val}")
    if args.pack_dir is not None:
        return 0
    manifest = load_manifest()
    entry = manifest.get(args.name, {})
    entry.update({
        "file": f"{args.name}.pt", "classes": recipe["classes"], "for": recipe["for"], "inputs": recipe["inputs"],
        "trained_on": trained_on,
        "command": f"python tools/train_bundled.py {args.name}" + (f" --seed {args.seed}" if args.seed else ""),
        "seed": args.seed, "train_minutes": round(minutes, 1), "config": recipe["config"],
    })
    manifest[args.name] = entry
    atomic_write_text(PRETRAINED_DIR / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
