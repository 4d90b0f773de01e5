"""What a range network sees of a LiDAR scan's surfaces: range-image occupancy and per-class roughness.

    python tools/scan_texture.py SCAN [SCAN ...] [--labels F] [--label-format learning] [--sensor-origin X Y Z]
    python tools/scan_texture.py ../shared/realdata/semantickitti-open3d-ml/points/000700.npy \
        --labels ../shared/realdata/semantickitti-open3d-ml/labels/000700.npy --label-format learning
    python tools/scan_texture.py data/bundled_lidar/raw/sequences/76/velodyne/00000[0-4].bin

For each scan (any format ``pcseg segment`` reads; labels as ``pcseg eval`` reads them), projected as the
bundled ``lidar`` model projects it (64 x 2048, RangeNet++'s field of view): the share of pixels that hold
a point, and per class, over pairs of horizontally adjacent pixels (same beam, neighbouring azimuths) of
that class 5-20 m away, the median |range difference| / range. A flat road reads smooth, grass rougher,
foliage roughest; a synthetic world where they all read alike gives the network no texture to learn from.
A scan not centred on its sensor gets ``--sensor-origin``, or the origin estimated from the data
(pcseg.range.origin) when it does not look sensor-centred. Comparing a real scan with synthetic ones is
how the generator's surface model (pcseg.data.synth_lidar, ``Part.depth``) was checked; the real samples
are for measuring, so it says where the synthetic world differs, not what numbers to copy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from pcseg.classes import ClassSet


def texture(coord: np.ndarray, label: np.ndarray, num_classes: int, near: float = 5.0,
            far: float = 20.0) -> tuple[float, dict[int, tuple[int, float]]]:
    """(occupancy of the 64 x 2048 range image, {class: (adjacent pixel pairs, median |dr| / r)}) for
    classes with at least 20 pairs ``near``-``far`` metres away. ``label`` < 0 is ignored.

    Shapes: coord (N, 3) sensor frame, label (N,) -> float, dict
    """
    import torch

    from pcseg.range.projection import project

    proj = project(torch.as_tensor(np.asarray(coord, dtype=np.float32)))
    index = proj.index.numpy()
    filled = index >= 0
    rng = np.where(filled, proj.range.numpy(), np.nan)
    cls = np.where(filled, np.asarray(label)[index.clip(0)], -1)
    same = (cls[:, :-1] == cls[:, 1:]) & (cls[:, :-1] >= 0)
    r0 = rng[:, :-1]
    rel = np.abs(np.diff(rng, axis=1)) / r0
    ok = same & (r0 >= near) & (r0 < far)
    out = {}
    for c in range(num_classes):
        pairs = ok & (cls[:, :-1] == c)
        if pairs.sum() >= 20:
            out[c] = (int(pairs.sum()), float(np.median(rel[pairs])))
    return float(filled.mean()), out


def scan_arguments(description: str, argv: list[str] | None) -> tuple[argparse.Namespace, ClassSet]:
    """(arguments, class set) of a tool that reads labelled scans as ``pcseg eval`` does."""
    from pcseg.classes import get_class_set

    p = argparse.ArgumentParser(description=description)
    p.add_argument("scans", nargs="+")
    p.add_argument("--labels", help="label file of a single scan (default: as pcseg.io.files.read_cloud finds)")
    p.add_argument("--label-format", choices=["index", "learning", "raw"])
    p.add_argument("--classes", default="semantickitti")
    p.add_argument("--sensor-origin", nargs=3, type=float, metavar=("X", "Y", "Z"))
    args = p.parse_args(argv)
    if args.labels and len(args.scans) > 1:
        p.error("--labels names the labels of one scan")
    return args, get_class_set(args.classes)


def labelled_scans(args: argparse.Namespace, classes: ClassSet,
                   prog: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(path, coord in the sensor frame, label) per scan of ``scan_arguments``; a scan not centred on its
    sensor is moved by ``--sensor-origin`` or by the origin estimated from the data (said in one line).
    Raises ValueError with one line naming the scan when it cannot be read or has no labels."""
    from pcseg.errors import PcsegError
    from pcseg.io.files import read_cloud
    from pcseg.range.origin import estimate_sensor_origin, looks_sensor_centred

    for path in args.scans:
        try:
            cloud = read_cloud(path, labels=args.labels, class_set=classes, label_format=args.label_format)
        except (PcsegError, OSError, ValueError) as e:
            raise ValueError(f"{prog}: {e if path in str(e) else f'{path}: {e}'}") from None
        if cloud.label is None:
            raise ValueError(f"{prog}: {path}: no labels found (give --labels)")
        coord = np.asarray(cloud.coord, dtype=np.float64)
        if args.sensor_origin is not None:
            coord = coord - np.asarray(args.sensor_origin)
        elif not looks_sensor_centred(coord):
            origin = estimate_sensor_origin(coord)
            print(f"{prog}: {path}: not sensor-centred; origin estimated at {origin.round(2).tolist()}")
            coord = coord - origin
        yield path, coord, np.asarray(cloud.label)


def main(argv: list[str] | None = None) -> int:
    args, classes = scan_arguments(__doc__.split("\n\n")[0], argv)
    rows = []
    try:
        for path, coord, label in labelled_scans(args, classes, "scan_texture"):
            occupancy, per_class = texture(coord, label, classes.num_classes)
            rows.append((path, len(coord), occupancy, per_class))
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    shown = sorted({c for *_, pc in rows for c in pc})
    print("| scan | points | occupancy | " + " | ".join(classes.names[c] for c in shown) + " |")
    print("|---|---:|---:|" + "---:|" * len(shown))
    for name, n, occupancy, pc in rows:
        cells = [f"{1000 * pc[c][1]:.2f}" if c in pc else "" for c in shown]
        print(f"| {name} | {n:,} | {occupancy:.2f} | " + " | ".join(cells) + " |")
    print("(class columns: median |range difference| / range of adjacent pixels 5-20 m away, x 1000)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
