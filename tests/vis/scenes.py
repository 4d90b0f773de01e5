"""Small labelled scenes shared by the vis tests (built in memory, no files)."""

from __future__ import annotations

import numpy as np

from pcseg.classes import S3DIS


def room(n_per_part: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 4 x 3 x 2.5 m room seen best from the -x,-y corner: floor, the two back walls (x = 4, y = 3), a
    table top and a chair block, each its own S3DIS class so all are visible in the oblique and top views.

    Shapes: -> coord (5 n, 3) float32, label (5 n,) int64."""
    rng = np.random.default_rng(seed)
    parts = [
        (S3DIS.index("floor"), [0, 0, 0], [4, 3, 0]),
        (S3DIS.index("wall"), [4, 0, 0], [4, 3, 2.5]),
        (S3DIS.index("wall"), [0, 3, 0], [4, 3, 2.5]),
        (S3DIS.index("table"), [1.0, 1.0, 0.75], [2.4, 1.8, 0.75]),
        (S3DIS.index("chair"), [2.8, 0.5, 0.0], [3.3, 1.0, 0.9]),
    ]
    coord = np.concatenate([rng.uniform(lo, hi, (n_per_part, 3)) for _, lo, hi in parts]).astype(np.float32)
    label = np.concatenate([np.full(n_per_part, k) for k, _, _ in parts]).astype(np.int64)
    return coord, label


def pixels_near(image: np.ndarray, rgb, tol: int = 3) -> int:
    """How many pixels of an (H, W, 3) uint8 image are within ``tol`` of ``rgb`` in every channel."""
    diff = np.abs(image.astype(np.int16) - np.asarray(rgb, dtype=np.int16))
    return int(np.all(diff <= tol, axis=-1).sum())


def read_png(path) -> np.ndarray:
    """(H, W, 3) uint8 pixels of a PNG."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")).copy()
