"""Every reader, fed random bytes, truncations and corruptions of valid files, either raises PcsegError or
returns a valid Cloud (finite float32 coordinates, every attribute as long as coord) - never anything else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.files import read_cloud, read_labels, write_ply
from pcseg.io.s3dis import read_s3dis_room

# PCSEG_FUZZ_EXAMPLES=2000 for a longer hunt; 50 keeps the suite inside its time budget
SETTINGS = settings(max_examples=int(os.environ.get("PCSEG_FUZZ_EXAMPLES", "50")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_cloud(cloud: Cloud) -> None:
    assert isinstance(cloud, Cloud)
    n = len(cloud)
    assert cloud.coord.dtype == np.float32 and cloud.coord.shape == (n, 3)
    assert np.all(np.isfinite(cloud.coord))
    for name in ("color", "intensity", "normal", "label"):
        value = getattr(cloud, name)
        if value is not None:
            assert len(value) == n, name
    if cloud.color is not None:
        assert np.all((cloud.color >= 0) & (cloud.color <= 1))


def _samples(tmp: Path) -> dict[str, bytes]:
    """Small valid files of each kind, to truncate and corrupt."""
    import open3d as o3d

    rng = np.random.default_rng(0)
    cloud = Cloud(coord=rng.normal(size=(30, 3)), color=rng.uniform(size=(30, 3)), label=rng.integers(0, 13, 30))
    write_ply(tmp / "b.ply", cloud)
    write_ply(tmp / "a.ply", cloud, binary=False)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.coord.astype(np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(cloud.color.astype(np.float64))
    o3d.io.write_point_cloud(str(tmp / "c.pcd"), pcd, compressed=True)
    o3d.io.write_point_cloud(str(tmp / "t.pcd"), pcd, write_ascii=True)
    np.save(tmp / "x.npy", np.hstack([cloud.coord, cloud.color * 255, cloud.label[:, None]]))
    return {
        ".ply": (tmp / "b.ply").read_bytes(), ".ply_ascii": (tmp / "a.ply").read_bytes(),
        ".pcd": (tmp / "c.pcd").read_bytes(), ".pcd_ascii": (tmp / "t.pcd").read_bytes(),
        ".npy": (tmp / "x.npy").read_bytes(),
        ".bin": rng.normal(size=(30, 4)).astype(np.float32).tobytes(),
        ".label": rng.choice([0, 10, 40, 50, 70, 252], 30).astype(np.uint32).tobytes(),
        ".txt": "".join(f"{x:.3f} {y:.3f} {z:.3f} {r} {g} {b}\n" for (x, y, z), (r, g, b)
                        in zip(rng.uniform(-9, 9, (30, 3)), rng.integers(0, 256, (30, 3)))).encode(),
    }


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _samples(tmp_path_factory.mktemp("samples"))


def _mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    random_bytes = st.binary(max_size=400)
    truncated = st.integers(0, len(valid)).map(lambda k: valid[:k])
    flipped = st.lists(st.tuples(st.integers(0, max(len(valid) - 1, 0)), st.integers(0, 255)), min_size=1,
                       max_size=4).map(lambda edits: _edit(valid, edits))
    text_junk = st.text(alphabet="0123456789 .-+e\n\r\t\x00nax", max_size=300).map(str.encode)
    return st.one_of(random_bytes, truncated, flipped, text_junk)


def _edit(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        if pos < len(out):
            out[pos] = value
    return bytes(out)


def _check(reader: Callable[[], object], check: Callable[[object], None]) -> None:
    try:
        result = reader()
    except PcsegError as e:
        assert str(e) and "\n" not in str(e)
        return
    check(result)


def _fuzz_file(kind: str, ext: str) -> None:
    @SETTINGS
    @given(data=st.data())
    def run(samples: dict[str, bytes], tmp_path: Path, data: st.DataObject) -> None:
        content = data.draw(_mutations(samples[kind]))
        path = tmp_path / f"f{ext}"
        path.write_bytes(content)
        _check(lambda: read_cloud(path), _valid_cloud)

    return run


test_fuzz_ply_binary = _fuzz_file(".ply", ".ply")
test_fuzz_ply_ascii = _fuzz_file(".ply_ascii", ".ply")
test_fuzz_pcd_compressed = _fuzz_file(".pcd", ".pcd")
test_fuzz_pcd_ascii = _fuzz_file(".pcd_ascii", ".pcd")
test_fuzz_npy = _fuzz_file(".npy", ".npy")
test_fuzz_bin = _fuzz_file(".bin", ".bin")


@SETTINGS
@given(data=st.data())
def test_fuzz_label(samples: dict[str, bytes], tmp_path: Path, data: st.DataObject) -> None:
    path = tmp_path / "f.label"
    path.write_bytes(data.draw(_mutations(samples[".label"])))

    def check(labels: object) -> None:
        assert isinstance(labels, np.ndarray) and labels.dtype == np.int64
        assert np.all((labels >= -1) & (labels < 19))

    _check(lambda: read_labels(path), check)


@SETTINGS
@given(data=st.data())
def test_fuzz_s3dis_annotation(samples: dict[str, bytes], tmp_path: Path, data: st.DataObject) -> None:
    ann = tmp_path / "Area_1" / "office_1" / "Annotations"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "wall_1.txt").write_bytes(data.draw(_mutations(samples[".txt"])))

    def check(cloud: object) -> None:
        _valid_cloud(cloud)  # type: ignore[arg-type]
        assert isinstance(cloud.meta["repairs"], list)  # type: ignore[attr-defined]

    _check(lambda: read_s3dis_room(ann.parent), check)
