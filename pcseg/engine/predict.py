"""``pcseg segment INPUT... --checkpoint CKPT --out DIR``: label any point cloud with a trained model.

The model is loaded once from the checkpoint (which carries its config: block size, points per block, input
features, projection settings). Each INPUT may be a point-cloud file that pcseg.io.files.read_cloud reads
(.ply .pcd .las .laz .npy .bin ...), a raw S3DIS room folder (with Annotations/) or a prepared cache room
folder (with coord.npy). For each input DIR receives

    <stem>.npy     int64 predicted class per input point, in input order (S3DIS-style checkpoints), or
    <stem>.label   uint32 raw SemanticKITTI ids (SemanticKITTI checkpoints), and
    <stem>.ply     the points coloured by the class palette, with a ``label`` property.

A file that fails is reported in one line and the others go on; the exit status is 2 if any failed.

Memory: a cloud is normally read whole and scored in one piece (the cloud plus an (N, K) float32 score
array, see pcseg.engine.inference). A plain ``.npy``, KITTI ``.bin`` or binary PLY (the cases of
pcseg.io.stream) with more than ``tile_points`` points (``--tile-points``, default 2,000,000) is instead read
in chunks and scored tile by tile with the same result (pcseg.io.stream, pcseg.engine.tiled): memory is then
one tile plus 2 bytes per point, whatever the cloud's size. Other formats (ASCII PLY, PCD, LAS) are read whole.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from pcseg.classes import ClassSet, get_class_set
from pcseg.errors import PcsegError
from pcseg.utils import output_dir
from pcseg.io.cloud import Cloud
from pcseg.io.stream import CloudStream

if TYPE_CHECKING:
    import torch

    from pcseg.config import Config
    from pcseg.metrics import ConfusionMatrix


def read_input(path: str | Path, point_dims: int | None = None) -> Cloud:
    """Any supported input -> Cloud (labels when the input carries them); ``point_dims``: floats per point
    of a headerless ``.bin`` (pcseg.io.kitti_bin)."""
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
    return read_cloud(path, point_dims=point_dims)


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
    from pcseg.io.ply import write_colored_ply
    from pcseg.io.files import write_labels

    out.mkdir(parents=True, exist_ok=True)
    path = label_path(out, stem, classes)
    write_labels(path, pred, classes)
    written = [path]
    if write_colored_ply(out / f"{stem}.ply", cloud.coord, pred, classes):
        written.append(out / f"{stem}.ply")
    return written


def label_path(out: Path, stem: str, classes: ClassSet) -> Path:
    from pcseg.classes import SEMANTICKITTI

    return out / (f"{stem}.label" if classes.name == SEMANTICKITTI.name else f"{stem}.npy")


def write_stream_outputs(out: Path, stem: str, stream: CloudStream, pred: np.ndarray, classes: ClassSet,
                         confusion: ConfusionMatrix | None = None) -> bool:
    """write_outputs for a cloud read in chunks: the same two files, written chunk by chunk. ``confusion``,
    when given, is updated with each chunk's own labels on the way (no second pass over the file); returns
    False when those labels are not classes of ``classes`` (then they are not scored).

    Shapes: pred (stream.n,) int.
    """
    from pcseg.io.files import write_labels_chunks, write_ply_chunks

    fits = [True]

    def coloured() -> Iterator[Cloud]:
        for first, chunk in stream.chunks():
            labels = pred[first:first + len(chunk)]
            if confusion is not None and chunk.label is not None and fits[0]:
                own = np.asarray(chunk.label)
                if len(own) and own.max() >= confusion.num_classes:
                    fits[0] = False                   # labels of another class set: not scored
                else:
                    confusion.update(labels.astype(np.int64), own)
            yield Cloud(chunk.coord, color=classes.colorize(labels), label=labels)

    out.mkdir(parents=True, exist_ok=True)
    step = stream.chunk_rows
    write_labels_chunks(label_path(out, stem, classes), len(pred),
                        (pred[i:i + step] for i in range(0, len(pred), step)), classes)
    write_ply_chunks(out / f"{stem}.ply", len(pred), coloured())
    return fits[0]


def _dropped_note(dropped: int) -> str:
    """The per-file line's word on points the reader dropped (NaN/inf coordinates): the labels written
    follow the kept points, so a user who lines them up with the file's rows must skip the same ones."""
    if not dropped:
        return ""
    return (f", {dropped:,} point{'s' if dropped > 1 else ''} with NaN/inf coordinates dropped (the labels "
            f"follow the other points, in file order)")


