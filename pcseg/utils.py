"""Small shared helpers: atomic file writes and the folders commands write into."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pcseg.errors import PcsegError


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``, on error removed.

    A reader never sees a half-written file: the rename is atomic on POSIX file systems. ``suffix`` keeps the
    extension for libraries that choose the format from it (numpy, Open3D)."""
    path = Path(path)
    if path.is_dir():
        raise PcsegError(path, "is a folder; expected a file name to write")
    output_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix if suffix is not None else path.suffix,
                                   dir=path.parent)
    except OSError as e:
        raise PcsegError(path, f"cannot write: {e.strerror or e}") from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; final files get the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def check_output_dir(path: str | os.PathLike) -> Path:
    """Check, without creating anything, that a command can write into the folder ``path``: it is a writable
    folder, or the nearest existing part of the path is one. Raises PcsegError naming the problem."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise PcsegError(path, "exists and is not a folder; give a folder to write into")
        if not os.access(path, os.W_OK | os.X_OK):
            raise PcsegError(path, "the output folder is not writable")
        return path
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise PcsegError(path, f"cannot create the output folder: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PcsegError(path, f"cannot create the output folder: {parent} is not writable")
    return path


def check_output_file(path: str | os.PathLike) -> Path:
    """Check, without creating anything, that a file can be written at ``path`` (not a folder, and its folder
    exists writable or can be created). Raises PcsegError naming the problem."""
    path = Path(path)
    if path.is_dir():
        raise PcsegError(path, "is a folder; expected a file name to write")
    check_output_dir(path.parent)
    return path


def output_dir(path: str | os.PathLike) -> Path:
    """The folder a command writes into, created with its parents. Raises PcsegError when the path is an
    existing file, cannot be created, or is not writable."""
    path = check_output_dir(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PcsegError(path, f"cannot create the output folder: {e.strerror or e}") from None
    return path
