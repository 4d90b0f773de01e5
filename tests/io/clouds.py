"""Clouds shared by the reader tests: a random cloud and an exact comparison."""

from __future__ import annotations

import numpy as np

from pcseg.io.cloud import Cloud


def random_cloud(n: int = 50, seed: int = 0, **parts: bool) -> Cloud:
    rng = np.random.default_rng(seed)
    return Cloud(coord=rng.normal(0, 10, (n, 3)),
                 color=rng.integers(0, 256, (n, 3)) / 255.0 if parts.get("color", True) else None,
                 intensity=rng.uniform(0, 1, n) if parts.get("intensity") else None,
                 normal=rng.normal(size=(n, 3)) if parts.get("normal") else None,
                 label=rng.integers(-1, 13, n) if parts.get("label", True) else None)


def assert_same_cloud(a: Cloud, b: Cloud) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.coord, b.coord)
    for name in ("color", "intensity", "normal", "label"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            np.testing.assert_array_equal(va, vb, err_msg=name)
