"""``pcseg demo [--out DIR] [--models ...] [--seed S]``: the embedded default, end to end.

1. synthesise rooms in raw S3DIS layout (pcseg.data.synth_s3dis: Areas 1 and 5) under DIR/data/raw,
2. prepare them into the cache DIR/data/cache (pcseg.data.prepare),
3. for each demo model (the ``configs/demo_*.yaml`` files present but the OPT_IN ones; ``--models`` picks
   some by model name or file stem, e.g. ``pointnet``, ``range_unet`` or ``pointnet2``): train on Area 1
   (run folder DIR/<model>/run), evaluate on every point of the held-out Area 5 with the last checkpoint
   (DIR/<model>/metrics.json, classes.txt, predictions/), and write one predicted room as
   DIR/<model>/<room>_pred.ply plus a rendered prediction | ground truth | errors picture
   DIR/<model>/<room>_pred.png,
4. DIR/summary.md: a table (model, mIoU, OA, mAcc, train time, points) with the pictures.

Each model's config is used as written except for the paths, the areas (train 1, test 5), the seed and
``train.val_every=0`` (Area 5 is scored once, by the evaluation step, instead of also at the end of
training). The data step is skipped when DIR/data already holds the same synthetic set (same seed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pcseg.errors import PcsegError
from pcseg.utils import output_dir

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
TRAIN_AREA, TEST_AREA = 1, 5
# demo configs run only when named in --models: with them the default demo would not fit 5 minutes on 2 cores
OPT_IN = ("pointnet2", "point_transformer")


def demo_configs(models: list[str] | None = None, config_dir: Path = CONFIG_DIR) -> list[tuple[str, Path]]:
    """(short name, path) of the demo configs to run, in a fixed order (PointNet first); without ``models``
    every one but those in OPT_IN."""
    from pcseg.config import load_config

    paths = sorted(config_dir.glob("demo_*.yaml"), key=lambda p: (p.stem != "demo_pointnet", p.stem))
    if not paths:
        raise PcsegError(config_dir, "no demo_*.yaml configs found")
    found = [(p.stem[len("demo_"):], p, load_config(p).model.name) for p in paths]
    if models is None:
        return [(short, p) for short, p, _ in found if short not in OPT_IN]
    chosen = []
    for want in models:
        match = [(short, p) for short, p, name in found if want in (short, name, p.stem)]
        if not match:
            valid = sorted({short for short, _, _ in found} | {name for _, _, name in found})
            raise PcsegError("--models", f"no demo config for {want!r} (valid: {', '.join(valid)})")
        chosen += [m for m in match if m not in chosen]
    return chosen


def prepare_data(data_dir: Path, seed: int, points_per_room: int | None = None) -> Path:
    """Synthetic rooms -> cache under ``data_dir``; reused when the stamp says they match. Returns the cache."""
    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_s3dis import synth_s3dis

    stamp = data_dir / "demo_data.json"
    want = {"seed": seed, "areas": [TRAIN_AREA, TEST_AREA], "points_per_room": points_per_room}
    cache = data_dir / "cache"
    if stamp.is_file() and json.loads(stamp.read_text()) == want and (cache / "summary.json").is_file():
        print(f"== reusing the synthetic rooms in {data_dir}")
        return cache
    if data_dir.exists():
        shutil.rmtree(data_dir)
    t0 = time.time()
    kwargs: dict[str, Any] = {"areas": (TRAIN_AREA, TEST_AREA), "seed": seed}
    if points_per_room is not None:
        kwargs["points_per_room"] = points_per_room
    info = synth_s3dis(data_dir / "raw", **kwargs)
    print(f"== synthesised {info['rooms']} rooms, {info['points']:,} points in {time.time() - t0:.1f} s")
    t0 = time.time()
    prepare_s3dis(data_dir / "raw", cache, workers=None)
    print(f"== prepared the cache {cache} in {time.time() - t0:.1f} s")
    from pcseg.utils import atomic_write_text

    atomic_write_text(stamp, json.dumps(want))
    return cache


def run_model(short: str, config: Path, cache: Path, out: Path, seed: int) -> dict[str, Any]:
    """Train + evaluate one demo model; returns its summary row."""
    from pcseg.config import load_config
    from pcseg.engine.data import class_set, family, val_clouds
    from pcseg.engine.evaluate import evaluate
    from pcseg.io.ply import write_colored_ply
    from pcseg.engine.reporting import call_vis
    from pcseg.engine.train import train

    model_dir = out / short
    run_dir = model_dir / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    cfg = load_config(config, [f"data.root={cache}", f"data.test_area={TEST_AREA}", f"data.train_areas=[{TRAIN_AREA}]",
                               f"train.out={run_dir}", f"train.seed={seed}", "train.resume=",
                               # the held-out area is scored once, by the evaluation below
                               "train.val_every=0"])
    print(f"== {short}: training {cfg.model.name} ({config.name})")
    t0 = time.time()
    result = train(cfg)
    train_time = time.time() - t0
    if result.interrupted:
        raise KeyboardInterrupt
    t0 = time.time()
    metrics = evaluate(cfg, [run_dir / "last.pt"], out=model_dir, write_predictions=True, show_progress=True)
    eval_time = time.time() - t0

    from pcseg.vis.render import room_interior_mask

    classes = class_set(cfg)
    # one predicted room as <room>_pred.ply and a picture of prediction | ground truth | errors
    rooms = sorted(metrics["rooms"])
    picture = ply = None
    if rooms:
        name = rooms[0]
        loader = dict(val_clouds(cfg, area=TEST_AREA) if cfg.data.dataset == "s3dis" else val_clouds(cfg))[name]
        cloud = loader()
        pred = np.load(model_dir / "predictions" / f"{name}.npy")
        if write_colored_ply(model_dir / f"{name}_pred.ply", cloud.coord, pred, classes):
            ply = model_dir / f"{name}_pred.ply"
        gt = np.asarray(cloud.label)
        coord = cloud.coord
        keep = room_interior_mask(classes, gt)    # leave the ceiling out so the picture shows the room
        if keep is not None:
            coord, pred, gt = coord[keep], pred[keep], gt[keep]
        if call_vis("render", "render_comparison", coord, pred, gt, classes,
                    model_dir / f"{name}_pred.png", size=(1200, 400)):
            picture = model_dir / f"{name}_pred.png"
    strip = None
    if rooms and family(cfg) == "2d":
        strip = model_dir / f"{name}_range.png"
        range_strip(run_dir / "last.pt", loader, strip)
    return {"model": short, "name": cfg.model.name, "miou": metrics["miou"], "oa": metrics["oa"],
            "macc": metrics["macc"], "train_time": train_time, "eval_time": eval_time,
            "points": metrics["num_points"], "train_points_per_s": result.points_seen / max(result.train_seconds, 1e-9),
            "epochs": result.epochs, "steps": result.step, "picture": picture, "ply": ply, "strip": strip,
            "metrics": model_dir / "metrics.json", "run": run_dir, "iou": metrics["iou"]}


def range_strip(checkpoint: Path, loader: Any, out_png: Path) -> None:
    """The first viewpoint's range image of a room as stacked strips: range, ground truth, prediction."""
    import torch

    from pcseg.config import config_from_dict
    from pcseg.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
    from pcseg.engine.data import class_set
    from pcseg.range.dataset import RangeDataset
    from pcseg.range.spec import range_spec
    from pcseg.vis.render import render_range_strips

    ckpt = load_checkpoint(checkpoint)
    cfg = config_from_dict(ckpt["config"], f"{checkpoint} (config inside)")   # holds the measured mean/std
    classes = class_set(cfg)
    item = RangeDataset([loader], range_spec(cfg, need_stats=True), classes.num_classes)[0]
    model = build_model_from_checkpoint(ckpt, checkpoint).eval()
    with torch.no_grad():
        pred = model(item["image"][None])[0].argmax(0).numpy()
    label = item["label"].numpy()
    empty = label < 0
    rng = item["image"][0].numpy().astype(np.float64)
    rng[empty] = np.nan
    palette = classes.palette()
    pred_rgb = palette[pred]
    pred_rgb[empty] = 0
    render_range_strips([("range (normalised)", rng), ("ground truth", palette[label]),
                         (f"prediction ({cfg.model.name})", pred_rgb)], out_png)


