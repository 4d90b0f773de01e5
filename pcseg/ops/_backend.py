"""Backend choice for pcseg.ops and a small thread pool for the compiled CPU kernels.

``backend="auto"`` runs the numba kernels (:mod:`pcseg.ops._kernels`) for CPU tensors when numba imports,
and the pure-PyTorch code otherwise (CUDA tensors, or numba missing). ``"numba"`` and ``"torch"`` force one.
The kernels release the GIL, so one Python thread per batch item (or per chunk of queries) uses every core
without a numba threading layer (which would not be fork-safe with DataLoader workers).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import torch

BACKENDS = ("auto", "numba", "torch")

_numba_ok: bool | None = None
_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None


def numba_available() -> bool:
    """True when the compiled kernels import (numba installed and working)."""
    global _numba_ok
    if _numba_ok is None:
        try:
            import pcseg.ops._kernels  # noqa: F401
            _numba_ok = True
        except ImportError:
            _numba_ok = False
    return _numba_ok


def resolve(backend: str, *tensors: torch.Tensor) -> str:
    """'numba' or 'torch' for this call. Raises ValueError for an unknown name, RuntimeError when 'numba'
    is forced but unusable (CUDA tensors or numba missing)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    on_cpu = all(t.device.type == "cpu" for t in tensors)
    if backend == "torch":
        return "torch"
    if backend == "numba":
        if not on_cpu:
            raise RuntimeError("the numba backend runs on CPU tensors only")
        if not numba_available():
            raise RuntimeError("the numba backend needs numba (pip install numba)")
        return "numba"
    return "numba" if on_cpu and numba_available() else "torch"


# Below this many points per call (summed over the batch) the kernels run in the calling thread: a few
# milliseconds of work gain nothing from a second thread and, in training, only compete with the
# DataLoader workers (a demo A-CNN epoch ran ~20 % faster inline).
PARALLEL_MIN_POINTS = 1 << 16


def num_threads(points: int | None = None) -> int:
    """Threads for the kernels: torch's intra-op setting (1 inside DataLoader workers), or 1 when the
    call handles fewer than PARALLEL_MIN_POINTS points."""
    if points is not None and points < PARALLEL_MIN_POINTS:
        return 1
    return max(1, torch.get_num_threads())


def parallel_map(fn: Callable[[Any], Any], items: Iterable[Any], threads: int | None = None) -> list[Any]:
    """``[fn(x) for x in items]`` on a process-local thread pool (recreated after fork), with at most
    ``threads`` threads (default :func:`num_threads`)."""
    global _pool, _pool_key
    items = list(items)
    threads = min(num_threads() if threads is None else threads, len(items))
    if threads <= 1:
        return [fn(x) for x in items]
    key = (os.getpid(), threads)
    if _pool is None or _pool_key != key:
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pcseg-ops")
        _pool_key = key
    return list(_pool.map(fn, items))


def split_range(n: int, parts: int) -> list[tuple[int, int]]:
    """[0, n) cut into ``parts`` nearly equal, non-empty ranges (fewer when n < parts)."""
    parts = max(1, min(parts, n))
    edges = [n * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts) if edges[i + 1] > edges[i]]
