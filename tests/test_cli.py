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
