"""Generic readers/writers: real samples, round trips, Open3D as the independent second reader, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import SEMANTICKITTI, kitti_raw_to_class
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.files import (lzf_decompress, read_cloud, read_labels, write_labels, write_npy, write_ply)

PCD = "pcl/table_scene_mug_stereo_textured.pcd"
MMDET = "mmdetection3d/tests/data/semantickitti/sequences/00"


def _cloud(n: int = 50, seed: int = 0, **parts: bool) -> Cloud:
    rng = np.random.default_rng(seed)
    return Cloud(coord=rng.normal(0, 10, (n, 3)),
                 color=rng.integers(0, 256, (n, 3)) / 255.0 if parts.get("color", True) else None,
                 intensity=rng.uniform(0, 1, n) if parts.get("intensity") else None,
                 normal=rng.normal(size=(n, 3)) if parts.get("normal") else None,
                 label=rng.integers(-1, 13, n) if parts.get("label", True) else None)


def _assert_same(a: Cloud, b: Cloud) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.coord, b.coord)
    for name in ("color", "intensity", "normal", "label"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None), name
        if va is not None:
            np.testing.assert_array_equal(va, vb, err_msg=name)


# ---------------------------------------------------------------------------------------------- real data

def test_real_pcd_matches_open3d(realdata: Path) -> None:
    import open3d as o3d

    cloud = read_cloud(realdata / PCD)
    ref = o3d.io.read_point_cloud(str(realdata / PCD), remove_nan_points=True, remove_infinite_points=True)
    assert len(cloud) == len(ref.points) == 209_280
    assert cloud.meta["dropped_nan"] == 307_200 - 209_280
    assert (cloud.meta["width"], cloud.meta["height"]) == (640, 480)
    np.testing.assert_allclose(cloud.coord, np.asarray(ref.points), atol=1e-6)
    np.testing.assert_allclose(cloud.color, np.asarray(ref.colors), atol=1e-6)


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


def test_real_kitti_bin(realdata: Path) -> None:
    cloud = read_cloud(realdata / "torch-points3d/KITTI/000000.bin")
    assert len(cloud) == 123_389 and cloud.label is None
    raw = np.fromfile(realdata / "torch-points3d/KITTI/000000.bin", dtype=np.float32).reshape(-1, 4)
    np.testing.assert_array_equal(cloud.intensity, raw[:, 3])


def test_real_semantickitti_pair_finds_labels(realdata: Path) -> None:
    scan = realdata / MMDET / "velodyne/000000.bin"
    cloud = read_cloud(scan)  # labels auto-found at ../labels/000000.label
    assert len(cloud) == 50
    raw = cloud.meta["raw_label"]
    assert set(np.unique(raw)) == {0, 50, 52, 70, 71, 80}
    np.testing.assert_array_equal(cloud.label, kitti_raw_to_class(raw))
    # building (50) -> class 12, vegetation (70) -> 14, unlabeled (0) and other-structure (52) -> ignore
    assert set(cloud.label[raw == 50]) == {SEMANTICKITTI.index("building")}
    assert set(cloud.label[raw == 70]) == {SEMANTICKITTI.index("vegetation")}
    assert set(cloud.label[(raw == 0) | (raw == 52)]) == {-1}
    np.testing.assert_array_equal(read_labels(realdata / MMDET / "labels/000000.label"), cloud.label)


def test_real_open3d_ml_pair(realdata: Path, tmp_path: Path) -> None:
    points = realdata / "semantickitti-open3d-ml/points/000700.npy"
    cloud = read_cloud(points)
    assert len(cloud) == 85_962 and cloud.meta["columns"] == "xyz"
    learning = np.load(realdata / "semantickitti-open3d-ml/labels/000700.npy").reshape(-1)
    labels = learning.astype(np.int64) - 1  # learning id 0 (unlabeled) -> IGNORE
    for name in ("000700.label", "000700.npy"):
        write_labels(tmp_path / name, labels, SEMANTICKITTI)
        again = read_cloud(points, labels=tmp_path / name, class_set=SEMANTICKITTI)
        np.testing.assert_array_equal(again.label, labels)


# ------------------------------------------------------------------------------------------------- PLY

@pytest.mark.parametrize("binary", [True, False])
def test_ply_round_trip(tmp_path: Path, binary: bool) -> None:
    cloud = _cloud(80, intensity=True, normal=True)
    write_ply(tmp_path / "c.ply", cloud, binary=binary)
    _assert_same(read_cloud(tmp_path / "c.ply"), cloud)


def test_open3d_reads_our_ply(tmp_path: Path) -> None:
    import open3d as o3d

    cloud = _cloud(200, label=False)
    write_ply(tmp_path / "c.ply", cloud)
    ref = o3d.io.read_point_cloud(str(tmp_path / "c.ply"))
    assert len(ref.points) == len(cloud)
    np.testing.assert_allclose(np.asarray(ref.points), cloud.coord, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ref.colors), cloud.color, atol=1e-6)


def test_read_ply_written_by_open3d_binary_and_ascii(tmp_path: Path) -> None:
    import open3d as o3d

    cloud = _cloud(60, label=False, normal=True)
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


# ------------------------------------------------------------------------------------------------- PCD

def _pcd(fields: str, types: str, sizes: str, n: int, data: str) -> bytes:
    return (f"# .PCD v0.7\nVERSION 0.7\nFIELDS {fields}\nSIZE {sizes}\nTYPE {types}\n"
            f"COUNT {' '.join('1' for _ in fields.split())}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
            f"POINTS {n}\nDATA {data}\n").encode()


@pytest.mark.parametrize("compressed", [False, True])
def test_pcd_written_by_open3d(tmp_path: Path, compressed: bool) -> None:
    import open3d as o3d

    cloud = _cloud(500, seed=3, label=False)
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


# ------------------------------------------------------------------------------------------ NPY, KITTI bin

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
    cloud = _cloud(40, intensity=True, normal=True)
    write_npy(tmp_path / "c.npy", cloud)
    _assert_same(read_cloud(tmp_path / "c.npy"), cloud)


def test_kitti_bin_labels_and_errors(tmp_path: Path) -> None:
    scan = np.arange(40, dtype=np.float32).reshape(10, 4)
    scan.tofile(tmp_path / "000001.bin")
    raw = np.array([10, 40, 0, 50 | (3 << 16), 70, 72, 80, 81, 99, 252], dtype=np.uint32)
    raw.tofile(tmp_path / "000001.label")  # beside the scan
    cloud = read_cloud(tmp_path / "000001.bin")
    np.testing.assert_array_equal(cloud.meta["raw_label"], raw & 0xFFFF)  # instance bits dropped
    np.testing.assert_array_equal(cloud.label, [0, 8, -1, 12, 14, 16, 17, 18, -1, 0])
    raw[:9].tofile(tmp_path / "short.label")
    with pytest.raises(PcsegError, match=r"short\.label: 9 labels for 10 points in 000001\.bin"):
        read_cloud(tmp_path / "000001.bin", labels=tmp_path / "short.label")
    (tmp_path / "odd.bin").write_bytes(bytes(20))
    with pytest.raises(PcsegError, match=r"odd\.bin: size 20 is not a multiple of 16"):
        read_cloud(tmp_path / "odd.bin")


def test_nan_points_dropped_or_refused(tmp_path: Path) -> None:
    scan = np.ones((5, 4), dtype=np.float32)
    scan[2, 1] = np.inf
    scan.tofile(tmp_path / "s.bin")
    cloud = read_cloud(tmp_path / "s.bin")
    assert len(cloud) == 4 and cloud.meta["dropped_nan"] == 1
    np.save(tmp_path / "s_labels.npy", np.zeros(5, dtype=np.int64))
    with pytest.raises(PcsegError, match=r"s\.bin: 1 points have NaN/inf coordinates"):
        read_cloud(tmp_path / "s.bin", labels=tmp_path / "s_labels.npy")


def test_labels_npy_and_write_labels(tmp_path: Path) -> None:
    labels = np.array([-1, 0, 5, 18])
    write_labels(tmp_path / "l.label", labels, SEMANTICKITTI)
    raw = np.fromfile(tmp_path / "l.label", dtype=np.uint32)
    np.testing.assert_array_equal(raw, [0, 10, 30, 81])  # learning ids 0, 1, 6, 19
    np.testing.assert_array_equal(read_labels(tmp_path / "l.label"), labels)
    write_labels(tmp_path / "l.npy", labels)
    assert np.load(tmp_path / "l.npy").dtype == np.int64
    np.testing.assert_array_equal(read_labels(tmp_path / "l.npy", SEMANTICKITTI), labels)
    np.save(tmp_path / "big.npy", np.array([0, 19]))
    with pytest.raises(PcsegError, match=r"big\.npy: label 19 at point 1 is outside -1\.\.18"):
        read_labels(tmp_path / "big.npy", SEMANTICKITTI)
    with pytest.raises(PcsegError, match="outside -1..18"):
        write_labels(tmp_path / "x.label", np.array([19]), SEMANTICKITTI)
    assert not (tmp_path / "x.label").exists()


def test_missing_empty_unknown(tmp_path: Path) -> None:
    with pytest.raises(PcsegError, match=r"nope\.ply: no such file"):
        read_cloud(tmp_path / "nope.ply")
    (tmp_path / "e.pcd").write_bytes(b"")
    with pytest.raises(PcsegError, match=r"e\.pcd: empty file"):
        read_cloud(tmp_path / "e.pcd")
    (tmp_path / "x.xyz").write_text("1 2 3\n")
    with pytest.raises(PcsegError, match=r"x\.xyz: unknown point-cloud file type '\.xyz'"):
        read_cloud(tmp_path / "x.xyz")
    (tmp_path / "bad.las").write_bytes(b"LASF" + bytes(100))
    with pytest.raises(PcsegError, match=r"bad\.las: not a readable LAS/LAZ file"):
        read_cloud(tmp_path / "bad.las")


def test_write_ply_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "c.ply"
    write_ply(target, _cloud(5))
    before = target.read_bytes()
    broken = _cloud(5)
    broken.label = np.array(["a"] * 5, dtype=object)  # fails while writing the records
    with pytest.raises((ValueError, TypeError)):
        write_ply(target, broken)
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.ply"]


# --- label conventions users bring ---------------------------------------------------------------------

def test_semantickitti_learning_ids_as_open3d_ml_stores_them(tmp_path):
    from pcseg.classes import SEMANTICKITTI
    from pcseg.io.files import read_labels

    path = tmp_path / "000700.npy"
    np.save(path, np.array([[0], [1], [19], [9]], dtype=np.int32))          # (N, 1) int32 learning ids
    assert read_labels(path, SEMANTICKITTI, "learning").tolist() == [-1, 0, 18, 8]
    with pytest.raises(PcsegError) as exc:                                  # read as class indices: refused
        read_labels(path, SEMANTICKITTI)
    msg = str(exc.value)
    assert "label 19 at point 2 is outside -1..18 (semantickitti class indices)" in msg
    assert "would fit: --classes semantickitti --label-format learning" in msg
    np.save(path, np.array([0, 20], dtype=np.int64))
    with pytest.raises(PcsegError, match="learning id 20 at point 1 is outside 0..19"):
        read_labels(path, SEMANTICKITTI, "learning")


def test_raw_semantickitti_ids_in_npy_and_format_mismatches(tmp_path):
    from pcseg.classes import S3DIS, SEMANTICKITTI
    from pcseg.io.files import read_labels

    path = tmp_path / "raw.npy"
    np.save(path, np.array([10, 40, 0, 81 | (7 << 16)], dtype=np.uint32))
    assert read_labels(path, SEMANTICKITTI, "raw").tolist() == [0, 8, -1, 18]
    with pytest.raises(PcsegError, match="raw labels are SemanticKITTI ids, not s3dis classes"):
        read_labels(path, S3DIS, "raw")
    s3dis_like = tmp_path / "s.npy"
    np.save(s3dis_like, np.array([0, 12, 15]))
    with pytest.raises(PcsegError, match=r"would fit: --classes semantickitti or "):
        read_labels(s3dis_like, S3DIS)
    with pytest.raises(PcsegError, match="--label-format"):
        read_labels(s3dis_like, S3DIS, "ids")


# --- headerless .bin layouts --------------------------------------------------------------------------

def _nuscenes_sweep(n: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-30, 30, (n, 3)).astype(np.float32)
    return np.column_stack([xyz, rng.uniform(0, 255, n), rng.integers(0, 32, n)]).astype(np.float32)


def test_nuscenes_pcd_bin_is_read_as_five_columns(tmp_path):
    sweep = _nuscenes_sweep()
    path = tmp_path / "n008-2018-08-01__LIDAR_TOP__1533151603547590.pcd.bin"
    sweep.tofile(path)
    cloud = read_cloud(path)
    assert len(cloud) == 400 and np.allclose(cloud.coord, sweep[:, :3])
    assert np.allclose(cloud.intensity, sweep[:, 3] / 255.0, atol=1e-6)
    assert np.array_equal(cloud.meta["fields"]["ring"], sweep[:, 4].astype(np.int16))


def test_a_five_column_sweep_read_as_kitti_is_refused_not_garbage(tmp_path):
    sweep = _nuscenes_sweep(400)       # 400 x 5 x 4 bytes = 8000: also a whole number of 16-byte records
    path = tmp_path / "sweep.bin"
    sweep.tofile(path)
    with pytest.raises(PcsegError, match=r"no plausible remission .* pass --point-dims N"):
        read_cloud(path)
    cloud = read_cloud(path, point_dims=5)
    assert np.allclose(cloud.coord, sweep[:, :3])


def test_point_dims_six_and_other_counts(tmp_path):
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.random((50, 3)), rng.integers(0, 256, (50, 3))]).astype(np.float32)
    path = tmp_path / "scene.bin"
    pts.tofile(path)
    cloud = read_cloud(path, point_dims=6)
    assert np.allclose(cloud.color, pts[:, 3:] / 255.0) and cloud.intensity is None
    seven = np.column_stack([pts, rng.random(50)]).astype(np.float32)
    seven.tofile(path)
    cloud = read_cloud(path, point_dims=7)
    assert np.allclose(cloud.meta["fields"]["column_7"], seven[:, 6])
    with pytest.raises(PcsegError, match=r"not a multiple of 24 bytes .*it would fit --point-dims"):
        read_cloud(path, point_dims=6)
    with pytest.raises(PcsegError, match="at least 3"):
        read_cloud(path, point_dims=2)
    with pytest.raises(PcsegError, match="headerless .bin files only"):
        np.save(tmp_path / "c.npy", pts[:, :3])
        read_cloud(tmp_path / "c.npy", point_dims=4)
