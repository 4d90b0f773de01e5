import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from pcseg.classes import S3DIS, SEMANTICKITTI
from pcseg.cli import main
from pcseg.vis import commands
from pcseg.vis.palette import WRONG_COLOR
from tests.vis.scenes import pixels_near, read_png, room


@pytest.fixture
def room_files(tmp_path):
    coord, label = room(n_per_part=300)
    np.save(tmp_path / "room.npy", coord)
    np.save(tmp_path / "gt.npy", label)
    pred = label.copy()
    pred[label == S3DIS.index("chair")] = S3DIS.index("sofa")
    np.save(tmp_path / "pred.npy", pred)
    return tmp_path, label


def _one_line(capsys, *needles):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0]
    return err[0]


def test_render_labels_to_png_of_requested_size(room_files, capsys):
    folder, label = room_files
    out = folder / "out.png"
    assert main(["render", str(folder / "room.npy"), "--labels", str(folder / "pred.npy"), "--out", str(out),
                 "--size", "240", "160"]) == 0
    image = read_png(out)
    assert image.shape == (160, 240, 3)
    panel = image[30:, :150]
    for name in ("floor", "wall", "table", "sofa"):
        assert pixels_near(panel, S3DIS.colors[S3DIS.index(name)]) >= 10, name
    assert pixels_near(panel, S3DIS.colors[S3DIS.index("chair")]) == 0  # predicted labels, not the truth
    assert "wrote" in capsys.readouterr().out


def test_render_side_by_side(room_files):
    folder, _ = room_files
    out = folder / "sbs.png"
    assert main(["render", str(folder / "room.npy"), "--labels", str(folder / "pred.npy"), "--gt",
                 str(folder / "gt.npy"), "--side-by-side", "--size", "480", "200", "--out", str(out)]) == 0
    image = read_png(out)
    assert image.shape == (200, 480, 3)
    assert pixels_near(image[30:150, 322:], WRONG_COLOR) > 10


@pytest.mark.parametrize("argv_tail, needle", [
    (["--labels", "short.npy"], "labels for"),
    (["--labels", "bad.npy"], "13"),
    (["--labels", "pred.npy", "--side-by-side"], "--side-by-side"),
    (["--gt", "nope.npy"], "nope.npy"),
])
def test_render_bad_input_is_one_line_exit_2_and_no_png(room_files, capsys, argv_tail, needle):
    folder, label = room_files
    np.save(folder / "short.npy", label[:-3])
    bad = label.copy()
    bad[5] = 13
    np.save(folder / "bad.npy", bad)
    argv_tail = [str(folder / a) if a.endswith(".npy") else a for a in argv_tail]
    out = folder / "out.png"
    assert main(["render", str(folder / "room.npy"), "--out", str(out), *argv_tail]) == 2
    _one_line(capsys, needle)
    assert not out.exists() and not list(folder.glob(".out.png*"))


def test_render_missing_input_exit_2(tmp_path, capsys):
    assert main(["render", str(tmp_path / "missing.ply"), "--out", str(tmp_path / "x.png")]) == 2
    _one_line(capsys, "missing.ply")


def test_render_cache_room_folder_uses_its_labels_as_ground_truth(tmp_path, capsys):
    coord, label = room(n_per_part=200)
    room_dir = tmp_path / "Area_1_office_1"
    room_dir.mkdir()
    np.save(room_dir / "coord.npy", coord)
    np.save(room_dir / "color.npy", np.full((len(coord), 3), 128, dtype=np.uint8))
    np.save(room_dir / "label.npy", label)
    out = tmp_path / "room.png"
    assert main(["render", str(room_dir), "--out", str(out), "--size", "200", "150", "--view", "top"]) == 0
    image = read_png(out)
    assert pixels_near(image, S3DIS.colors[S3DIS.index("chair")]) > 10
    assert pixels_near(image, (128, 128, 128), tol=0) < 5  # labels drawn, not the grey RGB


