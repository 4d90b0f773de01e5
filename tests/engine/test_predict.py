import numpy as np

from pcseg.classes import SEMANTICKITTI
from pcseg.cli import main
from pcseg.engine.predict import segment, write_outputs
from pcseg.io.cloud import Cloud
from pcseg.io.files import read_cloud, read_labels, write_ply


def test_segment_many_inputs_one_failing(trained, tiny_cache, tmp_path, capsys):
    ckpt = trained["a"] / "last.pt"
    room = sorted(p for p in (tiny_cache / "Area_5").iterdir() if not p.name.startswith("."))[0]
    raw_room = tiny_cache.parent / "raw" / "Stanford3dDataset_v1.2_Aligned_Version" / "Area_5" / room.name
    coord, color = np.load(room / "coord.npy"), np.load(room / "color.npy")
    write_ply(tmp_path / "scan.ply", Cloud(coord, color=color))
    (tmp_path / "broken.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 5\nend_header\n1 2\n")
    inputs = [tmp_path / "scan.ply", tmp_path / "broken.ply", room, raw_room]
    assert segment(inputs, ckpt, tmp_path / "out", show_progress=False) == 1
    err = capsys.readouterr().err
    assert "broken.ply" in err and err.count("pcseg: error") == 1
    out = tmp_path / "out"
    from_ply = np.load(out / "scan.npy")
    from_cache = np.load(out / f"{room.name}.npy")
    assert len(from_ply) == len(coord) and from_ply.dtype == np.int64
    # the same points through a file and through the cache folder get the same labels (colour is rounded
    # to 8 bits in the PLY, so allow a few flips)
    assert (from_ply == from_cache).mean() > 0.98
    # the raw room folder has the same points (in the reader's order) and a second file of that name
    assert len(np.load(out / f"{room.name}_2.npy")) == len(coord)
    coloured = read_cloud(out / "scan.ply")
    assert len(coloured) == len(coord) and np.array_equal(coloured.label, from_ply)


def test_segment_cli_exit_status(trained, tmp_path, capsys):
    ckpt = trained["a"] / "last.pt"
    (tmp_path / "bad.xyz").write_text("1 2 3\n")
    assert main(["segment", str(tmp_path / "bad.xyz"), "--checkpoint", str(ckpt), "--out", str(tmp_path / "o")]) == 2
    assert "bad.xyz" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "x.ply"), "--checkpoint", str(tmp_path / "nope.pt"),
                 "--out", str(tmp_path / "o")]) == 2


def test_semantickitti_labels_are_written_as_raw_ids(tmp_path):
    pred = np.array([0, 8, 18, 12])
    cloud = Cloud(np.random.default_rng(0).normal(size=(4, 3)))
    paths = write_outputs(tmp_path, "000000", cloud, pred, SEMANTICKITTI)
    assert paths[0].name == "000000.label"
    np.testing.assert_array_equal(np.fromfile(paths[0], dtype="<u4"), [10, 40, 81, 50])
    np.testing.assert_array_equal(read_labels(paths[0], SEMANTICKITTI), pred)


def test_segment_loads_the_model_once_for_many_inputs(trained, tmp_path, monkeypatch):
    import pcseg.engine.checkpoint as checkpoint

    loads = []
    real = checkpoint.load_checkpoint
    monkeypatch.setattr(checkpoint, "load_checkpoint", lambda *a, **k: loads.append(a) or real(*a, **k))
    rng = np.random.default_rng(0)
    inputs = []
    for i in range(5):
        path = tmp_path / f"{i:06d}.bin"
        np.column_stack([rng.uniform(0, 3, (300, 3)), rng.uniform(0, 1, 300)]).astype("<f4").tofile(path)
        inputs.append(path)
    assert segment(inputs, trained["a"] / "last.pt", tmp_path / "out", show_progress=False) == 0
    assert len(loads) == 1 and len(list((tmp_path / "out").glob("*.npy"))) == 5


