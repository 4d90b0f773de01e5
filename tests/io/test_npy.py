"""NPY clouds: column conventions and the structured round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud
from pcseg.io.npy import write_npy
from tests.io.clouds import assert_same_cloud, random_cloud


def test_npy_column_conventions(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    xyz = rng.normal(size=(10, 3))
    rgb = rng.integers(0, 256, (10, 3)).astype(np.float64)
    lab = rng.integers(0, 13, (10, 1)).astype(np.float64)
    inten = rng.uniform(size=(10, 1))
    cases = {3: xyz, 4: np.hstack([xyz, inten]), 5: np.hstack([xyz, inten, lab]), 6: np.hstack([xyz, rgb]),
             7: np.hstack([xyz, rgb, lab])}
    for c, arr in cases.items():
        np.save(tmp_path / f"c{c}.npy", arr)
        cloud = read_cloud(tmp_path / f"c{c}.npy")
        np.testing.assert_allclose(cloud.coord, xyz, atol=1e-6)
        assert (cloud.color is not None) == (c in (6, 7)) and (cloud.intensity is not None) == (c in (4, 5))
        if c in (6, 7):
            np.testing.assert_allclose(cloud.color, rgb / 255, atol=1e-6)
        if c in (5, 7):
            np.testing.assert_array_equal(cloud.label, lab[:, 0])
    np.save(tmp_path / "bad.npy", np.zeros((4, 8)))
    with pytest.raises(PcsegError, match=r"bad\.npy: expected an \(N, 3\.\.7\)"):
        read_cloud(tmp_path / "bad.npy")
    np.save(tmp_path / "frac.npy", np.hstack([xyz, inten, lab + 0.5]))
    with pytest.raises(PcsegError, match="not integers"):
        read_cloud(tmp_path / "frac.npy")


def test_write_npy_round_trip(tmp_path: Path) -> None:
    cloud = random_cloud(40, intensity=True, normal=True)
    write_npy(tmp_path / "c.npy", cloud)
    assert_same_cloud(read_cloud(tmp_path / "c.npy"), cloud)
