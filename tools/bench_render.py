"""Time the headless renderers (Open3D offscreen vs the numpy splatter) and the display downsampling.

Run: .venv/bin/python tools/bench_render.py [--sizes 100000 300000 1000000] [--image 1280 960]
Prints one row per cloud size; the clouds are random points on the faces of a 10 x 8 x 3 m box.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pcseg.classes import S3DIS
from pcseg.vis.commands import voxel_subsample
from pcseg.vis.render import fit_camera, point_size_px, render_panel


def box_surface(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts = rng.uniform([0, 0, 0], [10, 8, 3], (n, 3))
    face = rng.integers(0, 5, n)  # floor + 4 walls
    pts[face == 0, 2] = 0
    pts[face == 1, 0] = 0
    pts[face == 2, 0] = 10
    pts[face == 3, 1] = 0
    pts[face == 4, 1] = 8
    label = np.where(face == 0, S3DIS.index("floor"), S3DIS.index("wall"))
    return pts.astype(np.float32), label


def best_of(fn, repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    p.add_argument("--image", type=int, nargs=2, default=(1280, 960), metavar=("W", "H"))
    args = p.parse_args()
    size = tuple(args.image)
    render_panel(np.zeros((1, 3)), np.zeros((1, 3)), size, renderer="auto")  # renderer creation, not timed
    print(f"image {size[0]}x{size[1]}, oblique view; seconds, best of 2")
    print(f"{'points':>10} {'pt size':>8} {'open3d':>8} {'numpy':>8} {'voxel->250k':>12}")
    for n in args.sizes:
        coord, label = box_surface(n)
        colors = S3DIS.colorize(label)
        uv, _ = fit_camera(coord, size, "oblique").project(coord)
        psize = point_size_px(uv, size)
        try:
            t_o3d = f"{best_of(lambda: render_panel(coord, colors, size, 'oblique', 'open3d')):8.2f}"
        except Exception as exc:  # noqa: BLE001
            t_o3d = f"{'n/a':>8}"
            print(f"open3d failed: {exc}")
        t_np = best_of(lambda: render_panel(coord, colors, size, "oblique", "numpy"))
        t_vox = best_of(lambda: voxel_subsample(coord, 250_000))
        print(f"{n:>10,} {psize:>8.1f} {t_o3d} {t_np:>8.2f} {t_vox:>12.2f}")


if __name__ == "__main__":
    main()
