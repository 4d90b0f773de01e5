"""Fast parser for whitespace-separated decimal tables (S3DIS ``x y z r g b`` text files).

A numba kernel makes one pass over the raw bytes: it reads every token as an int64 mantissa and divides by an
exact power of ten, so for tokens of at most 15 significant digits the value is the correctly rounded float64,
identical to Python's ``float(token)``. The buffer ends with a sentinel newline, so the inner loops need no
bounds checks. The kernel stops at the first line it cannot take (a token that is not a plain decimal such as
``-12.345``, ``7`` or ``+3.``; exponent notation; a control byte; the wrong number of columns) and hands that
one line to an exact Python routine, then resumes after it: defective files cost one Python call per bad
line, never a second pass over the whole file.

numba is imported on first use, never at ``import pcseg``.
"""

from __future__ import annotations

import os
import re
from typing import Callable

import numpy as np

from pcseg.errors import PcsegError

# Exact powers of ten: 10**k is exactly representable in float64 for k <= 22, so mantissa / 10**k is one
# correctly rounded IEEE division when the mantissa is below 2**53.
_POW10 = np.array([10.0 ** k for k in range(23)], dtype=np.float64)
_MAX_DIGITS = 15  # 10**15 < 2**53: the int64 mantissa converts to float64 exactly
_MAX_FRAC = 22

# Kernel status codes.
OK = 0
BAD_COLUMNS = 1
BAD_TOKEN = 2

_kernel_cache: dict[str, Callable] = {}


def _parse_kernel(buf, pos, end, ncols, out, row, pow10):  # pragma: no cover - compiled by numba
    """Parse ``buf[pos:end]`` into ``out[row:]`` until the first bad line.

    ``buf[end]`` must be a newline (the sentinel). Returns (status, line_start, line_end, next_pos, row,
    lines, cols): on OK, ``lines`` is the number of lines consumed; on failure, [line_start, line_end) is the
    bad line (without CR LF), next_pos the start of the line after it, ``lines`` the number of good lines
    before it and ``cols`` the columns counted on it so far.
    """
    lines = 0
    while pos < end:
        line_start = pos
        col = 0
        status = 0
        while True:
            c = buf[pos]
            while c == 32 or c == 9:  # space, tab
                pos += 1
                c = buf[pos]
            if c == 10:
                break
            if c == 13 and buf[pos + 1] == 10:  # CRLF
                pos += 1
                break
            neg = False
            if c == 45:  # '-'
                neg = True
                pos += 1
                c = buf[pos]
            elif c == 43:  # '+'
                pos += 1
                c = buf[pos]
            mant = 0
            ndig = 0
            frac = 0
            while c >= 48 and c <= 57:
                mant = mant * 10 + (c - 48)
                ndig += 1
                pos += 1
                c = buf[pos]
            if c == 46:  # '.'
                pos += 1
                c = buf[pos]
                while c >= 48 and c <= 57:
                    mant = mant * 10 + (c - 48)
                    ndig += 1
                    frac += 1
                    pos += 1
                    c = buf[pos]
            if ndig == 0 or ndig > 15 or frac > 22 or not (c == 32 or c == 9 or c == 10 or c == 13):
                status = 2
                break
            if col < ncols:
                value = float(mant)
                if frac > 0:
                    value = value / pow10[frac]
                out[row, col] = -value if neg else value
            col += 1
        if status == 0 and col != 0 and col != ncols:
            status = 1
        if status != 0:
            while buf[pos] != 10:
                pos += 1
            line_end = pos
            if line_end > line_start and buf[line_end - 1] == 13:
                line_end -= 1
            return status, line_start, line_end, pos + 1, row, lines, col
        if col != 0:
            row += 1
        pos += 1
        lines += 1
    return 0, pos, pos, pos, row, lines, 0


