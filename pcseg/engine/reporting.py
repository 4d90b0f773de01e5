"""Helpers shared by training and evaluation reports: pictures that never crash a run, JSON-safe values."""

from __future__ import annotations

import importlib
import math
import sys
from typing import Any

import numpy as np

_warned: set[str] = set()


def call_vis(module: str, func: str, *args: Any, **kwargs: Any) -> bool:
    """Call ``pcseg.vis.<module>.<func>``; a missing or failing picture is a one-line warning, never a crash
    (a plot must not end a training run)."""
    try:
        fn = getattr(importlib.import_module(f"pcseg.vis.{module}"), func)
    except (ImportError, AttributeError) as exc:
        key = f"{module}.{func}"
        if key not in _warned:
            _warned.add(key)
            print(f"pcseg: warning: pcseg.vis.{key} unavailable ({exc}); picture skipped", file=sys.stderr)
        return False
    try:
        fn(*args, **kwargs)
        return True
    except Exception as exc:  # noqa: BLE001 - reported, and the run goes on
        print(f"pcseg: warning: pcseg.vis.{module}.{func} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False


def json_safe(value: Any) -> Any:
    """JSON-safe and weights_only-safe: NaN -> None, numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    return value