def write_summary(out: Path, rows: list[dict[str, Any]], total_time: float, num_classes: int) -> Path:
    from pcseg.utils import atomic_write_text

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}"

    lines = ["# pcseg demo", "",
             f"Synthetic S3DIS-layout rooms: trained on Area {TRAIN_AREA}, scored on every point of Area {TEST_AREA} "
             f"(chance mIoU is about {100 / num_classes:.1f}). Total time {total_time:.0f} s.", "",
             "| model | mIoU | OA | mAcc | train time (s) | eval time (s) | points scored | train points/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} ({r['name']}) | {pct(r['miou'])} | {pct(r['oa'])} | {pct(r['macc'])} | "
                     f"{r['train_time']:.0f} | {r['eval_time']:.0f} | {r['points']:,} | {r['train_points_per_s']:,.0f} |")
    lines.append("")
    for r in rows:
        lines += [f"## {r['model']}", "",
                  f"metrics: `{r['metrics'].relative_to(out)}`, run folder: `{r['run'].relative_to(out)}`"
                  + (f", coloured prediction: `{r['ply'].relative_to(out)}`" if r["ply"] else ""), ""]
        if r["picture"] is not None:
            lines += [f"![{r['model']}: prediction | ground truth | errors]({r['picture'].relative_to(out)})", ""]
        if r.get("strip") is not None and r["strip"].is_file():
            lines += [f"![{r['model']}: range image | ground truth | prediction]({r['strip'].relative_to(out)})", ""]
        iou_png = r["metrics"].parent / "iou.png"
        if iou_png.is_file():
            lines += [f"![{r['model']}: IoU per class]({iou_png.relative_to(out)})", ""]
        curves = r["run"] / "curves.png"
        if curves.is_file():
            lines += [f"![{r['model']}: learning curves]({curves.relative_to(out)})", ""]
    path = out / "summary.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def demo(out: str | Path = "demo_out", models: list[str] | None = None, seed: int = 0,
         points_per_room: int | None = None, config_dir: Path = CONFIG_DIR) -> list[dict[str, Any]]:
    """Run the demo (see the module docstring); returns one summary row per model."""
    from pcseg.classes import S3DIS

    t_start = time.time()
    out = Path(out)
    chosen = demo_configs(models, Path(config_dir))
    output_dir(out)
    cache = prepare_data(out / "data", seed, points_per_room)
    rows = []
    for short, config in chosen:
        rows.append(run_model(short, config, cache, out, seed))
        r = rows[-1]
        print(f"== {short}: mIoU {100 * r['miou']:.1f}  OA {100 * r['oa']:.1f}  mAcc {100 * r['macc']:.1f}  "
              f"(train {r['train_time']:.0f} s, eval {r['eval_time']:.0f} s)")
    summary = write_summary(out, rows, time.time() - t_start, S3DIS.num_classes)
    print(f"\n== demo finished in {time.time() - t_start:.0f} s")
    for r in rows:
        print(f"   {r['model']:>14}: mIoU {100 * r['miou']:5.1f}  {r['metrics']}"
              + (f"  {r['picture']}" if r["picture"] else ""))
    print(f"   summary: {summary}")
    return rows


def cli(args: argparse.Namespace) -> int:
    # Idle OpenMP threads sleep instead of spinning (set before torch is imported): on a machine whose cores
    # are shared, spinning threads of these small networks more than doubled the step time (see README).
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    demo(args.out, args.models, args.seed)
    return 0


__all__ = ["demo", "demo_configs", "prepare_data", "run_model", "write_summary", "cli"]
