"""Text headers (PLY, PCD) and ASCII bodies: the parsing PLY and PCD share."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from pcseg.errors import PcsegError
from pcseg.io.fields import _check_file

HEADER_LIMIT = 65536  # bytes searched for the end of a PLY / PCD header

def _read_header(path: Path, raw: bytes, end_marker: re.Pattern[bytes], limit: int = HEADER_LIMIT
                 ) -> tuple[list[str], int]:
    """Header lines (decoded, stripped) up to and including the line matching ``end_marker``, and the byte
    offset where the body starts."""
    m = end_marker.search(raw[:limit])
    if not m:
        raise PcsegError(path, "header not terminated (truncated or not this format)")
    head = raw[:m.end()]
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise PcsegError(path, "header is not ASCII text") from None
    return [line.strip() for line in text.splitlines()], m.end()


def _read_bytes(path: Path) -> bytes:
    _check_file(path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise PcsegError(path, f"cannot read: {e.strerror or e}") from None


def _ascii_rows(path: Path, body: np.ndarray, skip: int, rows: int, ncols: int, what: str) -> np.ndarray:
    """Parse ``rows`` text lines after skipping ``skip`` lines; NaN/inf tokens accepted (dropped later).

    Shapes: body (B,) uint8 -> (rows, ncols) float64.
    """
    from pcseg.io.textparse import parse_table, with_sentinel

    newlines = np.flatnonzero(body == 10)
    start = 0 if skip == 0 else (int(newlines[skip - 1]) + 1 if len(newlines) >= skip else len(body))
    last = skip + rows - 1
    if rows == 0:
        return np.zeros((0, ncols))
    if last < len(newlines):
        stop = int(newlines[last]) + 1
    else:
        stop = len(body)
        if last > len(newlines):  # not even an unterminated final line for every row
            raise PcsegError(path, f"truncated: {what} needs {rows} data lines, the file has "
                                   f"{max(len(newlines) + 1 - skip, 0)}")

    def fix(line: bytes, lineno: int, found: int) -> list[float] | None:
        tokens = line.split()
        if not tokens:
            return None
        if len(tokens) != ncols:
            raise PcsegError(path, f"{what} line {lineno}: expected {ncols} values, found {len(tokens)}")
        try:
            return [float(t) for t in tokens]
        except ValueError:
            raise PcsegError(path, f"{what} line {lineno}: not a number in {line[:60]!r}") from None

    table = parse_table(with_sentinel(body[start:stop]), ncols, fix)
    if len(table) != rows:
        raise PcsegError(path, f"{what}: expected {rows} rows, found {len(table)} (blank lines inside the data?)")
    return table


def _ascii_int(path: Path, values: np.ndarray, dtype: str, name: str) -> np.ndarray:
    finite = np.isfinite(values)
    if not np.all(finite) or np.any(values != np.round(values)):
        raise PcsegError(path, f"integer property {name!r} holds non-integer values")
    return values.astype(dtype)
