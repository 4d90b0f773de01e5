"""``pcseg segment INPUT... --checkpoint CKPT --out DIR``: label any point cloud with a trained model.

The model is loaded once from the checkpoint (which carries its config: block size, points per block, input
features, projection settings). Each INPUT may be a point-cloud file that pcseg.io.files.read_cloud reads
(.ply .pcd .las .laz .npy .bin ...), a raw S3DIS room folder (with Annotations/) or a prepared cache room
folder (with coord.npy). For each input DIR receives

    <stem>.npy     int64 predicted class per input point, in input order (S3DIS-style checkpoints), or
    <stem>.label   uint32 raw SemanticKITTI ids (SemanticKITTI checkpoints), and
    <stem>.ply     the points coloured by the class palette, with a ``label`` property.

A file that fails is reported in one line and the others go on; the exit status is 2 if any failed. Memory
stays bounded by the cloud plus an (N, K) float32 score array (see pcseg.engine.inference).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from pcseg.classes import ClassSet, get_class_set
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud


def read_input(path: str | Path) -> Cloud:
    """Any supported input -> Cloud (labels when the input carries them)."""
    path = Path(path)
    if path.is_dir():
        if (path / "coord.npy").is_file():
            return _read_cache_room(path)
        if (path / "Annotations").is_dir():
            from pcseg.io.s3dis import read_s3dis_room

            return read_s3dis_room(path)
        raise PcsegError(path, "a folder must be an S3DIS room (with Annotations/) or a prepared cache room "
                               "(with coord.npy)")
    if not path.exists():
        raise PcsegError(path, "file not found")
    try:
        from pcseg.io.files import read_cloud
    except ImportError:
        raise PcsegError(path, "point-cloud file readers (pcseg.io.files) are not available") from None
    return read_cloud(path)


def _read_cache_room(room: Path) -> Cloud:
    try:
        coord = np.load(room / "coord.npy", mmap_mode="r")
        color = np.load(room / "color.npy", mmap_mode="r") if (room / "color.npy").is_file() else None
        label = np.load(room / "label.npy", mmap_mode="r") if (room / "label.npy").is_file() else None
        return Cloud(coord, color=color, label=label, meta={"source": str(room)})
    except (OSError, ValueError) as exc:
        raise PcsegError(room, f"not a readable cache room ({exc})") from None


def write_outputs(out: Path, stem: str, cloud: Cloud, pred: np.ndarray, classes: ClassSet) -> list[Path]:
    """Write the label file and the coloured .ply for one input; returns the written paths."""
    from pcseg.classes import SEMANTICKITTI
    from pcseg.engine.evaluate import write_colored_ply
    from pcseg.io.files import write_labels

    out.mkdir(parents=True, exist_ok=True)
    path = out / (f"{stem}.label" if classes.name == SEMANTICKITTI.name else f"{stem}.npy")
    write_labels(path, pred, classes)
    written = [path]
    if write_colored_ply(out / f"{stem}.ply", cloud.coord, pred, classes):
        written.append(out / f"{stem}.ply")
    return written


def segment(inputs: list[str | Path], checkpoint: str | Path, out: str | Path, show_progress: bool = True) -> int:
    """Label every input; returns the number of inputs that failed."""
    from tqdm import tqdm

    from pcseg.config import config_from_dict
    from pcseg.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
    from pcseg.engine.distributed import resolve_device
    from pcseg.engine.inference import predict_cloud
    from pcseg.metrics import ConfusionMatrix

    ckpt = load_checkpoint(checkpoint)
    cfg = config_from_dict(ckpt["config"], f"{checkpoint} (config inside)")
    cfg.model.args = dict(ckpt["model_args"])
    classes = get_class_set(ckpt.get("class_set", cfg.data.dataset))
    device = resolve_device("auto")
    model = build_model_from_checkpoint(ckpt, checkpoint).to(device).eval()
    out = Path(out)
    failed = 0
    stems: set[str] = set()
    bar = tqdm(inputs, desc="segment", unit="file", disable=not show_progress, file=sys.stderr, dynamic_ncols=True)
    for item in bar:
        path = Path(item)
        stem = path.name if path.is_dir() else path.stem
        base, k = stem, 2
        while stem in stems:
            stem, k = f"{base}_{k}", k + 1
        stems.add(stem)
        try:
            cloud = read_input(path)
            if len(cloud) == 0:
                raise PcsegError(path, "no points")
            pred = predict_cloud(model, cloud, cfg, device).argmax(dim=1).numpy().astype(np.int64)
            write_outputs(out, stem, cloud, pred, classes)
            note = ""
            if cloud.label is not None and (np.asarray(cloud.label) >= 0).any():
                cm = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
                cm.update(pred, np.asarray(cloud.label))
                note = f", against its own labels mIoU {100 * cm.miou:.1f} OA {100 * cm.oa:.1f}"
            bar.write(f"{path}: {len(cloud):,} points -> {out / stem}.*{note}", file=sys.stderr)
        except PcsegError as exc:
            failed += 1
            bar.write(f"pcseg: error: {exc}", file=sys.stderr)
    bar.close()
    return failed


def cli(args: argparse.Namespace) -> int:
    failed = segment(args.inputs, args.checkpoint, args.out)
    if failed:
        print(f"pcseg: {failed} of {len(args.inputs)} inputs failed", file=sys.stderr)
        return 2
    return 0


__all__ = ["segment", "read_input", "write_outputs", "cli"]
