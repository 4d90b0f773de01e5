"""PLY reader and writers: round trips, Open3D as the independent second reader, bad headers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud
from pcseg.io.ply import write_ply
from tests.io.clouds import assert_same_cloud, random_cloud


@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path: Path, binary: bool) -> None:
    cloud = random_cloud(80, intensity=True, normal=True)
    write_ply(tmp_path / "c.ply", cloud, binary=binary)
    assert_same_cloud(read_cloud(tmp_path / "c.ply"), cloud)


def test_open3d_reads_our_ply(tmp_path: Path) -> None:
    import open3d as o3d

    cloud = random_cloud(200, label=False)
    write_ply(tmp_path / "c.ply", cloud)
    ref = o3d.io.read_point_cloud(str(tmp_path / "c.ply"))
    assert len(ref.points) == len(cloud)
    np.testing.assert_allclose(np.asarray(ref.points), cloud.coord, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ref.colors), cloud.color, atol=1e-6)


def test_read_ply_written_by_open3d_binary_and_ascii(tmp_path: Path) -> None:
    import open3d as o3d

    cloud = random_cloud(60, label=False, normal=True)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.coord.astype(np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(cloud.color.astype(np.float64))
    pcd.normals = o3d.utility.Vector3dVector(cloud.normal.astype(np.float64))
    for ascii_ in (False, True):
        o3d.io.write_point_cloud(str(tmp_path / "o.ply"), pcd, write_ascii=ascii_)
        got = read_cloud(tmp_path / "o.ply")
        tol = 1e-5 if ascii_ else 0  # Open3D's ascii PLY prints 6 significant digits
        np.testing.assert_allclose(got.coord, cloud.coord, rtol=tol, atol=1e-6)
        np.testing.assert_allclose(got.color, cloud.color, atol=1e-6)
        np.testing.assert_allclose(got.normal, cloud.normal, rtol=tol, atol=1e-5 if ascii_ else 1e-7)


def test_ply_big_endian_faces_and_scalar_fields(tmp_path: Path) -> None:
    dtype = np.dtype([("x", ">f8"), ("y", ">f8"), ("z", ">f8"), ("red", ">f4"), ("green", ">f4"), ("blue", ">f4"),
                      ("scalar_Label", ">u2"), ("curvature", ">f4")])
    rec = np.zeros(3, dtype)
    rec["x"], rec["y"], rec["z"] = [1, 2, 3], [4, 5, 6], [7, 8, np.nan]
    rec["red"], rec["green"], rec["blue"] = [0.5, 1, 0], [0, 0, 0], [1, 1, 1]
    rec["scalar_Label"], rec["curvature"] = [4, 5, 6], [0.1, 0.2, 0.3]
    header = ("ply\nformat binary_big_endian 1.0\ncomment test\nelement vertex 3\n"
              + "".join(f"property {t} {n}\n" for n, t in [("x", "double"), ("y", "double"), ("z", "double"),
                                                          ("red", "float"), ("green", "float"), ("blue", "float"),
                                                          ("scalar_Label", "ushort"), ("curvature", "float")])
              + "element face 1\nproperty list uchar int vertex_indices\nend_header\n")
    (tmp_path / "be.ply").write_bytes(header.encode() + rec.tobytes() + b"\x03" + np.array([0, 1, 2], ">i4").tobytes())
    cloud = read_cloud(tmp_path / "be.ply")
    assert len(cloud) == 2 and cloud.meta["dropped_nan"] == 1
    np.testing.assert_array_equal(cloud.coord, [[1, 4, 7], [2, 5, 8]])
    np.testing.assert_array_equal(cloud.color, [[0.5, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(cloud.label, [4, 5])
    np.testing.assert_allclose(cloud.meta["fields"]["curvature"], [0.1, 0.2])


def test_ascii_ply_exponents_and_trailing_faces(tmp_path: Path) -> None:
    text = ("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\nproperty float z\n"
            "property uchar red\nproperty uchar green\nproperty uchar blue\n"
            "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
            "1.5e2 -2 3 255 0 10\r\n4 5 6 0 255 20\r\n3 0 1 1\r\n")
    (tmp_path / "a.ply").write_text(text)
    cloud = read_cloud(tmp_path / "a.ply")
    np.testing.assert_array_equal(cloud.coord, [[150, -2, 3], [4, 5, 6]])
    np.testing.assert_allclose(cloud.color * 255, [[255, 0, 10], [0, 255, 20]], atol=1e-4)


@pytest.mark.parametrize("body, problem", [
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float a\nend_header\n1\n", "no x, y, z fields"),
    (b"ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
     b"end_header\n1 2 3\n", "truncated"),
    (b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
     b"property float z\nend_header\n" + bytes(20), "truncated: 3 vertices need 36 bytes, 20 present"),
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n", "header not terminated"),
    (b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nproperty float z\n"
     b"end_header\n1 2 x\n", "vertex line 1: not a number"),
    (b"PLY?", "not a PLY file"),
])
def test_bad_ply(tmp_path: Path, body: bytes, problem: str) -> None:
    (tmp_path / "bad.ply").write_bytes(body)
    with pytest.raises(PcsegError, match="bad.ply: " + problem.replace("(", r"\(").replace(")", r"\)")):
        read_cloud(tmp_path / "bad.ply")


def test_write_ply_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "c.ply"
    write_ply(target, random_cloud(5))
    before = target.read_bytes()
    broken = random_cloud(5)
    broken.label = np.array(["a"] * 5, dtype=object)  # fails while writing the records
    with pytest.raises((ValueError, TypeError)):
        write_ply(target, broken)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.ply"]
