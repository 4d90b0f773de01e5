"""Backend choice for pcseg.ops (the thread pool for the compiled CPU kernels is pcseg.ops._threads).

``backend="auto"`` runs the numba kernels (:mod:`pcseg.ops._kernels`) for CPU tensors when numba imports,
and the pure-PyTorch code otherwise (CUDA tensors, or numba missing). ``"numba"`` and ``"torch"`` force one.
The kernels release the GIL, so one Python thread per batch item (or per chunk of queries) uses every core
without a numba threading layer (which would not be fork-safe with DataLoader workers).
"""

from __future__ import annotations

import functools
import importlib

import torch

from pcseg.ops._threads import PARALLEL_MIN_POINTS, num_threads, parallel_map, split_range  # noqa: F401

BACKENDS = ("auto", "numba", "torch")

KERNELS = "pcseg.ops._kernels"


@functools.lru_cache(maxsize=None)
def kernels_import(module: str) -> bool:
    """True when the compiled kernels of ``module`` import (numba installed and working)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def resolve(backend: str, *tensors: torch.Tensor, kernels: str = KERNELS) -> str:
    """'numba' or 'torch' for this call, the numba one being the kernels of module ``kernels``. Raises
    ValueError for an unknown name, RuntimeError when 'numba' is forced but unusable (CUDA tensors or numba
    missing)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
    on_cpu = all(t.device.type == "cpu" for t in tensors)
    if backend == "torch":
        return "torch"
    if backend == "numba":
        if not on_cpu:
            raise RuntimeError("the numba backend runs on CPU tensors only")
        if not kernels_import(kernels):
            raise RuntimeError("the numba backend needs numba (pip install numba)")
        return "numba"
    return "numba" if on_cpu and kernels_import(kernels) else "torch"
