"""What one change to a synthetic scan does to the bundled ``lidar`` model: which of the ways a real scan
differs from the generator's explains the real-scan errors, measured without touching real data.

    .venv/bin/python tools/probe_lidar.py [--checkpoint PATH] [--sequences 6] [--seed 1000] [--json F]

Synthesises one scan on each of ``--sequences`` streets (``pcseg synth lidar`` with a seed no bundled run
trains on) and labels every scan through the path ``pcseg segment`` takes (load_for_inference +
predict_cloud), once as it is and once per probe, each probe changing one thing:

- ``xyz only``: remission removed (the labelled real scans carry none); every probe below is xyz only too;
- ``voxel D``: thinned to one point per D-metre cell, as the Open3D-ML demo scan is near the sensor;
- ``origin +X / +Y / +Z``: the sensor origin off by 0.25 m (0.2 m in z), as an origin estimated from a
  world-frame scan can be;
- ``facade holes P``: building points gone from a share P of 1 m cells (windows, things in front);
- ``flush sidewalk``: sidewalk lowered to the road's level (no kerb, as at crossings);
- ``raised terrain``: terrain 0.25 m higher (the real labelled scan's grass lies 0.1-0.4 m above its road);
- all of these at once (one voxel size, one origin error).

Prints mIoU (classes present), OA and the recall of the classes the real scan loses most (building,
sidewalk, terrain, vegetation, road, car) per case; ``--json`` also writes them. A probe that barely moves
these numbers does not explain a real-scan error on its own.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RECALL = ("building", "sidewalk", "terrain", "vegetation", "road", "car")
CELL = 1.0                       # metres: the facade-hole cells


def _cells_gone(coord: np.ndarray, share: float, cell: float = CELL) -> np.ndarray:
    """(N,) bool: the points whose ``cell``-metre cell is among the ``share`` dropped (each occupied cell
    drawn from a fixed-seed generator, so the same cells go in every run)."""
    _, cell_of = np.unique(np.floor(coord / cell).astype(np.int64), axis=0, return_inverse=True)
    gone = np.random.default_rng(0).random(int(cell_of.max()) + 1) < share
    return gone[cell_of.reshape(-1)]


# a probe: (coord (N, 3) float64, label (N,), class ids by name) -> (moved coord (N, 3), keep (N,) bool)
Probe = Callable[[np.ndarray, np.ndarray, dict], tuple[np.ndarray, np.ndarray]]


def facade_holes(share: float) -> Probe:
    def probe(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
        keep = ~((label == ids["building"]) & _cells_gone(coord, share))
        return coord, keep
    return probe


def voxel(size: float) -> Probe:
    def probe(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
        from pcseg.data.transforms import first_per_voxel

        keep = np.zeros(len(coord), dtype=bool)
        keep[first_per_voxel(coord, size)] = True
        return coord, keep
    return probe


def origin_off(offset: tuple[float, float, float]) -> Probe:
    def probe(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
        return coord - np.asarray(offset), np.ones(len(coord), dtype=bool)
    return probe


def flush_sidewalk(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
    """Sidewalk moved down by its median height above the road (points within 25 m of the sensor)."""
    near = np.hypot(coord[:, 0], coord[:, 1]) < 25.0
    walk, road = label == ids["sidewalk"], label == ids["road"]
    out = coord.copy()
    if (walk & near).any() and (road & near).any():
        out[walk, 2] -= np.median(coord[walk & near, 2]) - np.median(coord[road & near, 2])
    return out, np.ones(len(coord), dtype=bool)


def raised_terrain(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
    out = coord.copy()
    out[label == ids["terrain"], 2] += 0.25
    return out, np.ones(len(coord), dtype=bool)


def combined(*probes: Probe) -> Probe:
    """The probes one after another, each on the points the ones before moved (and kept)."""
    def probe(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
        keep = np.ones(len(coord), dtype=bool)
        for one in probes:
            moved, kept = one(coord[keep], label[keep], ids)
            coord = coord.copy()
            coord[keep] = moved
            keep[np.flatnonzero(keep)[~kept]] = False
        return coord, keep
    return probe


def unchanged(coord: np.ndarray, label: np.ndarray, ids: dict) -> tuple[np.ndarray, np.ndarray]:
    return coord, np.ones(len(coord), dtype=bool)


# (name, probe, keep remission)
CASES: list[tuple[str, Probe, bool]] = [
    ("as synthesised", unchanged, True),
    ("xyz only", unchanged, False),
    ("voxel 0.04", voxel(0.04), False),
    ("voxel 0.07", voxel(0.07), False),
    ("voxel 0.10", voxel(0.10), False),
    ("origin +X 0.25", origin_off((0.25, 0.0, 0.0)), False),
    ("origin +Y 0.25", origin_off((0.0, 0.25, 0.0)), False),
    ("origin +Z 0.2", origin_off((0.0, 0.0, 0.2)), False),
    ("facade holes 0.5", facade_holes(0.5), False),
    ("facade holes 0.75", facade_holes(0.75), False),
    ("flush sidewalk", flush_sidewalk, False),
    ("raised terrain", raised_terrain, False),
    ("all of these: flush sidewalk, raised terrain, facade holes 0.5, origin +X 0.25, voxel 0.07",
     combined(flush_sidewalk, raised_terrain, facade_holes(0.5), origin_off((0.25, 0.0, 0.0)), voxel(0.07)), False),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="a lidar checkpoint (default: the bundled one)")
    p.add_argument("--sequences", type=int, default=6, help="synthetic streets, one scan each")
    p.add_argument("--seed", type=int, default=1000, help="generator seed (bundled runs train on 0 and 1)")
    p.add_argument("--json", type=Path, default=None, help="also write the table to this JSON file")
    args = p.parse_args(argv)
    if args.sequences < 1:
        print(f"probe_lidar: --sequences {args.sequences}: needs at least one street", file=sys.stderr)
        return 2
    if args.json is not None and not args.json.parent.is_dir():
        print(f"probe_lidar: {args.json}: its folder does not exist", file=sys.stderr)
        return 2

    import torch

    from pcseg.classes import SEMANTICKITTI
    from pcseg.data.synth_lidar import synth_lidar
    from pcseg.engine.inference import predict_cloud
    from pcseg.engine.predict import load_for_inference
    from pcseg.errors import PcsegError
    from pcseg.io.cloud import Cloud
    from pcseg.io.files import read_cloud
    from pcseg.metrics import ConfusionMatrix
    from pcseg.pretrained import bundled_checkpoint

    try:
        ckpt = args.checkpoint or bundled_checkpoint("lidar")
        model, cfg, classes, device = load_for_inference(ckpt)
    except PcsegError as exc:
        print(f"probe_lidar: {exc}", file=sys.stderr)
        return 2
    if classes.name != SEMANTICKITTI.name:
        print(f"probe_lidar: {ckpt}: a {classes.name} model, not a SemanticKITTI one", file=sys.stderr)
        return 2
    names = list(classes.names)
    ids = {n: i for i, n in enumerate(names)}
    matrices = {name: ConfusionMatrix(classes.num_classes, class_names=names) for name, _, _ in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        synth_lidar(tmp, [f"{90 + i:02d}" for i in range(args.sequences)], 1, args.seed)
        for scan in sorted(Path(tmp).glob("sequences/*/velodyne/*.bin")):
            cloud = read_cloud(scan)
            coord = np.asarray(cloud.coord, dtype=np.float64)
            label = np.asarray(cloud.label, dtype=np.int64)
            for name, probe, remission in CASES:
                moved, keep = probe(coord, label, ids)
                case = Cloud(moved[keep].astype(np.float32), label=label[keep], meta={"source": str(scan)},
                             intensity=np.asarray(cloud.intensity)[keep] if remission else None)
                with torch.inference_mode():
                    pred = predict_cloud(model, case, cfg, device).argmax(dim=1).numpy()
                matrices[name].update(pred.astype(np.int64), label[keep])
    rows = {}
    print(f"`lidar` ({ckpt}) on {args.sequences} synthetic scans (seed {args.seed}), one change per row")
    print("| probe | mIoU | OA | " + " | ".join(f"{c} recall" for c in RECALL) + " |")
    print("|---|---:|---:|" + "---:|" * len(RECALL))
    for name, cm in matrices.items():
        acc = cm.acc()                                             # NaN: the class is absent from these scans
        recall = {c: float(acc[ids[c]]) for c in RECALL}
        rows[name] = {"miou": cm.miou_present, "oa": cm.oa,
                      "recall": {c: None if np.isnan(r) else r for c, r in recall.items()}}
        print(f"| {name} | {100 * cm.miou_present:.1f} | {100 * cm.oa:.1f} | "
              + " | ".join(f"{100 * recall[c]:.1f}" for c in RECALL) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
