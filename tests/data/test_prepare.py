"""The prepare cache: counts, reruns, stale temp folders, SIGKILL + resume, the cache reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pcseg.classes import S3DIS
from pcseg.cli import main
from pcseg.data.prepare import prepare_s3dis
from pcseg.data.s3dis import S3DISCache
from pcseg.data.synth_s3dis import ALIGNED, synth_s3dis
from pcseg.errors import PcsegError
from pcseg.io.s3dis import read_s3dis_room


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    synth_s3dis(out, areas=[1, 5], rooms_per_area=2, points_per_room=4000, seed=3)
    return out


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_summary_counts_equal_raw_lines(raw, tmp_path):
    summary = prepare_s3dis(raw, tmp_path / "cache", workers=2, progress=False, verbose=False)
    lines: dict[str, int] = dict.fromkeys(S3DIS.names, 0)
    for f in (raw / ALIGNED).glob("Area_*/*/Annotations/*.txt"):
        lines[f.stem.rsplit("_", 1)[0]] += len(f.read_bytes().splitlines())
    assert summary["points"] == sum(lines.values())
    assert summary["class_points"] == lines
    assert summary["rooms"] == 4 and summary["areas"] == {"Area_1": 2, "Area_5": 2}
    assert summary["source"] == "raw" and summary["repairs"] == []
    assert json.loads((tmp_path / "cache" / "summary.json").read_text()) == summary
    # the cached arrays are exactly what the reader returns
    room = raw / ALIGNED / "Area_5" / "office_1"
    cloud = read_s3dis_room(room)
    cache = tmp_path / "cache" / "Area_5" / "office_1"
    np.testing.assert_array_equal(np.load(cache / "coord.npy"), cloud.coord)
    np.testing.assert_array_equal(np.load(cache / "color.npy"), cloud.color)
    np.testing.assert_array_equal(np.load(cache / "label.npy"), cloud.label)
    assert np.load(cache / "label.npy").dtype == np.int64 and np.load(cache / "coord.npy").dtype == np.float32
    info = json.loads((cache / "info.json").read_text())
    assert info["points"] == len(cloud) and info["source"] == str(room)


def test_rerun_skips_and_stale_temp_is_cleaned(raw, tmp_path):
    out = tmp_path / "cache"
    prepare_s3dis(raw, out, workers=1, progress=False, verbose=False)
    before = {p: p.stat().st_mtime_ns for p in out.glob("Area_*/*/*")}
    stale = out / "Area_1" / ".office_1.tmp-dead"
    stale.mkdir()
    (stale / "coord.npy").write_bytes(b"half")
    time.sleep(0.01)
    prepare_s3dis(raw, out, workers=1, progress=False, verbose=False)
    assert not stale.exists()
    assert {p: p.stat().st_mtime_ns for p in out.glob("Area_*/*/*")} == before


def test_sigkill_then_rerun_is_byte_identical(tmp_path):
    raw = tmp_path / "raw"
    synth_s3dis(raw, areas=[2], rooms_per_area=40, points_per_room=12000, seed=1)
    reference = tmp_path / "reference"
    prepare_s3dis(raw, reference, workers=1, progress=False, verbose=False)

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "pcseg", "prepare", "s3dis", str(raw), str(out),
                             "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while len(list(out.glob("Area_2/*/info.json"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "prepare finished before it could be killed"
    done = len(list(out.glob("Area_2/*/info.json")))
    assert 3 <= done < 40 and not (out / "summary.json").exists()
    # no room folder without info.json: a half room is only ever a hidden temp folder
    assert all((d / "info.json").is_file() for d in out.glob("Area_2/*") if not d.name.startswith("."))

    summary = prepare_s3dis(raw, out, workers=2, progress=False, verbose=False)
    assert summary["rooms"] == 40
    assert tree_bytes(out) == tree_bytes(reference)


def test_worker_error_names_the_file(raw, tmp_path):
    bad = tmp_path / "bad"
    synth_s3dis(bad, areas=[1], rooms_per_area=2, points_per_room=2000)
    (bad / ALIGNED / "Area_1" / "office_1" / "Annotations" / "wall_1.txt").write_text("1.0 2.0 3.0 4 5\n")
    with pytest.raises(PcsegError, match="wall_1.txt"):
        prepare_s3dis(bad, tmp_path / "out", workers=2, progress=False, verbose=False)
    # the bad room left no folder behind
    assert not (tmp_path / "out" / "Area_1" / "office_1").exists()


def test_cli_errors(tmp_path, capsys):
    assert main(["prepare", "s3dis", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["prepare", "s3dis", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "missing" in err[0] and "no S3DIS rooms" in err[1]


def test_pointnet_h5_source(tmp_path):
    pytest.importorskip("h5py")
    from pcseg.io.pointnet_h5 import read_pointnet_h5_rooms, write_pointnet_h5

    raw = tmp_path / "raw"
    synth_s3dis(raw, areas=[1], rooms_per_area=2, points_per_room=3000, seed=2)
    rooms = [("Area_1", d.name, read_s3dis_room(d)) for d in sorted((raw / ALIGNED / "Area_1").iterdir())]
    h5 = tmp_path / "indoor3d_sem_seg_hdf5_data"
    h5.mkdir()
    write_pointnet_h5(h5, rooms, num_point=512)
    expected = {room: len(cloud) for _, room, cloud in read_pointnet_h5_rooms(h5)}
    summary = prepare_s3dis(tmp_path, tmp_path / "cache", progress=False, verbose=False)   # finds the subfolder
    assert summary["source"] == "pointnet_h5" and summary["rooms"] == 2
    assert summary["points"] == sum(expected.values())
    refs = S3DISCache(tmp_path / "cache").rooms()
    assert {r.name: r.points for r in refs} == expected


def test_cache_reader(raw, tmp_path):
    out = tmp_path / "cache"
    prepare_s3dis(raw, out, workers=1, progress=False, verbose=False)
    cache = S3DISCache(out)
    refs = cache.rooms()
    assert [(r.area, r.name) for r in refs] == [(1, "conferenceRoom_1"), (1, "office_1"),
                                               (5, "conferenceRoom_1"), (5, "office_1")]
    assert [r.name for r in cache.rooms([5])] == ["conferenceRoom_1", "office_1"]
    assert cache.rooms([3]) == []
    cloud = cache.load(refs[0])
    assert len(cloud) == refs[0].points and cloud.meta["area"] == "Area_1"
    assert not cloud.coord.flags.writeable and not cloud.label.flags.writeable     # memory-mapped, not copied
    assert cache.load(refs[0], mmap=False).coord.flags.writeable
    assert cache.summary()["rooms"] == 4
    # a damaged array is named
    (refs[1].path / "label.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(PcsegError, match="label.npy"):
        cache.load(refs[1])
    with pytest.raises(PcsegError, match="pcseg prepare s3dis"):
        S3DISCache(tmp_path / "nope")
    with pytest.raises(PcsegError, match="not a prepared S3DIS cache"):
        S3DISCache(raw)
