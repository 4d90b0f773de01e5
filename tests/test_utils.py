"""Atomic writes and output folders: refused before anything is written."""

from pathlib import Path

import pytest

from pcseg.errors import PcsegError
from pcseg.utils import atomic_write_text, check_output_dir, check_output_file, output_dir


def test_output_dir_creates_or_refuses(tmp_path: Path) -> None:
    assert output_dir(tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(PcsegError, match="exists and is not a folder"):
        output_dir(tmp_path / "f")
    with pytest.raises(PcsegError, match="is a file"):
        check_output_dir(tmp_path / "f" / "sub")
    assert not (tmp_path / "new").exists() and check_output_dir(tmp_path / "new") == tmp_path / "new"
    assert not (tmp_path / "new").exists()


def test_atomic_write_refuses_a_folder_target(tmp_path: Path) -> None:
    with pytest.raises(PcsegError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(PcsegError, match="is a folder"):
        atomic_write_text(tmp_path, "x")
    (tmp_path / "f").write_text("x")
    with pytest.raises(PcsegError, match="not a folder"):
        atomic_write_text(tmp_path / "f" / "g.txt", "y")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]
