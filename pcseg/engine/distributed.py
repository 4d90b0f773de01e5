"""Multi-process training under ``torchrun``: detection, process group, and small collective helpers.

``torchrun --nproc_per_node=N -m pcseg train CONFIG`` sets WORLD_SIZE, RANK and LOCAL_RANK (plus
MASTER_ADDR/MASTER_PORT); :func:`setup` reads them and initialises the default process group (gloo on CPU,
nccl on CUDA). A torchrun launch of one process initialises it too, so one GPU runs the same DDP and NCCL
code as several. Without those variables everything runs in one process and the helpers are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    launched: bool = False            # started by torchrun: a process group exists, even of one process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.launched or self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> CUDA when present (one GPU per local rank), else CPU; 'cpu'/'cuda' as asked."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            from pcseg.errors import PcsegError

            raise PcsegError("train.device", "cuda requested but torch sees no CUDA device")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name != "cpu":
        from pcseg.errors import PcsegError

        raise PcsegError("train.device", f"must be auto, cpu or cuda, got {name!r}")
    return torch.device("cpu")


def setup(device: str = "auto") -> DistInfo:
    """Initialise the process group when launched by torchrun (or WORLD_SIZE > 1); return this process's role."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    launched = world > 1 or "TORCHELASTIC_RUN_ID" in os.environ      # torchrun sets the run id, even for one
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if launched and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev, launched=launched)


def cleanup() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        device = collective_device()
        # under NCCL name the rank's GPU: NCCL otherwise guesses (and warns)
        dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)


def collective_device() -> torch.device:
    """Where the tensors of a collective must live: this rank's GPU under NCCL (which has no CPU
    collectives), the CPU under gloo."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def any_true(flag: bool) -> bool:
    """True on every rank if ``flag`` is true on any rank (used to stop all ranks at the same step)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: list[float]) -> list[float]:
    """Average a few floats over the ranks (no-op in one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    return [v / dist.get_world_size() for v in sum_over_ranks(values)]


def gather_objects(obj: object) -> list:
    """Every rank's ``obj`` (picklable), in rank order, on every rank; ``[obj]`` in one process."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def sum_over_ranks(values: list[float]) -> list[float]:
    """Sum a few floats over the ranks (no-op in one process)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=collective_device())
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


__all__ = ["DistInfo", "setup", "cleanup", "barrier", "collective_device", "any_true", "mean_over_ranks", "sum_over_ranks", "gather_objects",
           "resolve_device"]