def _segment_stream(model: torch.nn.Module, stream: CloudStream, cfg: Config, device: torch.device, out: Path,
                    stem: str, classes: ClassSet, tile_points: int, show_progress: bool,
                    tta: bool = False) -> tuple[int, str]:
    """Label a cloud read in chunks; returns (points, note on its own labels)."""
    from pcseg.engine.tiled import predict_stream
    from pcseg.metrics import ConfusionMatrix

    pred = predict_stream(model, stream, cfg, device, tile_points=tile_points, show_progress=show_progress,
                          tta=tta)
    cm = ConfusionMatrix(classes.num_classes, class_names=list(classes.names)) if stream.has_label else None
    if not write_stream_outputs(out, stem, stream, pred, classes, cm):
        return stream.n, f", its own labels are not {classes.name} classes: not scored"
    if cm is None or not cm.matrix.sum():
        return stream.n, ""
    return stream.n, f", against its own labels mIoU {100 * cm.miou:.1f} OA {100 * cm.oa:.1f}"


def load_for_inference(checkpoint: str | Path, batch_size: int | None = None, device: str = "auto",
                       onnx: str | Path | None = None, ckpt: dict | None = None
                       ) -> tuple[torch.nn.Module, Config, ClassSet, torch.device]:
    """Everything inference needs from one checkpoint: the model (eval mode, on ``device``), the run config
    it was trained with (``batch_size`` overrides train.batch_size, the blocks per forward pass; the model's
    arguments are in ``cfg.model.args``) and its class set. With ``onnx`` (an export of the same model, pcseg
    export) the network runs in onnxruntime on the CPU instead (pcseg.engine.onnx_runtime). ``ckpt``: the
    checkpoint already read from ``checkpoint``, when the caller needs it too."""
    import torch

    from pcseg.config import config_from_dict
    from pcseg.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
    from pcseg.engine.distributed import resolve_device

    if ckpt is None:
        ckpt = load_checkpoint(checkpoint)
    cfg = config_from_dict(ckpt["config"], f"{checkpoint} (config inside)")
    cfg.model.args = dict(ckpt["model_args"])
    if batch_size is not None:
        cfg.train.batch_size = batch_size
    classes = get_class_set(ckpt.get("class_set", cfg.data.dataset))
    if onnx is not None:
        from pcseg.engine.onnx_runtime import OnnxNetwork

        net = OnnxNetwork(onnx)
        net.check_matches(ckpt)
        return net.eval(), cfg, classes, torch.device("cpu")
    dev = resolve_device(device)
    model = build_model_from_checkpoint(ckpt, checkpoint).to(dev).eval()
    return model, cfg, classes, dev


def check_scan_inputs(cloud: Cloud, cfg: Config, where: str, sensor_origin: Sequence[float] | None = None) -> Cloud:
    """Range-image models: name each input channel the cloud lacks and what stands in for it (one line
    each), and place the sensor: ``sensor_origin`` (a scan stored in a world frame) goes into
    ``cloud.meta["sensor_origin"]``; without it a single-view scan that does not look sensor-centred gets a
    one-line warning with the origin estimated from the data (pcseg.range.origin)."""
    from pcseg.range.spec import range_spec

    spec = range_spec(cfg, need_stats=False)
    missing = [c for c in spec.channels if (c == "remission" and cloud.intensity is None)
               or (c in ("r", "g", "b") and cloud.color is None)]
    if missing:
        print(f"pcseg: warning: {where}: no {'/'.join(dict.fromkeys('rgb' if m in 'rgb' else m for m in missing))}"
              f" channel; the model gets the training mean in its place", file=sys.stderr)
    if spec.viewpoints != 0:
        return cloud
    if sensor_origin is not None:
        origin = [float(v) for v in sensor_origin]
        if len(origin) != 3 or not np.all(np.isfinite(origin)):
            raise PcsegError(where, f"the sensor origin must be three finite numbers, got {sensor_origin}")
        cloud.meta["sensor_origin"] = origin
        return cloud
    from pcseg.range.origin import estimate_sensor_origin, looks_sensor_centred

    if not looks_sensor_centred(np.asarray(cloud.coord)):
        x, y, z = estimate_sensor_origin(np.asarray(cloud.coord))
        print(f"pcseg: warning: {where}: the scan does not look sensor-centred (the sensor seems to be at "
              f"{x:.2f} {y:.2f} {z:.2f}); a world-frame scan needs --sensor-origin X Y Z", file=sys.stderr)
    return cloud