def _kernel() -> Callable:
    """The jitted kernel, compiled on first use (and cached on disk by numba)."""
    fn = _kernel_cache.get("parse")
    if fn is None:
        try:
            import numba
        except ImportError as e:  # pragma: no cover - numba is a dependency
            raise ImportError("pcseg's text parser needs numba: pip install numba") from e
        fn = numba.njit(cache=True, nogil=True)(_parse_kernel)
        _kernel_cache["parse"] = fn
    return fn


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel now, e.g. before timing."""
    buf = np.frombuffer(b"1 2\n\n", dtype=np.uint8).copy()
    out = np.empty((2, 2))
    _kernel()(buf, 0, len(buf) - 1, 2, out, 0, _POW10)


def read_buffer(path: str | os.PathLike) -> np.ndarray:
    """The file's bytes as a uint8 array with one extra sentinel newline at the end.

    Shapes: (file size + 1,) uint8.
    """
    try:
        size = os.path.getsize(path)
        buf = np.empty(size + 1, dtype=np.uint8)
        with open(path, "rb") as f:
            got = f.readinto(memoryview(buf)[:size])
    except OSError as e:
        raise PcsegError(path, f"cannot read: {e.strerror or e}") from None
    if got != size:
        raise PcsegError(path, f"file changed while reading ({got} of {size} bytes)")
    buf[size] = 10
    return buf


def with_sentinel(data: bytes | np.ndarray) -> np.ndarray:
    """Bytes (or a uint8 array) -> a new uint8 array with the sentinel newline appended."""
    src = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else np.asarray(data)
    buf = np.empty(len(src) + 1, dtype=np.uint8)
    buf[:-1] = src
    buf[-1] = 10
    return buf


# A number the slow path accepts: plain decimal or exponent notation (no nan/inf, no hex).
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def parse_number(token: bytes) -> float | None:
    """Exact parse of one token; None if it is not a finite decimal number."""
    if not _NUMBER.fullmatch(token):
        return None
    value = float(token)
    return value if np.isfinite(value) else None


def split_numbers(line: bytes) -> tuple[list[float] | None, int]:
    """Split one line on ASCII whitespace; (values or None if a token is not a number, column count)."""
    tokens = line.split()
    values = [parse_number(t) for t in tokens]
    if any(v is None for v in values):
        return None, len(tokens)
    return values, len(tokens)  # type: ignore[return-value]


LineFixer = Callable[[bytes, int, int], "list[float] | None"]
"""Called as ``fix(line, line_number, found_columns)`` for each line the fast kernel rejected; returns the
row's values (exactly ``ncols`` of them), None to drop the line, or raises PcsegError."""


def default_fixer(path: str | os.PathLike, ncols: int) -> LineFixer:
    """A fixer that accepts what the exact Python path can parse (e.g. exponent notation, or a blank line of
    control whitespace) and otherwise raises PcsegError naming file and line."""

    def fix(line: bytes, lineno: int, found: int) -> list[float] | None:
        values, count = split_numbers(line)
        if count == 0:
            return None
        if count != ncols:
            raise PcsegError(path, f"line {lineno}: expected {ncols} columns, found {count}")
        if values is None:
            bad = next(t for t in line.split() if parse_number(t) is None)
            raise PcsegError(path, f"line {lineno}: not a number: {bad[:40]!r}")
        return values

    return fix


def parse_table(buf: np.ndarray, ncols: int, fix: LineFixer) -> np.ndarray:
    """Parse a whitespace-separated numeric table with ``ncols`` columns per line.

    ``buf`` comes from :func:`read_buffer` / :func:`with_sentinel` (its last byte is the sentinel newline).
    Blank lines are skipped; CRLF is accepted. Each line the kernel rejects goes to ``fix``.

    Shapes: buf (B + 1,) uint8 -> (rows, ncols) float64.
    """
    if buf.dtype != np.uint8 or buf.ndim != 1 or len(buf) == 0 or buf[-1] != 10:
        raise ValueError("parse_table needs a uint8 buffer ending with the sentinel newline")
    kernel = _kernel()
    end = len(buf) - 1
    # a row holds at least ncols digits and ncols separators/newline, so this bounds the row count without a
    # pass over the buffer; np.empty only reserves address space, pages are touched as rows are written
    max_rows = len(buf) // (2 * ncols) + 1
    out = np.empty((max_rows, ncols), dtype=np.float64)
    pos, row, lineno = 0, 0, 0
    while pos < end:
        status, start, stop, pos, row, lines, cols = kernel(buf, pos, end, ncols, out, row, _POW10)
        lineno += lines
        if status == OK:
            break
        lineno += 1
        values = fix(buf[start:stop].tobytes(), lineno, cols)
        if values is not None:
            if len(values) != ncols:
                raise ValueError(f"line fixer returned {len(values)} values for {ncols} columns")
            out[row] = values
            row += 1
    return out[:row]


def load_table(path: str | os.PathLike, ncols: int) -> np.ndarray:
    """Read a numeric text file with ``ncols`` columns; errors name the file and line.

    Shapes: -> (rows, ncols) float64.
    """
    return parse_table(read_buffer(path), ncols, default_fixer(path, ncols))


__all__ = ["read_buffer", "with_sentinel", "parse_table", "load_table", "parse_number", "split_numbers",
           "default_fixer", "warm_up", "LineFixer"]
