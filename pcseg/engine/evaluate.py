"""``pcseg eval CONFIG --checkpoint CKPT [CKPT ...] [--out DIR] [--without remission|rgb] [key=value ...]``:
per-point scores on every original point of every held-out room (S3DIS) or validation scan (range models).

``--without CHANNEL`` scores the model as it does on clouds that lack that input (the real labelled LiDAR
scans users have are xyz only; many room scans have no colour): every held-out cloud loses the channel and
the model gets what ``segment`` gives it then (the channel's training mean; a 3D model without rgb: mid-grey).

One checkpoint: the rooms of ``data.test_area`` from CONFIG (+ overrides). Several checkpoints (S3DIS 6-fold
cross-validation, one checkpoint per fold): each checkpoint is scored on the test area named in its own
config, and the confusion matrices are summed (pooled over all points of all folds, the usual 6-fold
number; the reference charlesq34/pointnet `sem_seg/eval_iou_accuracy.py` likewise pools the per-area
predictions before computing IoU).

The model (name, arguments, input features) always comes from the checkpoint; everything else - where the
data is, the evaluation stride, the batch size, the device - from CONFIG and the overrides.

Writes to DIR (default: ``<checkpoint folder>/eval``):
    metrics.json                  ConfusionMatrix.to_dict() + per-room numbers + the checkpoints and areas
    classes.txt                   the class table that is also printed
    predictions/<Area>_<room>.npy int64 predicted label per original point, in the room's point order
    predictions/<Area>_<room>.ply the room coloured by predicted class (with a label property)
    iou.png, confusion.png        per-class IoU bars and the confusion matrix (pcseg.vis)
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from pcseg.config import Config, load_config
from pcseg.errors import PcsegError
from pcseg.utils import output_dir
from pcseg.io.cloud import Cloud
from pcseg.io.ply import write_colored_ply  # noqa: F401 - re-exported


def score_clouds(model: torch.nn.Module, clouds: list[tuple[str, Callable[[], Cloud]]], cfg: Config,
                 device: torch.device | str,
                 on_cloud: Callable[[str, Cloud, np.ndarray, Any], None] | None = None,
                 progress: bool = False, tta: bool = False):
    """Predict every point of every cloud and count the confusion matrix over all of them (``tta``: test-time
    augmentation, pcseg.engine.inference.predict_cloud).

    ``on_cloud(name, cloud, pred, room_confusion)`` is called after each cloud (predictions are (N,) int64).
    """
    from tqdm import tqdm

    from pcseg.engine.data import class_set
    from pcseg.engine.inference import predict_cloud
    from pcseg.metrics import ConfusionMatrix

    classes = class_set(cfg)
    total = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
    for name, load in tqdm(clouds, desc="eval", unit="room", disable=not progress, file=sys.stderr,
                           dynamic_ncols=True, leave=False):
        cloud = load()
        if cloud.label is None:
            raise PcsegError(name, "has no labels to score")
        scores = predict_cloud(model, cloud, cfg, device, tta=tta)
        if scores.shape[0] != len(cloud):
            raise RuntimeError(f"{name}: {scores.shape[0]} scores for {len(cloud)} points")
        pred = scores.argmax(dim=1).numpy().astype(np.int64)
        room = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
        room.update(pred, np.asarray(cloud.label))
        total.merge(room)
        if on_cloud is not None:
            on_cloud(name, cloud, pred, room)
    return total


def write_prediction(folder: Path, name: str, cloud: Cloud, pred: np.ndarray, class_set: Any) -> None:
    """``folder/name.npy`` (int64 labels) and ``folder/name.ply`` (coloured by class)."""
    from pcseg.utils import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{name}.npy") as tmp:
        np.save(tmp, pred.astype(np.int64))
    write_colored_ply(folder / f"{name}.ply", cloud.coord, pred, class_set)


WITHOUT = ("remission", "rgb")


def _without(load: Callable[[], Cloud], channels: tuple[str, ...], grey: bool) -> Callable[[], Cloud]:
    """``load`` whose cloud lacks ``channels`` (WITHOUT). Without rgb a 3D model gets mid-grey (``grey``) and
    a range model no colour (its image then holds the channel mean), as ``segment`` gives each."""

    def stripped() -> Cloud:
        from pcseg.engine.inference import grey as grey_colour

        cloud = load()
        color = cloud.color
        if "rgb" in channels and color is not None:
            color = grey_colour(len(cloud)) if grey else None
        return dataclasses.replace(cloud, color=color,
                                   intensity=None if "remission" in channels else cloud.intensity)

    return stripped


def _run_config(cli_cfg: Config, ckpt: dict, path: Path) -> Config:
    """CONFIG + overrides, with the model, its input features and how its scores become labels (the range
    settings, ``train.unweight_labels`` / ``unweight_power`` and the class weights) taken from the checkpoint."""
    from pcseg.config import config_from_dict

    ckpt_cfg = config_from_dict(ckpt["config"], f"{path} (config inside)")
    cfg = copy.deepcopy(cli_cfg)
    cfg.model = ckpt_cfg.model
    cfg.model.args = dict(ckpt["model_args"])
    cfg.data.features = list(ckpt_cfg.data.features)
    cfg.range = ckpt_cfg.range if ckpt.get("family") == "2d" else cfg.range
    cfg.train.unweight_labels = ckpt_cfg.train.unweight_labels
    cfg.train.unweight_power = ckpt_cfg.train.unweight_power
    cfg.train.class_weight_values = ckpt_cfg.train.class_weight_values
    return cfg


def evaluate(cfg: Config, checkpoints: list[str | Path], out: str | Path | None = None,
             write_predictions: bool = True, show_progress: bool = True,
             without: tuple[str, ...] | list[str] = (), tta: bool = False) -> dict[str, Any]:
    """Score checkpoint(s) on whole held-out rooms; returns the metrics dict that is written to metrics.json.
    ``without``: input channels (WITHOUT) every cloud is scored without; ``tta``: with test-time augmentation
    (pcseg.engine.inference.predict_cloud)."""
    from pcseg.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
    from pcseg.engine.data import class_set, family, val_clouds
    from pcseg.engine.distributed import resolve_device
    from pcseg.engine.reporting import call_vis
    from pcseg.metrics import ConfusionMatrix

    without = tuple(dict.fromkeys(without))
    unknown = [c for c in without if c not in WITHOUT]
    if unknown:
        raise PcsegError("--without", f"unknown channel {unknown[0]!r} (one of {', '.join(WITHOUT)})")
    classes = class_set(cfg)
    device = resolve_device(cfg.train.device)
    paths = [Path(p) for p in checkpoints]
    out_dir = Path(out) if out is not None else paths[0].parent / "eval"
    total = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
    rooms: dict[str, dict[str, Any]] = {}
    areas: list[int] = []
    t0 = time.time()
    for path in paths:
        ckpt = load_checkpoint(path, model=cfg.model.name, num_classes=classes.num_classes)
        if ckpt.get("class_set", classes.name) != classes.name:
            raise PcsegError(path, f"checkpoint classes are {ckpt['class_set']}, the config's {classes.name}")
        run_cfg = _run_config(cfg, ckpt, path)
        model = build_model_from_checkpoint(ckpt, path).to(device)
        area = None
        if family(run_cfg) == "3d":
            trained_test = int(ckpt["config"]["data"]["test_area"])
            area = trained_test if len(paths) > 1 else cfg.data.test_area
            if area in areas:
                raise PcsegError(path, f"a second checkpoint for test area {area} (6-fold needs one per area)")
            trained_on = ckpt["config"]["data"].get("train_areas") or [a for a in range(1, 7) if a != trained_test]
            if area in trained_on:
                print(f"pcseg: warning: {path} was trained on Area {area}, which is evaluated here",
                      file=sys.stderr)
            areas.append(area)
        clouds = val_clouds(run_cfg, area=area) if area is not None else val_clouds(run_cfg)
        if without:
            clouds = [(name, _without(load, without, family(run_cfg) == "3d")) for name, load in clouds]

        def on_cloud(name: str, cloud: Cloud, pred: np.ndarray, room: Any) -> None:
            rooms[name] = {"checkpoint": str(path), "points": int(room.num_points), "miou": room.miou,
                           "oa": room.oa, "macc": room.macc}
            if write_predictions:
                write_prediction(out_dir / "predictions", name, cloud, pred, classes)

        total.merge(score_clouds(model, clouds, run_cfg, device, on_cloud, progress=show_progress, tta=tta))
    from pcseg.engine.reporting import json_safe

    metrics = total.to_dict()
    metrics.update(json_safe({"rooms": rooms, "checkpoints": [str(p) for p in paths], "test_areas": areas,
                           "without": list(without), "tta": bool(tta), "seconds": time.time() - t0}))
    output_dir(out_dir)
    from pcseg.utils import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=1) + "\n")
    table = total.table()
    atomic_write_text(out_dir / "classes.txt", table + "\n")
    title = f"{cfg.model.name}: mIoU {100 * total.miou:.1f}"
    call_vis("plots", "save_iou_bars", metrics["iou"], out_dir / "iou.png", title=title)
    call_vis("plots", "save_confusion_matrix", total.matrix, list(classes.names), out_dir / "confusion.png")
    if show_progress:
        what = (f"Area {', '.join(map(str, areas))}" if areas else "validation scans")
        bare = (f", without {' and '.join(without)}" if without else "") + (", with TTA" if tta else "")
        print(f"{cfg.model.name} on {what}{bare}: {len(rooms)} rooms/scans, {total.num_points} points")
        print(table)
        print(f"wrote {out_dir / 'metrics.json'}" + (f" and {out_dir / 'predictions'}/" if write_predictions else ""))
    return metrics


def cli(args: argparse.Namespace) -> int:
    # `--checkpoint` takes one or more paths, so `key=value` overrides written after it land there
    checkpoints = [c for c in args.checkpoint if "=" not in c or Path(c).exists()]
    overrides = [c for c in args.checkpoint if c not in checkpoints] + list(args.overrides or [])
    if not checkpoints:
        raise PcsegError("--checkpoint", "no checkpoint given")
    cfg = load_config(args.config, overrides)
    evaluate(cfg, checkpoints, args.out, without=args.without or (), tta=args.tta)
    return 0


__all__ = ["evaluate", "score_clouds", "write_prediction", "write_colored_ply", "cli"]
