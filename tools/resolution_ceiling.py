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
from typing import Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

GRIDS = ((1, 2), (2, 4), (4, 4))


def pooled_confusions(coord: np.ndarray, label: np.ndarray, num_classes: int,
                      blocks: Sequence[tuple[int, int]] = GRIDS) -> dict[tuple[int, int], np.ndarray]:
    """Pixel confusion (true x pooled-and-upsampled) of one scan's labels at each grid, the scan projected
    once; ``label`` < 0 is ignored.

    Shapes: coord (N, 3) sensor frame, label (N,) -> {block: (K, K) int64}
    """
    import torch
    import torch.nn.functional as F

    from pcseg.range.projection import label_image, project

    proj = project(torch.as_tensor(np.asarray(coord, dtype=np.float32)))
    pixel = label_image(proj, torch.as_tensor(np.asarray(label), dtype=torch.int64))
    valid = (pixel >= 0) & (pixel < num_classes)
    onehot = F.one_hot(pixel.clamp(0, num_classes - 1), num_classes).permute(2, 0, 1).float() * valid
    out = {}
    for block in blocks:
        coarse = F.avg_pool2d(onehot[None], block)
        back = F.interpolate(coarse, size=pixel.shape, mode="bilinear", align_corners=False)[0].argmax(0)
        pairs = pixel[valid] * num_classes + back[valid]
        out[block] = np.bincount(pairs.numpy(), minlength=num_classes ** 2).reshape(num_classes, num_classes)
    return out


def main(argv: list[str] | None = None) -> int:
    from scan_texture import labelled_scans, scan_arguments

    args, classes = scan_arguments(__doc__.split("\n\n")[0], argv)
    k = classes.num_classes
    total = {grid: np.zeros((k, k), np.int64) for grid in GRIDS}
    try:
        for _, coord, label in labelled_scans(args, classes, "resolution_ceiling"):
            for grid, cm in pooled_confusions(coord, label, k).items():
                total[grid] += cm
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
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