def test_render_range_image_strips(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.uniform(1, 40, (16, 128, 5)).astype(np.float32)
    image[:, :8] = -1  # empty pixels, as the range projection writes them
    gt = np.full((16, 128), SEMANTICKITTI.index("road"), dtype=np.int64)
    gt[:, :8] = -1
    pred = gt.copy()
    pred[:, 64:] = SEMANTICKITTI.index("car")
    np.save(tmp_path / "img.npy", image)
    np.save(tmp_path / "gt.npy", gt)
    np.save(tmp_path / "pred.npy", pred)
    out = tmp_path / "strips.png"
    assert main(["render", str(tmp_path / "img.npy"), "--labels", str(tmp_path / "pred.npy"), "--gt",
                 str(tmp_path / "gt.npy"), "--out", str(out)]) == 0
    pixels = read_png(out)
    road, car = SEMANTICKITTI.colors[SEMANTICKITTI.index("road")], SEMANTICKITTI.colors[SEMANTICKITTI.index("car")]
    assert pixels_near(pixels, road, tol=0) >= 2 * 16 * 56  # in the prediction and the ground truth strips
    assert pixels_near(pixels, car, tol=0) >= 16 * 64
    assert pixels_near(pixels, WRONG_COLOR, tol=0) >= 16 * 64
    np.save(tmp_path / "small.npy", gt[:8])
    assert main(["render", str(tmp_path / "img.npy"), "--labels", str(tmp_path / "small.npy"), "--out",
                 str(tmp_path / "x.png")]) == 2


@pytest.mark.parametrize("channels, names", [
    (5, ["range", "x", "y", "z", "remission"]),
    (8, ["range", "x", "y", "z", "remission", "nx", "ny", "nz"]),
    (9, ["range", "x", "y", "z", "remission", "nx", "ny", "nz", "roughness"]),
    (3, ["channel 0", "channel 1", "channel 2"])])
def test_range_image_strips_are_titled_by_channel(tmp_path, monkeypatch, channels, names):
    import pcseg.vis.render as render

    titles = []
    monkeypatch.setattr(render, "render_range_strips", lambda strips, out, legend=None: titles.extend(
        t for t, _ in strips))
    # (C, H, W), as pcseg.range.projection.make_image returns it
    np.save(tmp_path / "img.npy", np.random.default_rng(0).uniform(1, 40, (channels, 16, 128)).astype(np.float32))
    assert main(["render", str(tmp_path / "img.npy"), "--out", str(tmp_path / "strips.png")]) == 0
    assert titles == names


def test_range_image_strips_take_the_names_given(tmp_path, monkeypatch, capsys):
    import pcseg.vis.render as render

    titles = []
    monkeypatch.setattr(render, "render_range_strips", lambda strips, out, legend=None: titles.extend(
        t for t, _ in strips))
    names = ["range", "x", "y", "z", "remission", "nx", "ny", "nz", "above_ground"]
    np.save(tmp_path / "img.npy", np.random.default_rng(0).uniform(1, 40, (9, 16, 128)).astype(np.float32))
    assert main(["render", str(tmp_path / "img.npy"), "--out", str(tmp_path / "s.png"), "--channels", *names]) == 0
    assert titles == names
    capsys.readouterr()
    assert main(["render", str(tmp_path / "img.npy"), "--out", str(tmp_path / "t.png"), "--channels", "range"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "img.npy" in err[0] and "--channels names 1 channels, the image has 9" in err[0]
    assert not (tmp_path / "t.png").exists()
    np.save(tmp_path / "cloud.npy", np.zeros((100, 3), np.float32))        # a cloud has no channel strips
    assert main(["render", str(tmp_path / "cloud.npy"), "--out", str(tmp_path / "c.png"), "--channels", "x"]) == 2
    assert "cloud.npy" in capsys.readouterr().err


def test_written_ply_renders_in_palette_colours(tmp_path):
    files = pytest.importorskip("pcseg.io.files")
    from pcseg.io.cloud import Cloud

    coord, label = room(n_per_part=300)
    ply = tmp_path / "seg.ply"
    files.write_ply(ply, Cloud(coord, color=S3DIS.colorize(label), label=label))
    out = tmp_path / "seg.png"
    assert main(["render", str(ply), "--out", str(out), "--size", "240", "160"]) == 0
    panel = read_png(out)[30:, :150]
    for k in np.unique(label):
        assert pixels_near(panel, S3DIS.colors[k]) >= 10, S3DIS.names[k]


def test_large_clouds_are_downsampled_for_display(room_files, monkeypatch, capsys):
    folder, _ = room_files
    monkeypatch.setattr(commands, "RENDER_MAX_POINTS", 500)
    assert main(["render", str(folder / "room.npy"), "--labels", str(folder / "pred.npy"), "--out",
                 str(folder / "small.png"), "--size", "120", "90", "--view", "top"]) == 0
    _one_line(capsys, "of 1,500 points", "downsampled")


def test_voxel_subsample_keeps_spread_and_budget():
    coord, _ = room(n_per_part=2000)
    index = commands.voxel_subsample(coord, 1000)
    assert 500 < len(index) <= 1000 and len(np.unique(index)) == len(index)
    kept = coord[index]
    assert np.allclose(kept.min(axis=0), coord.min(axis=0), atol=0.3)
    assert np.allclose(kept.max(axis=0), coord.max(axis=0), atol=0.3)


def test_real_s3dis_room(realdata, tmp_path, capsys):
    pytest.importorskip("pcseg.io.s3dis")
    room_dir = realdata / "s3dis-kpconv-fixtures/Stanford3dDataset_v1.2_Aligned_Version/Area_3/hallway_3"
    out = tmp_path / "hallway.png"
    assert main(["render", str(room_dir), "--out", str(out), "--size", "200", "150"]) == 0
    image = read_png(out)
    for name in ("floor", "wall", "door", "clutter"):
        assert pixels_near(image[30:, :130], S3DIS.colors[S3DIS.index(name)]) >= 20, name
    assert "ceiling" in capsys.readouterr().err  # the note about the ceiling left out


def test_view_without_display_points_to_render(room_files, monkeypatch, capsys):
    folder, _ = room_files
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(folder / "room.npy"), "--labels", str(folder / "pred.npy")]) == 2
    _one_line(capsys, "display", "pcseg render")


@pytest.fixture
def xvfb_display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb not installed")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_view_window_switches_colours_under_xvfb(room_files, xvfb_display):
    folder, _ = room_files
    script = textwrap.dedent(f"""
        import numpy as np
        from pcseg.classes import S3DIS
        from pcseg.io.cloud import Cloud
        from pcseg.vis.view import LabelViewer
        coord = np.load({str(folder / 'room.npy')!r})
        pred, gt = np.load({str(folder / 'pred.npy')!r}), np.load({str(folder / 'gt.npy')!r})
        viewer = LabelViewer(Cloud(coord), S3DIS, pred, gt)
        viewer.open("test", 320, 240)
        def shot():
            viewer.vis.poll_events(); viewer.vis.update_renderer()
            img = np.asarray(viewer.vis.capture_screen_float_buffer(do_render=True))
            return (img * 255).round().astype(np.uint8).reshape(-1, 3)
        def has(img, rgb):
            return int(np.all(img == np.array(rgb, dtype=np.uint8), axis=1).sum())
        sofa, chair = S3DIS.colors[S3DIS.index("sofa")], S3DIS.colors[S3DIS.index("chair")]
        img = shot(); print("pred", has(img, sofa), has(img, chair))
        viewer.switch("ground truth"); img = shot(); print("gt", has(img, sofa), has(img, chair))
        viewer.switch("errors"); img = shot(); print("err", has(img, (230, 25, 25)), has(img, chair))
        viewer.close()
    """)
    env = dict(os.environ, DISPLAY=xvfb_display)
    env.pop("WAYLAND_DISPLAY", None)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 and "could not create a window" in res.stderr:
        pytest.skip("no OpenGL window under Xvfb here")
    assert res.returncode == 0, res.stderr[-2000:]
    counts = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in res.stdout.splitlines()
              if line.split() and line.split()[0] in ("pred", "gt", "err")}
    assert counts["pred"][0] > 20 and counts["pred"][1] == 0
    assert counts["gt"][0] == 0 and counts["gt"][1] > 20
    assert counts["err"][0] > 20 and counts["err"][1] == 0


