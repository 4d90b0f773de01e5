"""How finely a range network must label: a scan's true labels pooled to a coarser grid and back.

    python tools/resolution_ceiling.py SCAN [SCAN ...] [--labels F] [--label-format learning] [--sensor-origin X Y Z]
    python tools/resolution_ceiling.py ../shared/realdata/semantickitti-open3d-ml/points/000700.npy \
        --labels ../shared/realdata/semantickitti-open3d-ml/labels/000700.npy --label-format learning
    python tools/resolution_ceiling.py data/bundled_lidar/raw/sequences/7[6-9]/velodyne/*.bin

Each scan (any format ``pcseg segment`` reads; labels as ``pcseg eval`` reads them) is projected to the
bundled ``lidar`` model's 64 x 2048 range image. Its per-pixel labels, one-hot, are averaged over blocks of
rows x columns (empty pixels count as nothing, as they reach the network as zeros), upsampled bilinearly as
DeepLabv3+ upsamples its logits, and the argmax is scored against the labels, pixel by pixel: the best a
network that labels at that grid could do. The grids: (2, 4), where the v3+ decoder labels with the
column-only stem (``row_stride: 1``); (1, 2), the stem's own map (``fine_channels``); (4, 4), the paper's
stride-4 decoder. A scan not centred on its sensor gets ``--sensor-origin``, or the origin estimated from
the data (pcseg.range.origin) when it does not look sensor-centred.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GRIDS = ((1, 2), (2, 4), (4, 4))


def pooled_confusion(coord: np.ndarray, label: np.ndarray, num_classes: int,
                     block: tuple[int, int]) -> np.ndarray:
    """Pixel confusion (true x pooled-and-upsampled) of one scan's labels at one grid; ``label`` < 0 ignored.

    Shapes: coord (N, 3) sensor frame, label (N,) -> (K, K) int64
    """
    import torch
    import torch.nn.functional as F

    from pcseg.range.projection import label_image, project

    proj = project(torch.as_tensor(np.asarray(coord, dtype=np.float32)))
    pixel = label_image(proj, torch.as_tensor(np.asarray(label), dtype=torch.int64))
    valid = (pixel >= 0) & (pixel < num_classes)
    onehot = F.one_hot(pixel.clamp(0, num_classes - 1), num_classes).permute(2, 0, 1).float() * valid
    coarse = F.avg_pool2d(onehot[None], block)
    back = F.interpolate(coarse, size=pixel.shape, mode="bilinear", align_corners=False)[0].argmax(0)
    pairs = pixel[valid] * num_classes + back[valid]
    return np.bincount(pairs.numpy(), minlength=num_classes ** 2).reshape(num_classes, num_classes)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("scans", nargs="+")
    p.add_argument("--labels", help="label file of a single scan (default: as pcseg.io.files.read_cloud finds)")
    p.add_argument("--label-format", choices=["index", "learning", "raw"])
    p.add_argument("--classes", default="semantickitti")
    p.add_argument("--sensor-origin", nargs=3, type=float, metavar=("X", "Y", "Z"))
    args = p.parse_args(argv)
    from pcseg.classes import get_class_set
    from pcseg.errors import PcsegError
    from pcseg.io.files import read_cloud
    from pcseg.range.origin import estimate_sensor_origin, looks_sensor_centred

    if args.labels and len(args.scans) > 1:
        p.error("--labels names the labels of one scan")
    classes = get_class_set(args.classes)
    k = classes.num_classes
    total = {grid: np.zeros((k, k), np.int64) for grid in GRIDS}
    for path in args.scans:
        try:
            cloud = read_cloud(path, labels=args.labels, class_set=classes, label_format=args.label_format)
        except (PcsegError, OSError, ValueError) as e:
            print(f"resolution_ceiling: {e if path in str(e) else f'{path}: {e}'}", file=sys.stderr)
            return 2
        if cloud.label is None:
            print(f"resolution_ceiling: {path}: no labels found (give --labels)", file=sys.stderr)
            return 2
        coord = np.asarray(cloud.coord, dtype=np.float64)
        if args.sensor_origin is not None:
            coord = coord - np.asarray(args.sensor_origin)
        elif not looks_sensor_centred(coord):
            origin = estimate_sensor_origin(coord)
            print(f"resolution_ceiling: {path}: not sensor-centred; origin estimated at {origin.round(2).tolist()}")
            coord = coord - origin
        for grid in GRIDS:
            total[grid] += pooled_confusion(coord, np.asarray(cloud.label), k, grid)
    present = total[GRIDS[0]].sum(1) > 0
    shown = np.flatnonzero(present)
    print(f"{len(args.scans)} scan(s); pixel IoU of the true labels pooled to each grid and upsampled back")
    print("| grid (rows x columns) | mIoU (classes present) | " + " | ".join(classes.names[c] for c in shown) + " |")
    print("|---|---:|" + "---:|" * len(shown))
    for grid, cm in total.items():
        tp = np.diag(cm)
        iou = tp / np.maximum(cm.sum(0) + cm.sum(1) - tp, 1)
        cells = " | ".join(f"{100 * iou[c]:.1f}" for c in shown)
        print(f"| {grid[0]} x {grid[1]} | {100 * iou[present].mean():.1f} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
