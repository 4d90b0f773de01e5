"""LAS/LAZ reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pcseg.io.files import read_cloud


def test_real_las_laz(realdata: Path) -> None:
    las = read_cloud(realdata / "laspy/simple.las")
    laz = read_cloud(realdata / "laspy/autzen_trim.laz")
    assert (len(las), len(laz)) == (1_065, 110_000)
    for cloud in (las, laz):
        assert cloud.label is None and set(np.unique(cloud.meta["classification"])) == {1, 2}
        assert 0 <= cloud.color.min() and cloud.color.max() <= 1 and cloud.intensity is not None
        # georeferenced coordinates (~637,000 ft) are stored relative to meta["origin"] to keep precision
        assert cloud.meta["origin"][0] > 6e5 and np.abs(cloud.coord).max() < 1e4
    import laspy
    ref = laspy.read(realdata / "laspy/simple.las")
    np.testing.assert_allclose(las.coord[:, 0] + las.meta["origin"][0], np.asarray(ref.x), atol=2e-3)
    np.testing.assert_array_equal(las.meta["classification"], np.asarray(ref.classification))
