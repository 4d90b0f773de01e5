"""Fuzzing the command line: random argv (commands, flags, values, hostile files) through ``pcseg.cli.main``
in-process. Every run ends with exit status 0 or 2 (argparse's usage errors included) and never a traceback.

Not fuzzed: ``demo`` and ``synth`` (a valid draw would run them for real) and ``train`` with a valid config;
their argument checks are tested in their own modules.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pcseg.cli import main


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A folder of good and hostile inputs: wrong dtypes and shapes, lying headers, folders named like files."""
    d = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    np.save(d / "pts.npy", rng.random((64, 3)).astype(np.float32))
    np.save(d / "pts6.npy", rng.random((64, 6)).astype(np.float32))
    np.save(d / "one_d.npy", rng.random(64).astype(np.float32))
    np.save(d / "zero.npy", np.zeros((0, 3), np.float32))
    np.save(d / "wide.npy", rng.random((64, 100)).astype(np.float32))
    np.save(d / "fortran.npy", np.asfortranarray(rng.random((64, 4)).astype(np.float32)))
    np.save(d / "obj.npy", np.array([[1, 2, 3]] * 4, dtype=object), allow_pickle=True)
    np.save(d / "be.npy", rng.random((64, 3)).astype(">f8"))
    np.save(d / "str.npy", np.array([["a", "b", "c"]] * 4))
    np.save(d / "labels.npy", rng.integers(0, 13, 64))
    np.save(d / "learning.npy", rng.integers(0, 20, 64).astype(np.int32))
    np.save(d / "short.npy", np.zeros(10, np.int64))
    (d / "odd.label").write_bytes(bytes(7))
    np.zeros(64, np.uint32).tofile(d / "pts.label")
    (d / "scan.bin").write_bytes(rng.random((64, 4)).astype(np.float32).tobytes())
    (d / "sweep.pcd.bin").write_bytes(rng.random((64, 5)).astype(np.float32).tobytes())
    (d / "odd.bin").write_bytes(bytes(30))
    (d / "lie.ply").write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 99999999\nproperty float x\n"
                                b"property float y\nproperty float z\nend_header\n" + bytes(24))
    (d / "lie.pcd").write_bytes(b"VERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 9\n"
                                b"HEIGHT 9\nPOINTS 3\nDATA ascii\n1 2 3\n")
    (d / "bad.las").write_bytes(b"LASF" + bytes(300))
    (d / "bad.yaml").write_text("train: [1, 2\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "ckpt.pt").write_bytes(b"not a checkpoint")
    (d / "empty").write_bytes(b"")
    (d / "folder.npy").mkdir()
    (d / "a_file").write_text("x")
    return d


FILES = ["pts.npy", "pts6.npy", "one_d.npy", "zero.npy", "wide.npy", "fortran.npy", "obj.npy", "be.npy", "str.npy",
         "labels.npy", "learning.npy", "short.npy", "odd.label", "pts.label", "scan.bin", "sweep.pcd.bin", "odd.bin",
         "lie.ply", "lie.pcd", "bad.las", "bad.yaml", "list.yaml", "ckpt.pt", "empty", "folder.npy", "a_file",
         "missing.ply", "a_file/below.npy"]
VALUES = st.sampled_from(["0", "-1", "3", "5", "7", "1e9", "nan", "abc", "", "s3dis", "semantickitti", "learning",
                          "raw", "index", "top", "64", "32"])
FLAGS = {
    "segment": ["--checkpoint", "--out", "--tile-points", "--batch-size", "--point-dims"],
    "render": ["--labels", "--gt", "--classes", "--out", "--view", "--size", "--label-format", "--point-dims",
               "--side-by-side"],
    "view": ["--labels", "--gt", "--classes", "--label-format", "--point-dims"],
    "eval": ["--checkpoint", "--out"],
    "train": [],
    "prepare s3dis": ["--workers"],
}
OVERRIDES = st.sampled_from(["train.epochs=0", "train.batch_size=-1", "optim.lr=0", "nope=1", "train.epochs=x",
                             "=", "train.out=a_file", "data.root=missing"])


@st.composite
def argvs(draw, root: Path) -> list[str]:
    command = draw(st.sampled_from(sorted(FLAGS)))
    file = st.sampled_from(FILES).map(lambda name: str(root / name))
    argv = command.split()
    argv += draw(st.lists(file, min_size=0, max_size=2))
    for flag in draw(st.lists(st.sampled_from(FLAGS[command] + ["--bogus"]), max_size=4)) if FLAGS[command] else []:
        argv.append(flag)
        argv += draw(st.lists(st.one_of(file, VALUES), min_size=0, max_size=2))
    if command in ("train", "eval"):
        argv += draw(st.lists(OVERRIDES, max_size=2))
    if draw(st.booleans()):
        argv = draw(st.permutations(argv))
    return argv


def test_cli_fuzz_exits_0_or_2_without_traceback(hostile: Path) -> None:
    @settings(max_examples=120, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data) -> None:
        argv = data.draw(argvs(hostile))
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                status = main(argv)
        except SystemExit as exc:       # argparse: usage error (2) or --help (0)
            status = exc.code
        assert status in (0, 2), (argv, err.getvalue()[-500:])
        assert "Traceback" not in err.getvalue(), argv

    run()
