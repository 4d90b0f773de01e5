"""Shared fixtures. Real dataset samples are read from ../shared/realdata (never copied into the repo);
tests that need them skip when the folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("PCSEG_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data samples not found at {REALDATA}")
    return REALDATA
