"""pcseg.io.stream: a cloud read in chunks is the cloud read_cloud reads whole."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.io.files import read_cloud
from pcseg.io.stream import open_stream


def joined(stream) -> Cloud:
    parts = list(stream.chunks())
    firsts = [first for first, _ in parts]
    assert firsts == list(np.cumsum([0] + [len(c) for _, c in parts])[:-1])
    clouds = [c for _, c in parts]

    def cat(name):
        values = [getattr(c, name) for c in clouds]
        return None if values[0] is None else np.concatenate(values)

    return Cloud(cat("coord"), color=cat("color"), intensity=cat("intensity"), label=cat("label"))


def assert_same(stream, whole: Cloud) -> None:
    got = joined(stream)
    assert stream.n == len(whole) == len(got)
    assert stream.dropped == whole.meta["dropped_nan"]
    for name in ("coord", "color", "intensity", "label"):
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
