import subprocess
import sys

from pcseg.cli import main


def test_import_is_light():
    code = ("import sys, pcseg, pcseg.cli; bad = [m for m in ('torch', 'open3d', 'numba', 'h5py', 'torch_geometric') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_torch_geometric_is_imported_only_by_the_pyg_models():
    # the ops, the registry, the engine's model building and a PointNet do not pull PyG in
    code = ("import sys, pcseg.ops, pcseg.ops.pyg, pcseg.io.cloud, pcseg.data.pyg, pcseg.models, pcseg.engine.train; "
            "from pcseg.models import create_model; create_model('pointnet', width=0.25); "
            "a = 'torch_geometric' in sys.modules; create_model('pointnet2', width=0.25); "
            "print(a, 'torch_geometric' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_missing_config_is_one_line_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.yaml" in err[0]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_output_folder_that_is_a_file_is_one_line_exit_2(tmp_path, capsys):
    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((10, 3), np.float32))
    (tmp_path / "some_file").write_text("keep me")
    for argv in (["segment", str(tmp_path / "x.npy"), "--checkpoint", "c.pt", "--out", str(tmp_path / "some_file")],
                 ["segment", str(tmp_path / "x.npy"), "--checkpoint", "c.pt", "--out",
                  str(tmp_path / "some_file" / "sub")],
                 ["synth", "s3dis", str(tmp_path / "some_file")],
                 ["prepare", "s3dis", str(tmp_path), str(tmp_path / "some_file")],
                 ["demo", "--out", str(tmp_path / "some_file")]):
        assert main(argv) == 2, argv
        assert "some_file" in _one_line(capsys)
    assert (tmp_path / "some_file").read_text() == "keep me"
    assert main(["render", str(tmp_path / "x.npy"), "--out", str(tmp_path)]) == 2
    assert "is a folder" in _one_line(capsys)


def test_train_refuses_non_positive_values_before_reading_data(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"data:\n  root: {tmp_path / 'no_cache'}\ntrain:\n  out: {tmp_path / 'run'}\n")
    for override, key in (("train.epochs=0", "train.epochs"), ("train.batch_size=-2", "train.batch_size"),
                          ("optim.lr=0", "optim.lr"), ("optim.lr=.nan", "optim.lr"),
                          ("train.max_steps_per_epoch=0", "train.max_steps_per_epoch")):
        assert main(["train", str(config), override]) == 2
        line = _one_line(capsys)
        assert key in line and "no_cache" not in line, line
    assert not (tmp_path / "run").exists()
