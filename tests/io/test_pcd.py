"""PCD reader: real sample, Open3D-written files, ascii / binary / LZF-compressed bodies, truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud
from pcseg.io.pcd import lzf_decompress
from tests.io.clouds import random_cloud

PCD = "pcl/table_scene_mug_stereo_textured.pcd"


def test_real_pcd_matches_open3d(realdata: Path) -> None:
    import open3d as o3d

    cloud = read_cloud(realdata / PCD)
    ref = o3d.io.read_point_cloud(str(realdata / PCD), remove_nan_points=True, remove_infinite_points=True)
    assert len(cloud) == len(ref.points) == 209_280
    assert cloud.meta["dropped_nan"] == 307_200 - 209_280
    assert (cloud.meta["width"], cloud.meta["height"]) == (640, 480)
    np.testing.assert_allclose(cloud.coord, np.asarray(ref.points), atol=1e-6)
    np.testing.assert_allclose(cloud.color, np.asarray(ref.colors), atol=1e-6)


def _pcd(fields: str, types: str, sizes: str, n: int, data: str) -> bytes:
    return (f"# .PCD v0.7\nVERSION 0.7\nFIELDS {fields}\nSIZE {sizes}\nTYPE {types}\n"
            f"COUNT {' '.join('1' for _ in fields.split())}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
            f"POINTS {n}\nDATA {data}\n").encode()


@pytest.mark.parametrize("compressed", [False, True])
def test_pcd_written_by_open3d(tmp_path: Path, compressed: bool) -> None:
    import open3d as o3d

    cloud = random_cloud(500, seed=3, label=False)
    coord = cloud.coord.copy()
    coord[7] = np.nan
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(coord.astype(np.float64)))
    pcd.colors = o3d.utility.Vector3dVector(cloud.color.astype(np.float64))
    o3d.io.write_point_cloud(str(tmp_path / "o.pcd"), pcd, write_ascii=False, compressed=compressed)
    got = read_cloud(tmp_path / "o.pcd")
    keep = np.ones(500, bool)
    keep[7] = False
    assert got.meta["dropped_nan"] == 1 and len(got) == 499
    np.testing.assert_allclose(got.coord, cloud.coord[keep], atol=1e-5)
    np.testing.assert_allclose(got.color, cloud.color[keep], atol=1e-6)


def test_pcd_ascii_with_nan_packed_rgb_intensity_label(tmp_path: Path) -> None:
    rgb = np.array([(10 << 16) | (20 << 8) | 30, (255 << 16) | 7], dtype=np.uint32)
    as_float = rgb.view(np.float32)
    body = (_pcd("x y z rgb intensity label", "F F F F F U", "4 4 4 4 4 4", 3, "ascii")
            + f"1 2 3 {as_float[0]:.9g} 0.5 4\nnan nan nan 0 0 0\n4 5 6 {as_float[1]:.9g} 0.25 9\n".encode())
    (tmp_path / "a.pcd").write_bytes(body)
    cloud = read_cloud(tmp_path / "a.pcd")
    assert len(cloud) == 2 and cloud.meta["dropped_nan"] == 1
    np.testing.assert_allclose(cloud.color * 255, [[10, 20, 30], [255, 0, 7]], atol=1e-4)
    np.testing.assert_array_equal(cloud.intensity, [0.5, 0.25])
    np.testing.assert_array_equal(cloud.label, [4, 9])


def test_pcd_binary_and_truncation(tmp_path: Path) -> None:
    rec = np.array([(1, 2, 3, 7), (4, 5, 6, 8)], dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("label", "<u4")])
    good = _pcd("x y z label", "F F F U", "4 4 4 4", 2, "binary") + rec.tobytes()
    (tmp_path / "b.pcd").write_bytes(good)
    cloud = read_cloud(tmp_path / "b.pcd")
    np.testing.assert_array_equal(cloud.coord, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(cloud.label, [7, 8])
    (tmp_path / "b.pcd").write_bytes(good[:-3])
    with pytest.raises(PcsegError, match=r"b\.pcd: truncated"):
        read_cloud(tmp_path / "b.pcd")


def test_truncated_real_compressed_pcd(realdata: Path, tmp_path: Path) -> None:
    data = (realdata / PCD).read_bytes()
    start = data.index(b"DATA binary_compressed\n") + 23
    end = start + 8 + int(np.frombuffer(data, "<u4", 1, start)[0])  # PCL pads the file after the block
    assert end < len(data)
    for cut in (end - 1, len(data) // 2, start + 4, 120):
        (tmp_path / "t.pcd").write_bytes(data[:cut])
        with pytest.raises(PcsegError, match=r"t\.pcd: (truncated|header not terminated)"):
            read_cloud(tmp_path / "t.pcd")


def test_lzf_literals_backrefs_and_corruption() -> None:
    # literal run "abc" (ctrl 2), then a back reference of length 6 at distance 3 (ctrl (6-2)<<5, offset 2)
    stream = bytes([2]) + b"abc" + bytes([(4 << 5) | 0, 2])
    assert lzf_decompress(stream, 9).tobytes() == b"abcabcabc"
    # long match: length field 7 + extra byte 10 -> 7 + 10 + 2 = 19 bytes of "a"
    stream = bytes([0]) + b"a" + bytes([7 << 5, 10, 0])
    assert lzf_decompress(stream, 20).tobytes() == b"a" * 20
    assert lzf_decompress(bytes([(4 << 5), 5]), 6) is None  # reference before the start
    assert lzf_decompress(bytes([5]) + b"ab", 6) is None  # literal run past the end of input
    assert lzf_decompress(bytes([2]) + b"abc", 4) is None  # wrong output size
