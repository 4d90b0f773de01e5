import subprocess
import sys

from pcseg.cli import main


def test_import_is_light():
    code = "import sys, pcseg, pcseg.cli; bad = [m for m in ('torch', 'open3d', 'numba', 'h5py') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_config_is_one_line_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.yaml" in err[0]