def test_real_open3d_ml_scan_with_learning_id_labels(realdata, tmp_path, capsys):
    """Open3D-ML's demo scan stores SemanticKITTI learning ids 0..19 in .npy: read as what they are."""
    points = realdata / "semantickitti-open3d-ml/points/000700.npy"
    labels = realdata / "semantickitti-open3d-ml/labels/000700.npy"
    out = tmp_path / "scan.png"
    args = ["render", str(points), "--gt", str(labels), "--classes", "semantickitti", "--out", str(out),
            "--size", "160", "120"]
    assert main(args) == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--label-format learning" in err[0]
    assert main(args + ["--label-format", "learning"]) == 0
    assert out.stat().st_size > 1000
def test_render_reads_learning_ids_with_label_format(tmp_path, capsys):
    from pcseg.cli import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "pts.npy", rng.random((200, 3)).astype(np.float32))
    np.save(tmp_path / "learning.npy", np.r_[np.arange(20), np.zeros(180, int)].astype(np.int32))
    argv = ["render", str(tmp_path / "pts.npy"), "--labels", str(tmp_path / "learning.npy"), "--classes",
            "semantickitti", "--size", "64", "48", "--out", str(tmp_path / "a.png")]
    assert main(argv) == 2
    assert "it would fit --label-format learning" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()
    assert main(argv + ["--label-format", "learning"]) == 0
    assert (tmp_path / "a.png").stat().st_size > 0


@pytest.mark.parametrize("size, side_by_side, status", [((64, 48), False, 0), ((32, 32), False, 0),
                                                         ((64, 48), True, 2), ((500, 33), True, 2),
                                                         ((300, 200), True, 0)])
def test_small_pictures_with_a_large_legend(tmp_path, capsys, size, side_by_side, status):
    from pcseg.cli import main

    np.save(tmp_path / "pts.npy", np.random.default_rng(1).random((100, 3)).astype(np.float32))
    np.save(tmp_path / "l.npy", np.r_[np.arange(19), np.zeros(81, int)])
    argv = ["render", str(tmp_path / "pts.npy"), "--labels", str(tmp_path / "l.npy"), "--classes", "semantickitti",
            "--size", *map(str, size), "--out", str(tmp_path / "a.png")]
    argv += ["--side-by-side", "--gt", str(tmp_path / "l.npy")] if side_by_side else []
    assert main(argv) == status
    assert (tmp_path / "a.png").exists() == (status == 0)
    if status:
        assert "--side-by-side needs at least" in capsys.readouterr().err