def segment(inputs: list[str | Path], checkpoint: str | Path, out: str | Path, show_progress: bool = True,
            tile_points: int = 2_000_000, batch_size: int | None = None,
            sensor_origin: Sequence[float] | None = None, onnx: str | Path | None = None,
            point_dims: int | None = None, tta: bool = False) -> int:
    """Label every input; returns the number of inputs that failed. 3D-model inputs in ``.npy`` / ``.bin`` /
    binary ``.ply`` with more than ``tile_points`` points are read in chunks and scored tile by tile (module
    docstring). ``batch_size`` (blocks per forward pass of a 3D model) defaults to the checkpoint's train.batch_size;
    a smaller one needs less memory and gives the same labels. ``tta``: test-time augmentation
    (pcseg.engine.inference.predict_cloud)."""
    from tqdm import tqdm

    from pcseg.engine.data import family
    from pcseg.engine.inference import predict_cloud
    from pcseg.metrics import ConfusionMatrix

    model, cfg, classes, device = load_for_inference(checkpoint, batch_size, onnx=onnx)
    if sensor_origin is not None and family(cfg) != "2d":
        raise PcsegError("--sensor-origin", f"applies to range-image models; {cfg.model.name!r} is a 3D model")
    out = output_dir(out)
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
            stream = None
            if family(cfg) == "3d" and path.is_file():
                from pcseg.io.stream import open_stream

                stream = open_stream(path, min_rows=tile_points + 1, point_dims=point_dims)
            if stream is not None:
                points, note = _segment_stream(model, stream, cfg, device, out, stem, classes, tile_points,
                                               show_progress, tta)
                note += _dropped_note(stream.dropped)
                bar.write(f"{path}: {points:,} points in tiles -> {out / stem}.*{note}", file=sys.stderr)
                continue
            cloud = read_input(path, point_dims)
            if len(cloud) == 0:
                raise PcsegError(path, "no points")
            if family(cfg) == "2d":
                cloud = check_scan_inputs(cloud, cfg, str(path), sensor_origin)
            pred = predict_cloud(model, cloud, cfg, device, tta=tta).argmax(dim=1).numpy().astype(np.int64)
            write_outputs(out, stem, cloud, pred, classes)
            note = ""
            if cloud.label is not None and np.asarray(cloud.label).max() >= classes.num_classes:
                note = f", its own labels are not {classes.name} classes: not scored"
            elif cloud.label is not None and (np.asarray(cloud.label) >= 0).any():
                cm = ConfusionMatrix(classes.num_classes, class_names=list(classes.names))
                cm.update(pred, np.asarray(cloud.label))
                note = f", against its own labels mIoU {100 * cm.miou:.1f} OA {100 * cm.oa:.1f}"
            note += _dropped_note(cloud.meta.get("dropped_nan", 0))
            bar.write(f"{path}: {len(cloud):,} points -> {out / stem}.*{note}", file=sys.stderr)
        except PcsegError as exc:
            if exc.where is None:           # a problem of this input found past the reader (e.g. its extent)
                exc = PcsegError(path, exc.problem)
            failed += 1
            bar.write(f"pcseg: error: {exc}", file=sys.stderr)
    bar.close()
    return failed


def cli(args: argparse.Namespace) -> int:
    for flag, value in (("--tile-points", args.tile_points), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            print(f"pcseg: error: {flag} must be >= 1, got {value}", file=sys.stderr)
            return 2
    checkpoint = args.checkpoint
    if checkpoint is None:
        from pcseg.pretrained import bundled_checkpoint

        checkpoint = bundled_checkpoint(args.model)
    if (args.runtime == "onnx") != (args.onnx is not None):
        raise PcsegError("--runtime", "--runtime onnx and --onnx FILE go together")
    failed = segment(args.inputs, checkpoint, args.out, tile_points=args.tile_points,
                     batch_size=args.batch_size, sensor_origin=args.sensor_origin, onnx=args.onnx,
                     point_dims=args.point_dims, tta=args.tta)
    if failed:
        print(f"pcseg: {failed} of {len(args.inputs)} inputs failed", file=sys.stderr)
        return 2
    return 0


__all__ = ["segment", "load_for_inference", "read_input", "write_outputs", "write_stream_outputs", "cli"]