def test_segment_batch_size_changes_memory_not_labels(trained, tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "room.npy", np.column_stack([rng.uniform(0, 3, (2000, 3)),
                                                    rng.uniform(0, 1, (2000, 3))]).astype(np.float32))
    args = ["segment", str(tmp_path / "room.npy"), "--checkpoint", str(trained["a"] / "last.pt")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--batch-size", "1"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "room.npy"), np.load(tmp_path / "b" / "room.npy"))
    assert main([*args, "--out", str(tmp_path / "c"), "--batch-size", "0"]) == 2
    assert "--batch-size must be >= 1" in capsys.readouterr().err


def test_segment_into_a_file_or_an_uncreatable_folder_is_one_line(trained, tmp_path, capsys):
    from pcseg.cli import main

    cloud = tmp_path / "c.npy"
    np.save(cloud, np.random.default_rng(0).random((300, 6), dtype=np.float32))
    blocker = tmp_path / "some_file"
    blocker.write_text("x")
    assert main(["segment", str(cloud), "--checkpoint", str(trained["a"]), "--out", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pcseg: error: {blocker}: exists and is not a folder")
    assert main(["segment", str(cloud), "--checkpoint", str(trained["a"]), "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pcseg: error: ") and "Traceback" not in err[0]
    assert blocker.read_text() == "x"
def test_segment_own_labels_of_another_class_set_and_absurd_extent(trained, tmp_path, capsys):
    ckpt = trained["a"] / "last.pt"
    rng = np.random.default_rng(0)
    scan = np.column_stack([rng.random((300, 4)), np.full(300, 99.0)]).astype(np.float32)   # xyz i label
    np.save(tmp_path / "raw_ids.npy", scan)
    np.save(tmp_path / "huge.npy", np.array([[1e38, 1e38, 0], [-1e38, -1e38, 0], [0, 0, 0]], np.float32))
    for tile in (2_000_000, 100):                       # whole and in tiles
        assert segment([tmp_path / "raw_ids.npy", tmp_path / "huge.npy"], ckpt, tmp_path / f"o{tile}",
                       show_progress=False, tile_points=tile) == 1
        err = capsys.readouterr().err
        assert "raw_ids.npy" in err and "not scored" in err
        assert "huge.npy: the cloud spans" in err and "Traceback" not in err
        assert len(np.load(tmp_path / f"o{tile}" / "raw_ids.npy")) == 300
        assert not list((tmp_path / f"o{tile}").glob("huge*"))


def test_ctrl_c_in_segment_exits_130_and_writes_no_output(tmp_path):
    """SIGINT while a large cloud is labelled tile by tile: exit 130, one line, no label or PLY file."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    from .conftest import REPO

    rng = np.random.default_rng(0)
    n = 600_000                                   # five tiles of 120k points: ~25 s of work here
    cloud = np.concatenate([rng.random((n, 3)) * [10, 8, 3], rng.integers(0, 256, (n, 3))], 1)
    np.save(tmp_path / "big.npy", cloud.astype(np.float32))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "pcseg", "segment", str(tmp_path / "big.npy"), "--model",
                             "indoor", "--out", str(out), "--tile-points", "120000"], cwd=REPO,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), stderr=subprocess.PIPE, text=True,
                            # as a terminal runs it: a shell that starts the tests in the background (`cmd &`
                            # without job control) leaves SIGINT ignored, the child inherits that, and Python
                            # then keeps it ignored, so Ctrl-C would never arrive
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while "tiles" not in "".join(err) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)                           # the model is loaded and the first tile is being labelled
    presses = 0
    while proc.poll() is None and presses < 3:        # a user presses again when the first is not seen
        proc.send_signal(signal.SIGINT)
        presses += 1
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    proc.wait(timeout=60)
    reader.join(timeout=10)
    text = "".join(err)
    assert proc.returncode == 130, f"{presses} SIGINTs: " + text[-2000:]
    assert text.rstrip().endswith("pcseg: interrupted")
    assert not out.exists() or list(out.iterdir()) == []


def test_segment_says_when_nan_points_were_dropped(trained, tmp_path, capsys):
    """A cloud with NaN/inf rows is labelled without them, and its line says so: the label file has fewer
    rows than the input, whole or in tiles."""
    ckpt = trained["a"] / "last.pt"
    rng = np.random.default_rng(0)
    cloud = np.column_stack([rng.random((400, 3)) * 3, rng.random((400, 3))]).astype(np.float32)
    cloud[[5, 77], 1] = [np.nan, np.inf]
    np.save(tmp_path / "holes.npy", cloud)
    for tile in (2_000_000, 150):                       # whole and in tiles
        assert segment([tmp_path / "holes.npy"], ckpt, tmp_path / f"o{tile}", show_progress=False,
                       tile_points=tile) == 0
        err = capsys.readouterr().err
        assert "holes.npy: 398 points" in err and "2 points with NaN/inf coordinates dropped" in err
        assert len(np.load(tmp_path / f"o{tile}" / "holes.npy")) == 398
