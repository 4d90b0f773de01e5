"""The numba text parser: exact values, line numbers of bad lines, CRLF and blank lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcseg.errors import PcsegError
from pcseg.io.textparse import load_table, parse_table, with_sentinel


def _collect(data: bytes, ncols: int) -> tuple[np.ndarray, list[tuple[bytes, int, int]]]:
    seen: list[tuple[bytes, int, int]] = []

    def fix(line: bytes, lineno: int, found: int) -> None:
        seen.append((line, lineno, found))
        return None

    return parse_table(with_sentinel(data), ncols, fix), seen


decimal = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{frac}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10**8 - 1).map(str),  # with up to 7 decimals: <= 15 digits, the fast path
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{0,7}", fullmatch=True)),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(decimal, min_size=3, max_size=3), min_size=1, max_size=30),
       st.sampled_from([b"\n", b"\r\n"]), st.sampled_from([b" ", b"\t", b"  \t "]))
def test_values_equal_python_float(rows: list[list[str]], eol: bytes, sep: bytes) -> None:
    data = eol.join(sep.join(t.encode() for t in row) for row in rows) + eol
    table, bad = _collect(data, 3)
    assert bad == []
    assert table.tolist() == [[float(t) for t in row] for row in rows]  # exact, bit for bit


def test_plain_decimal_forms() -> None:
    table, bad = _collect(b"-12.345 7 +3.\n.5 -0.0 0012.50\n", 3)
    assert bad == []
    assert table.tolist() == [[-12.345, 7.0, 3.0], [0.5, -0.0, 12.5]]
    assert np.signbit(table[1, 1])


def test_blank_lines_are_nothing_and_line_numbers_count_them() -> None:
    data = b"\n1 2\n  \n\r\n3 4 5\n6 7\nx 1\n8 9"
    table, bad = _collect(data, 2)
    assert table.tolist() == [[1, 2], [6, 7], [8, 9]]
    assert bad == [(b"3 4 5", 5, 3), (b"x 1", 7, 0)]


@pytest.mark.parametrize("token", [b"1e3", b"1.2.3", b"-", b".", b"1-2", b"0x10", b"nan", b"1234567890123456",
                                   b"1\x002", b"\xff"])
def test_rejected_tokens_go_to_the_fixer(token: bytes) -> None:
    table, bad = _collect(b"1 2\n" + token + b" 5\n3 4\n", 2)
    assert table.tolist() == [[1, 2], [3, 4]]
    assert [(line, n) for line, n, _ in bad] == [(token + b" 5", 2)]


def test_lone_cr_is_not_a_line_end() -> None:
    _, bad = _collect(b"1 2\r3 4\n", 2)
    assert bad[0][:2] == (b"1 2\r3 4", 1)


def test_fixer_rows_are_kept_in_place() -> None:
    def fix(line: bytes, lineno: int, found: int) -> list[float]:
        return [float(t) for t in line.split()]

    table = parse_table(with_sentinel(b"1 2\r\n3e0 4\r\n5 6\r\n"), 2, fix)
    assert table.tolist() == [[1, 2], [3, 4], [5, 6]]


def test_load_table_exponent_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_bytes(b"1 2.5e1\n-3 4\n")
    assert load_table(path, 2).tolist() == [[1, 25], [-3, 4]]
    path.write_bytes(b"1 2\n3\n")
    with pytest.raises(PcsegError, match=r"t\.txt: line 2: expected 2 columns, found 1"):
        load_table(path, 2)
    with pytest.raises(PcsegError, match="cannot read"):
        load_table(tmp_path / "missing.txt", 2)


def test_empty_input() -> None:
    assert _collect(b"", 6)[0].shape == (0, 6)
