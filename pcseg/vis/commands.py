"""``pcseg render`` and ``pcseg view``: load any labelled input, colour it by class, write a PNG or open a window.

INPUT may be any cloud file :func:`pcseg.io.files.read_cloud` reads (a ``segment`` output .ply carries its
labels), an S3DIS raw room folder (``Annotations/``), an S3DIS cache room folder (coord.npy, color.npy,
label.npy) or, for ``render``, a range image .npy (H, W[, C]) (or (C, H, W)) drawn as stacked strips.

Labels: ``--labels`` are predictions, ``--gt`` ground truth. Labels stored in INPUT fill the role left open:
for a room folder (raw or cache) they are the annotations (ground truth, or the prediction when ``--gt`` is
given); for a file (a ``segment`` output .ply) they are the prediction (or the ground truth when ``--labels``
is given).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from pcseg.classes import S3DIS, SEMANTICKITTI, ClassSet, get_class_set
from pcseg.data.transforms import first_per_voxel
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.vis.palette import plain_colors

# Display caps: beyond these the cloud is voxel-downsampled for display only. Open3D on llvmpipe renders
# 1M points at 1280x960 in about 6 s (tools/bench_render.py); a window with 1M points is fine on a GPU.
RENDER_MAX_POINTS = 1_000_000
VIEW_MAX_POINTS = 1_000_000
# range image channel names by channel count, when `render --channels` does not name them:
# pcseg.range.projection.KITTI_CHANNELS, those followed by the surface normal, and by the normal and its
# roughness (repeated here because importing that module imports torch)
_KITTI_CHANNEL_NAMES = ("range", "x", "y", "z", "remission")
RANGE_CHANNEL_NAMES = {1: ("range",), 5: _KITTI_CHANNEL_NAMES, 8: _KITTI_CHANNEL_NAMES + ("nx", "ny", "nz"),
                       9: _KITTI_CHANNEL_NAMES + ("nx", "ny", "nz", "roughness")}
# smallest --side-by-side picture whose captions and 20-class legend leave room for the panels
SIDE_BY_SIDE_MIN = (300, 200)


@dataclass
class Scene:
    """What ``render``/``view`` show: the cloud, its class set and the label sets found."""

    cloud: Cloud
    class_set: ClassSet
    source: Path
    pred: np.ndarray | None = None
    gt: np.ndarray | None = None


def note(message: str) -> None:
    print(f"pcseg: note: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------
# loading

def _class_set(args: argparse.Namespace, paths: list[Path | None], default: ClassSet = S3DIS) -> ClassSet:
    """--classes if given; else semantickitti when any input is a .label/.bin file; else ``default``."""
    name = getattr(args, "classes", None)
    if name:
        try:
            return get_class_set(name)
        except KeyError as exc:
            raise PcsegError(None, str(exc.args[0])) from None
    if any(p is not None and p.suffix.lower() in (".label", ".bin") for p in paths):
        return SEMANTICKITTI
    return default


def _read_cache_room(folder: Path) -> Cloud:
    """An S3DIS cache room folder: coord.npy (N, 3), optional color.npy (uint8 0..255 or float 0..1) and
    label.npy (N,)."""
    def load(name: str) -> np.ndarray | None:
        path = folder / name
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise PcsegError(path, f"not a readable .npy file ({exc})") from None

    coord = load("coord.npy")
    color, label = load("color.npy"), load("label.npy")
    if coord is None or coord.ndim != 2 or coord.shape[1] < 3:
        raise PcsegError(folder / "coord.npy", "expected an (N, 3) array")
    if color is not None:
        color = color.astype(np.float32) / (255.0 if color.dtype == np.uint8 or color.max(initial=0) > 1 else 1.0)
    for name, arr in (("color.npy", color), ("label.npy", label)):
        if arr is not None and len(arr) != len(coord):
            raise PcsegError(folder / name, f"{len(arr)} rows for {len(coord)} points in coord.npy")
    return Cloud(coord[:, :3], color=color, label=None if label is None else label.reshape(-1))


def read_input_cloud(path: Path, point_dims: int | None = None) -> Cloud:
    """Any supported INPUT except range images -> Cloud (PcsegError on missing/unreadable input);
    ``point_dims``: floats per point of a headerless ``.bin``."""
    if not path.exists():
        raise PcsegError(path, "no such file or directory")
    if path.is_dir():
        if (path / "coord.npy").is_file():
            return _read_cache_room(path)
        if (path / "Annotations").is_dir() or path.name == "Annotations":
            from pcseg.io.s3dis import read_s3dis_room

            return read_s3dis_room(path.parent if path.name == "Annotations" else path)
        raise PcsegError(path, "folder is neither an S3DIS room (Annotations/) nor a cache room (coord.npy)")
    from pcseg.io.files import read_cloud

    return read_cloud(path, point_dims=point_dims)


def _load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError) as exc:
        raise PcsegError(path, f"not a readable .npy file ({exc})") from None


def read_label_file(path: Path, class_set: ClassSet, shape: tuple[int, ...],
                    label_format: str | None = None) -> np.ndarray:
    """Labels for ``shape`` points (or pixels) in ``label_format`` (pcseg.io.labels.LABEL_FORMATS), checked
    against the class set (PcsegError otherwise)."""
    from pcseg.io.labels import label_hint, labels_from_format
    from pcseg.vis.palette import check_labels

    if not path.exists():
        raise PcsegError(path, "no such file")
    if len(shape) == 1:
        from pcseg.io.files import read_labels

        labels = np.asarray(read_labels(path, class_set, label_format))
    elif path.suffix.lower() == ".npy":
        raw = _load_npy(path)
        if raw.dtype.kind not in "iu":
            raise PcsegError(path, f"expected integer labels, found {raw.dtype}")
        labels = labels_from_format(raw, label_format or "index", path)
    else:
        raise PcsegError(path, "labels of a range image must be an (H, W) .npy of class indices (-1 = ignore)")
    if len(shape) == 1:
        labels = labels.reshape(-1) if labels.ndim == 2 and 1 in labels.shape else labels
        if labels.shape != shape:
            raise PcsegError(path, f"{labels.size} labels for {shape[0]} points")
    elif labels.shape != shape:
        raise PcsegError(path, f"label image of shape {labels.shape} for a range image of {shape}")
    try:
        return check_labels(labels, class_set)
    except ValueError as exc:
        hint = label_hint(labels, class_set) if label_format in (None, "index") else ""
        raise PcsegError(path, f"{exc}{hint or '; pass --classes to choose the class set'}") from None


def load_scene(args: argparse.Namespace) -> Scene:
    """Read INPUT and the optional --labels / --gt files into a Scene."""
    source = Path(args.input)
    labels_path = Path(args.labels) if getattr(args, "labels", None) else None
    gt_path = Path(args.gt) if getattr(args, "gt", None) else None
    for path in (labels_path, gt_path):
        if path is not None and not path.exists():
            raise PcsegError(path, "no such file")
    cloud = read_input_cloud(source, getattr(args, "point_dims", None))
    class_set = _class_set(args, [source, labels_path, gt_path])
    scene = Scene(cloud=cloud, class_set=class_set, source=source)
    own = None
    if cloud.label is not None:
        from pcseg.vis.palette import check_labels

        from pcseg.io.labels import label_hint

        try:
            own = check_labels(cloud.label, class_set)
        except ValueError as exc:
            hint = label_hint(cloud.label, class_set)
            raise PcsegError(source, f"{exc}{hint or '; pass --classes to choose the class set'}") from None
    n = (len(cloud),)
    fmt = getattr(args, "label_format", None)
    pred = read_label_file(labels_path, class_set, n, fmt) if labels_path else None
    gt = read_label_file(gt_path, class_set, n, fmt) if gt_path else None
    dropped = cloud.meta.get("dropped_nan")
    if dropped and (labels_path or gt_path):
        raise PcsegError(source, f"{dropped} points with NaN coordinates were dropped on reading, so per-point "
                                 "label files cannot be aligned with it")
    if source.is_dir() or cloud.meta.get("labels_source"):  # dataset labels (a room, a scan's .label)
        scene.gt = gt if gt is not None else own
        scene.pred = pred if pred is not None else (own if gt is not None else None)
    else:  # a file: labels in it are a `segment` output
        scene.pred = pred if pred is not None else own
        scene.gt = gt if gt is not None else (own if pred is not None else None)
    return scene


# ---------------------------------------------------------------------------------------------------------
# display helpers

def voxel_subsample(coord: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points, one per voxel of a grid whose size is grown until the count
    fits (the first point of each voxel, so labels are kept as they are, never averaged).

    Shapes: coord (N, 3) -> index (M,) int64 sorted, M <= max_points."""
    n = len(coord)
    if n <= max_points:
        return np.arange(n)
    lo, hi = coord.min(axis=0), coord.max(axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    # a scanned scene is mostly surfaces: start from the spacing of max_points spread over the two largest
    # faces of the bounding box, then grow by the square root of the overshoot
    area = float(np.sort(extent)[1:].prod())
    voxel = np.sqrt(area / max_points)
    for _ in range(30):
        first = first_per_voxel(coord, voxel, lo)
        if len(first) <= max_points:
            return first
        voxel *= max(1.05, np.sqrt(len(first) / max_points))
    rng = np.random.default_rng(0)
    return np.sort(rng.choice(n, max_points, replace=False))


def _display_subset(scene: Scene, max_points: int, action: str) -> np.ndarray:
    index = voxel_subsample(scene.cloud.coord, max_points)
    if len(index) < len(scene.cloud):
        note(f"{action} {len(index):,} of {len(scene.cloud):,} points (voxel-downsampled for display only)")
    return index


# ---------------------------------------------------------------------------------------------------------
# render

@contextlib.contextmanager
def _writing(out: str) -> Iterator[None]:
    """Turn a failure to write the picture (permissions, full disk) into one PcsegError line."""
    try:
        yield
    except OSError as exc:
        raise PcsegError(out, f"cannot write the picture ({exc.strerror or exc})") from None


def _size(args: argparse.Namespace, side_by_side: bool) -> tuple[int, int]:
    size = getattr(args, "size", None)
    if size is None:
        return (1800, 720) if side_by_side else (1280, 960)
    width, height = int(size[0]), int(size[1])
    if not (32 <= width <= 16384 and 32 <= height <= 16384):
        raise PcsegError(None, f"--size {width} {height}: width and height must be within 32..16384")
    if side_by_side and (width < SIDE_BY_SIDE_MIN[0] or height < SIDE_BY_SIDE_MIN[1]):
        raise PcsegError(None, f"--size {width} {height}: --side-by-side needs at least "
                               f"{SIDE_BY_SIDE_MIN[0]}x{SIDE_BY_SIDE_MIN[1]} (three panels, captions and a legend)")
    return width, height


def _range_image(args: argparse.Namespace, source: Path, arr: np.ndarray) -> int:
    """Render a range image .npy as stacked strips (channels, labels, predictions, errors)."""
    from pcseg.vis.palette import colorize_labels, error_colors, legend_entries
    from pcseg.vis.render import render_range_strips

    given = getattr(args, "channels", None)
    most = max(max(RANGE_CHANNEL_NAMES), len(given or ()))
    if arr.ndim == 3 and arr.shape[0] <= most < arr.shape[2]:  # (C, H, W) as pcseg.range.make_image returns
        arr = np.moveaxis(arr, 0, -1)
    image = arr.astype(np.float64)[..., None] if arr.ndim == 2 else arr.astype(np.float64)
    h, w, c = image.shape
    empty = ~np.isfinite(image[..., 0]) | (image[..., 0] < 0)  # RangeNet++ marks empty pixels with range -1
    image[empty] = np.nan
    names = given or RANGE_CHANNEL_NAMES.get(c, tuple(f"channel {i}" for i in range(c)))
    if len(names) != c:
        raise PcsegError(source, f"--channels names {len(names)} channels, the image has {c}")
    strips: list[tuple[str, np.ndarray]] = [(names[i], image[..., i]) for i in range(c)]
    labels_path = Path(args.labels) if args.labels else None
    gt_path = Path(args.gt) if args.gt else None
    class_set = _class_set(args, [source, labels_path, gt_path], default=SEMANTICKITTI)
    fmt = getattr(args, "label_format", None)
    pred = read_label_file(labels_path, class_set, (h, w), fmt) if labels_path else None
    gt = read_label_file(gt_path, class_set, (h, w), fmt) if gt_path else None
    present = []
    if pred is not None:
        strips.append(("prediction", colorize_labels(pred, class_set)))
        present.append(pred)
    if gt is not None:
        strips.append(("ground truth", colorize_labels(gt, class_set)))
        present.append(gt)
    if pred is not None and gt is not None:
        scored = gt >= 0
        wrong = float(np.mean(pred[scored] != gt[scored]) * 100) if scored.any() else 0.0
        strips.append((f"errors: {wrong:.1f} % of labelled pixels wrong (red)", error_colors(pred, gt)))
    elif getattr(args, "side_by_side", False):
        raise PcsegError(None, "--side-by-side needs both --labels and --gt")
    legend = legend_entries(class_set, np.unique(np.concatenate([p.ravel() for p in present]))) if present else None
    with _writing(args.out):
        render_range_strips(strips, args.out, legend=legend)
    print(f"pcseg: wrote {args.out} ({len(strips)} strips of {h}x{w})")
    return 0


def render(args: argparse.Namespace) -> int:
    """``pcseg render INPUT [--labels L] [--gt G] --out PNG [--view top|oblique] [--size W H]
    [--side-by-side] [--classes NAME]``."""
    from pcseg.vis.palette import legend_entries
    from pcseg.vis.render import render_cloud, render_comparison, room_interior_mask

    source = Path(args.input)
    if not source.exists():
        raise PcsegError(source, "no such file or directory")
    if source.is_file() and source.suffix.lower() == ".npy":
        arr = _load_npy(source, mmap=True)  # only the header is read unless it is a range image
        if arr.ndim == 3 or (arr.ndim == 2 and arr.shape[1] > 16):
            return _range_image(args, source, np.asarray(arr))
    if getattr(args, "channels", None):
        raise PcsegError(source, "--channels names the strips of a range image .npy; this is a point cloud")
    side = bool(getattr(args, "side_by_side", False))
    scene = load_scene(args)
    if len(scene.cloud) == 0:
        raise PcsegError(source, "no points to draw")
    size = _size(args, side)
    view = getattr(args, "view", "oblique") or "oblique"
    index = _display_subset(scene, RENDER_MAX_POINTS, "drawing")
    coord = scene.cloud.coord[index]
    pred = None if scene.pred is None else scene.pred[index]
    gt = None if scene.gt is None else scene.gt[index]

    # An indoor room seen from above is all ceiling: the oblique view leaves the ceiling out.
    keep = room_interior_mask(scene.class_set, gt if gt is not None else pred, view)
    if keep is not None:
        note(f"leaving out {int((~keep).sum()):,} ceiling points so the room shows (--view top keeps them)")
        coord, pred = coord[keep], None if pred is None else pred[keep]
        gt = None if gt is None else gt[keep]

    if side:
        if pred is None or gt is None:
            raise PcsegError(source, "--side-by-side needs predictions (--labels, or labels in INPUT) and "
                                     "ground truth (--gt)")
        with _writing(args.out):
            render_comparison(coord, pred, gt, scene.class_set, args.out, size=size, view=view)
    else:
        labels, kind = (pred, "prediction") if pred is not None else (gt, "ground truth")
        if labels is not None:
            colors = scene.class_set.colorize(labels)
            legend = legend_entries(scene.class_set, np.unique(labels))
            title = f"{source.name}: {kind} ({scene.class_set.name})"
        else:
            colors, legend = plain_colors(scene.cloud.select(index)), None
            title = f"{source.name} (no labels)"
        with _writing(args.out):
            render_cloud(coord, colors, args.out, size=size, view=view, legend=legend, title=title)
    print(f"pcseg: wrote {args.out} ({size[0]}x{size[1]}, {len(coord):,} points)")
    return 0


# ---------------------------------------------------------------------------------------------------------
# view

def view(args: argparse.Namespace) -> int:
    """``pcseg view INPUT [--labels L] [--gt G] [--classes NAME]``: an Open3D window, keys switch colours."""
    from pcseg.vis.view import has_display, no_display_error, show

    if not has_display():  # fail before reading a large input
        raise no_display_error()
    scene = load_scene(args)
    if len(scene.cloud) == 0:
        raise PcsegError(scene.source, "no points to show")
    index = _display_subset(scene, VIEW_MAX_POINTS, "showing")
    show(scene.cloud.select(index), scene.class_set,
         None if scene.pred is None else scene.pred[index],
         None if scene.gt is None else scene.gt[index], title=f"pcseg view: {scene.source.name}")
    return 0


__all__ = ["Scene", "load_scene", "plain_colors", "read_input_cloud", "read_label_file", "render", "view",
           "voxel_subsample"]
