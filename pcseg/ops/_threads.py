"""The ops' thread pool: how many threads a call gets and a process-local pool to run them on.

Kept apart from :mod:`pcseg.ops._backend` so the numba kernels (which that module imports to probe numba) can
use the pool without importing the backend back.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import torch

_pool: ThreadPoolExecutor | None = None
_pool_key: tuple[int, int] | None = None

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
