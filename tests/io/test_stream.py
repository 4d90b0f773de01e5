"""pcseg.io.stream: a cloud read in chunks is the cloud read_cloud reads whole."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.files import read_cloud, write_ply
from pcseg.io.stream import open_stream


def joined(stream) -> Cloud:
    parts = list(stream.chunks())
    firsts = [first for first, _ in parts]
    assert firsts == list(np.cumsum([0] + [len(c) for _, c in parts])[:-1])
    clouds = [c for _, c in parts]

    def cat(name):
        values = [getattr(c, name) for c in clouds]
        return None if values[0] is None else np.concatenate(values)

    return Cloud(cat("coord"), color=cat("color"), intensity=cat("intensity"), normal=cat("normal"),
                 label=cat("label"))


def assert_same(stream, whole: Cloud) -> None:
    got = joined(stream)
    assert stream.n == len(whole) == len(got)
    assert stream.dropped == whole.meta["dropped_nan"]
    assert stream.has_color == (whole.color is not None) and stream.has_label == (whole.label is not None)
    for name in ("coord", "color", "intensity", "normal", "label"):
        a, b = getattr(got, name), getattr(whole, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert a.dtype == b.dtype and np.array_equal(a, b), name
    np.testing.assert_array_equal(stream.coord_min, whole.coord.min(axis=0).astype(np.float64))
    np.testing.assert_array_equal(stream.coord_max, whole.coord.max(axis=0).astype(np.float64))
    if "origin" in whole.meta:
        np.testing.assert_array_equal(stream.origin, whole.meta["origin"])
    else:
        assert stream.origin is None


def columns_array(rng, n: int, columns: int, dtype) -> np.ndarray:
    arr = np.empty((n, columns), dtype=np.float64)
    arr[:, :3] = rng.uniform(-5, 5, (n, 3))
    if columns in (6, 7):
        arr[:, 3:6] = rng.integers(0, 256, (n, 3))
    if columns in (4, 5):
        arr[:, 3] = rng.uniform(0, 1, n)
    if columns in (5, 7):
        arr[:, -1] = rng.integers(0, 13, n)
    return arr.astype(dtype)


@pytest.mark.parametrize("columns", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("dtype", ["<f4", ">f8"])
def test_npy_chunks_equal_the_whole_read(tmp_path, columns, dtype):
    arr = columns_array(np.random.default_rng(columns), 1000, columns, dtype)
    arr[[3, 500], 1] = np.nan       # dropped with a count
    np.save(tmp_path / "a.npy", arr)
    stream = open_stream(tmp_path / "a.npy", chunk_rows=97)
    assert stream is not None and stream.dropped == 2
    assert_same(stream, read_cloud(tmp_path / "a.npy"))


def test_colour_scaling_and_recentring_match(tmp_path):
    rng = np.random.default_rng(0)
    arr = columns_array(rng, 500, 6, np.float64)
    arr[:, :3] += [4.5e5, 5.4e6, 100.0]            # georeferenced: stored relative to an origin
    arr[:, 3:6] = rng.integers(0, 65536, (500, 3))  # 16-bit colour as floats
    np.save(tmp_path / "geo.npy", arr)
    stream = open_stream(tmp_path / "geo.npy", chunk_rows=64)
    assert stream.origin is not None
    assert_same(stream, read_cloud(tmp_path / "geo.npy"))
    ints = columns_array(rng, 300, 6, np.float64).astype(np.uint16)
    ints[:, :3] = rng.integers(0, 100, (300, 3))
    np.save(tmp_path / "int.npy", ints)
    assert_same(open_stream(tmp_path / "int.npy", chunk_rows=50), read_cloud(tmp_path / "int.npy"))


def test_kitti_bin(tmp_path):
    scan = np.random.default_rng(1).normal(size=(777, 4)).astype("<f4")
    scan[:, 3] = np.abs(scan[:, 3]) / 4       # remission is 0..1 (a negative one is refused as another layout)
    scan[10, 0] = np.inf
    scan.tofile(tmp_path / "000001.bin")
    stream = open_stream(tmp_path / "000001.bin", chunk_rows=100)
    assert_same(stream, read_cloud(tmp_path / "000001.bin"))
    # with a .label beside it the scan is read whole (NaN points are an error there, not dropped)
    np.zeros(777, dtype="<u4").tofile(tmp_path / "000001.label")
    assert open_stream(tmp_path / "000001.bin") is None


def test_not_streamed(tmp_path):
    rec = np.zeros(10, dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4")])
    np.save(tmp_path / "structured.npy", rec)
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.zeros((10, 3), np.float32)))
    np.save(tmp_path / "small.npy", np.zeros((10, 3), np.float32))
    (tmp_path / "a.ply").write_text("ply\n")
    assert open_stream(tmp_path / "structured.npy") is None
    assert open_stream(tmp_path / "fortran.npy") is None
    assert open_stream(tmp_path / "a.ply") is None
    assert open_stream(tmp_path / "small.npy", min_rows=11) is None
    assert open_stream(tmp_path / "small.npy", min_rows=10) is not None


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p, np.full((5, 3), np.nan, np.float32)), "no points"),
    (lambda p: np.save(p, np.array([[0, 0, 0, np.nan, 0, 0]], np.float32)), "non-finite colour"),
    (lambda p: np.save(p, np.array([[0, 0, 0, 0.5, 1.5]], np.float32)), "not integers"),
    (lambda p: p.write_bytes(b""), "empty file"),
])
def test_errors_name_the_file(tmp_path, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(PcsegError, match=message) as err:
        open_stream(path)
    assert "bad.npy" in str(err.value)
    with pytest.raises(PcsegError, match=message):     # the whole read says the same
        read_cloud(path)


def test_truncated_files(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((100, 3), np.float32))
    data = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(data[:-7])
    with pytest.raises(PcsegError, match="t.npy"):
        open_stream(tmp_path / "t.npy")
    (tmp_path / "s.bin").write_bytes(b"\0" * 30)
    with pytest.raises(PcsegError, match="multiple of 16"):
        open_stream(tmp_path / "s.bin")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 60), columns=st.sampled_from([3, 4, 5, 6, 7]), chunk=st.integers(1, 25),
       nan_rows=st.lists(st.integers(0, 59), max_size=5), seed=st.integers(0, 2**16), scale=st.sampled_from([1, 1e6]))
def test_any_array_streams_like_the_whole_read(tmp_path, rows, columns, chunk, nan_rows, seed, scale):
    arr = columns_array(np.random.default_rng(seed), rows, columns, np.float64)
    arr[:, :3] *= scale
    for r in nan_rows:
        if r < rows:
            arr[r, 2] = np.nan
    np.save(tmp_path / "h.npy", arr)
    try:
        whole = read_cloud(tmp_path / "h.npy")
    except PcsegError as exc:
        with pytest.raises(PcsegError) as err:
            open_stream(tmp_path / "h.npy", chunk_rows=chunk)
        assert str(err.value) == str(exc)
        return
    assert_same(open_stream(tmp_path / "h.npy", chunk_rows=chunk), whole)


# ---------------------------------------------------------------------------------------------- binary PLY

PLY_NUMPY = {"char": "i1", "uchar": "u1", "short": "i2", "ushort": "u2", "int": "i4", "uint": "u4",
             "float": "f4", "double": "f8"}


def ply_file(path, fmt: str, props: list, before: bool = False, face: bool = False):
    """A PLY with a ``vertex`` element of ``props`` [(PLY type, name, values)], optionally after a ``camera``
    element of scalars and before a ``face`` element of lists."""
    order = {"binary_little_endian": "<", "binary_big_endian": ">"}[fmt]
    head = ["ply", f"format {fmt} 1.0", "comment by hand"]
    body = b""
    if before:
        head += ["element camera 2", "property float px", "property uchar flag"]
        camera = np.zeros(2, dtype=[("px", order + "f4"), ("flag", "u1")])
        camera["px"], camera["flag"] = [1.5, -2.0], [3, 4]
        body += camera.tobytes()
    n = len(props[0][2])
    head.append(f"element vertex {n}")
    head += [f"property {ptype} {name}" for ptype, name, _ in props]
    rec = np.empty(n, dtype=[(name, order + PLY_NUMPY[ptype]) for ptype, name, _ in props])
    for _, name, values in props:
        rec[name] = values
    body += rec.tobytes()
    if face:
        head += ["element face 2", "property list uchar int vertex_indices"]
        for tri in ([0, 1, 2], [2, 1, 0]):
            body += bytes([3]) + np.array(tri, dtype=order + "i4").tobytes()
    head.append("end_header")
    path.write_bytes(("\n".join(head) + "\n").encode("ascii") + body)
    return path


def full_cloud(rng, n: int) -> Cloud:
    coord = rng.uniform(-5, 5, (n, 3))
    coord[[3, n // 2], 1] = np.nan
    normal = rng.normal(size=(n, 3))
    return Cloud(coord, color=rng.uniform(0, 1, (n, 3)), intensity=rng.uniform(0, 1, n),
                 normal=normal / np.linalg.norm(normal, axis=1, keepdims=True), label=rng.integers(0, 13, n))


def test_write_ply_chunks_equal_the_whole_read(tmp_path):
    write_ply(tmp_path / "a.ply", full_cloud(np.random.default_rng(0), 1000))
    stream = open_stream(tmp_path / "a.ply", chunk_rows=97)
    assert stream is not None and stream.dropped == 2 and stream.has_color and stream.has_label
    assert stream.meta["format"] == "ply binary_little_endian"
    assert_same(stream, read_cloud(tmp_path / "a.ply"))


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian"])
@pytest.mark.parametrize("color", ["uchar", "ushort", "float"])
def test_ply_chunks_equal_the_whole_read(tmp_path, fmt, color):
    rng = np.random.default_rng(1)
    cloud = full_cloud(rng, 800)
    rgb = {"uchar": rng.integers(0, 256, (800, 3)), "ushort": rng.integers(0, 65536, (800, 3)),
           "float": cloud.color * 255.0}[color]       # floats above 1: divided by 255
    props = [("double", a, cloud.coord[:, i] + [4.5e5, 5.4e6, 100.0][i]) for i, a in enumerate("xyz")]
    props += [(color, c, rgb[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    props += [("float", c, cloud.normal[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
    props += [("ushort", "Intensity", rng.integers(0, 4000, 800)), ("float", "curvature", rng.uniform(size=800)),
              ("float", "scalar_label", cloud.label)]
    path = ply_file(tmp_path / "h.ply", fmt, props, before=True, face=True)
    stream = open_stream(path, chunk_rows=64)
    assert stream is not None and stream.origin is not None and stream.dropped == 2
    assert stream.meta["format"] == f"ply {fmt}"
    assert_same(stream, read_cloud(path))


def test_ply_float_colours_in_0_1_and_no_extras(tmp_path):
    rng = np.random.default_rng(2)
    props = [("float", a, rng.uniform(-1, 1, 300)) for a in "xyz"]
    props += [("float", c, rng.uniform(0, 1, 300)) for c in ("diffuse_red", "diffuse_green", "diffuse_blue")]
    path = ply_file(tmp_path / "f.ply", "binary_big_endian", props)
    stream = open_stream(path, chunk_rows=7)
    assert stream.color_scale == 1.0 and not stream.has_label
    assert_same(stream, read_cloud(path))
    path = ply_file(tmp_path / "xyz.ply", "binary_little_endian", props[:3], face=True)
    stream = open_stream(path, chunk_rows=50)
    assert not stream.has_color and not stream.has_label
    assert_same(stream, read_cloud(path))


def test_ply_not_streamed(tmp_path):
    cloud = full_cloud(np.random.default_rng(3), 50)
    write_ply(tmp_path / "ascii.ply", cloud, binary=False)
    assert open_stream(tmp_path / "ascii.ply") is None
    xyz = [("float", a, cloud.coord[:, i]) for i, a in enumerate("xyz")]
    path = ply_file(tmp_path / "list.ply", "binary_little_endian", xyz)
    data = path.read_bytes().replace(b"property float z\n", b"property float z\nproperty list uchar int ids\n")
    path.write_bytes(data)                           # a list property in the vertex element
    assert open_stream(path) is None
    with pytest.raises(PcsegError, match="list properties in the vertex element"):
        read_cloud(path)
    path = ply_file(tmp_path / "before.ply", "binary_little_endian", xyz)
    data = path.read_bytes().replace(b"element vertex", b"element face 0\nproperty list uchar int ids\n"
                                                        b"element vertex")
    path.write_bytes(data)                           # an element with lists before the vertices
    assert open_stream(path) is None
    with pytest.raises(PcsegError, match="list properties before the vertices"):
        read_cloud(path)
    (tmp_path / "nohead.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\n")
    assert open_stream(tmp_path / "nohead.ply") is None     # header errors: read_cloud reports them
    assert open_stream(ply_file(tmp_path / "small.ply", "binary_little_endian", xyz), min_rows=51) is None


def test_ply_errors_name_the_file(tmp_path):
    write_ply(tmp_path / "t.ply", full_cloud(np.random.default_rng(4), 100))
    data = (tmp_path / "t.ply").read_bytes()
    (tmp_path / "t.ply").write_bytes(data[:-5])
    with pytest.raises(PcsegError, match="t.ply") as err:
        open_stream(tmp_path / "t.ply")
    with pytest.raises(PcsegError) as whole:
        read_cloud(tmp_path / "t.ply")
    assert str(err.value) == str(whole.value) and "truncated" in str(err.value)
    nan = [("float", a, np.full(5, np.nan)) for a in "xyz"]
    ply_file(tmp_path / "nan.ply", "binary_big_endian", nan)
    with pytest.raises(PcsegError, match=r"nan.ply.*no points \(5 NaN/inf points dropped\)"):
        open_stream(tmp_path / "nan.ply")
    props = [("float", a, np.zeros(5)) for a in "abc"]
    ply_file(tmp_path / "noxyz.ply", "binary_little_endian", props)
    with pytest.raises(PcsegError, match="no x, y, z fields"):
        open_stream(tmp_path / "noxyz.ply")
    # a file that shrinks after opening: the chunk read names it
    write_ply(tmp_path / "s.ply", full_cloud(np.random.default_rng(5), 100))
    stream = open_stream(tmp_path / "s.ply", chunk_rows=30)
    (tmp_path / "s.ply").write_bytes((tmp_path / "s.ply").read_bytes()[:-100])
    with pytest.raises(PcsegError, match="s.ply.*file ends inside row"):
        list(stream.chunks())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 60), chunk=st.integers(1, 25), seed=st.integers(0, 2**16),
       fmt=st.sampled_from(["binary_little_endian", "binary_big_endian"]),
       coord_type=st.sampled_from(["float", "double", "short"]),
       color=st.sampled_from([None, "uchar", "ushort", "float", "double", "short"]),
       color_top=st.sampled_from([1.0, 255.0, 65535.0]), normal=st.booleans(),
       intensity=st.sampled_from([None, "float", "uchar"]), label=st.sampled_from([None, "int", "float", "uchar"]),
       nan_rows=st.lists(st.integers(0, 59), max_size=5), scale=st.sampled_from([1, 1e6]),
       bad=st.sampled_from([None, "color", "label", "both"]), before=st.booleans(), face=st.booleans())
def test_any_ply_streams_like_the_whole_read(tmp_path, rows, chunk, seed, fmt, coord_type, color, color_top,
                                             normal, intensity, label, nan_rows, scale, bad, before, face):
    rng = np.random.default_rng(seed)
    coord = rng.uniform(-5, 5, (rows, 3)) * scale
    if coord_type == "short":
        coord = np.round(rng.uniform(-300, 300, (rows, 3)))
    elif coord_type == "float":
        for r in nan_rows:
            if r < rows:
                coord[r, r % 3] = np.nan if r % 2 else np.inf
    props = [(coord_type, a, coord[:, i]) for i, a in enumerate("xyz")]
    if color is not None:
        top = {"uchar": 255, "ushort": 65535, "short": 32767}.get(color, color_top)
        rgb = rng.uniform(0, top, (rows, 3))
        if PLY_NUMPY[color][0] != "f":
            rgb = np.round(rgb)
        elif bad in ("color", "both"):
            rgb[rng.integers(rows), 1] = np.nan
        props += [(color, c, rgb[:, i]) for i, c in enumerate(("r", "g", "b"))]
    if normal:
        props += [("float", c, rng.normal(size=rows)) for c in ("normal_x", "normal_y", "normal_z")]
    if intensity is not None:
        props.append((intensity, "reflectance", rng.integers(0, 200, rows)))
    if label is not None:
        values = rng.integers(0, 13, rows).astype(np.float64)
        if label == "float" and bad in ("label", "both"):
            values[rng.integers(rows)] += 0.5
        props.append((label, "class", values))
    path = ply_file(tmp_path / "h.ply", fmt, props, before=before, face=face)
    try:
        whole = read_cloud(path)
    except PcsegError as exc:
        with pytest.raises(PcsegError) as err:
            open_stream(path, chunk_rows=chunk)
        assert str(err.value) == str(exc)
        return
    assert_same(open_stream(path, chunk_rows=chunk), whole)


def _write_las(path: Path, n: int, compress: bool = False) -> None:
    import laspy

    rng = np.random.default_rng(7)
    header = laspy.LasHeader(point_format=3, version="1.4")
    header.add_extra_dim(laspy.ExtraBytesParams(name="reflectance", type=np.float32))
    header.scales = np.array([0.001, 0.001, 0.001])
    header.offsets = np.array([500_000.0, 4_000_000.0, 0.0])
    las = laspy.LasData(header)
    las.x = 500_000 + rng.uniform(0, 50, n)
    las.y = 4_000_000 + rng.uniform(0, 50, n)
    las.z = rng.uniform(0, 10, n)
    las.red, las.green, las.blue = (rng.integers(0, 65536, n).astype(np.uint16) for _ in range(3))
    las.intensity = rng.integers(0, 4000, n).astype(np.uint16)
    las.classification = rng.integers(0, 10, n).astype(np.uint8)
    las.reflectance = rng.random(n).astype(np.float32)
    las.write(path, do_compress=compress)


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_stream_matches_read_cloud(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scan{suffix}"
    _write_las(path, 2500, compress=suffix == ".laz")
    whole = read_cloud(path)
    stream = open_stream(path, chunk_rows=700)
    assert stream is not None and stream.n == len(whole) == 2500
    parts = [chunk for _, chunk in stream.chunks()]
    assert len(parts) == 4
    for name in ("coord", "color", "intensity"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name))
    np.testing.assert_array_equal(stream.origin, whole.meta["origin"])
    np.testing.assert_array_equal(np.concatenate([p.meta["classification"] for p in parts]),
                                  whole.meta["classification"])
    np.testing.assert_array_equal(np.concatenate([p.meta["fields"]["reflectance"] for p in parts]),
                                  whole.meta["fields"]["reflectance"])
    assert open_stream(path, min_rows=2501) is None
    (tmp_path / "bad.las").write_bytes(b"LASF" + bytes(300))
    with pytest.raises(PcsegError, match="not a readable LAS/LAZ file"):
        open_stream(tmp_path / "bad.las")
