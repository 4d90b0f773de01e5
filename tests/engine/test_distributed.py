"""A real torchrun launch: two CPU processes (gloo), one epoch on tiny synthetic rooms."""

import json
import os
import signal
import subprocess
import sys

from pcseg.engine.checkpoint import load_checkpoint

from .conftest import REPO, tiny_config, val_points, write_config


def test_torchrun_two_processes(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=1)
    path = write_config(cfg, tmp_path / "ddp.yaml")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    # own session, so that a hang can be ended for the launcher and both workers together
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "pcseg", "train", str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr[-3000:]
    run = tmp_path / "run"
    # exactly one checkpoint writer (rank 0): one last.pt, no temp files from a second writer
    assert sorted(p.name for p in run.glob("*.pt")) == ["best.pt", "last.pt"]
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]
    assert stderr.count("pcseg: trained 1 epochs") == 1               # one rank reports
    (record,) = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    # the rooms are split across the ranks and the confusion matrices summed: every labelled validation
    # point is counted exactly once
    assert record["val_points"] == val_points(tiny_cache)
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["step"] == 6 and ckpt["epoch"] == 1      # 6 steps per rank with batch 4 // 2 = 2


def test_torchrun_of_one_process_initialises_the_group(monkeypatch):
    """torchrun --nproc_per_node=1 runs the same process-group (and DDP) code as several processes, so one
    GPU exercises NCCL; a plain run initialises nothing."""
    import torch
    import torch.distributed as dist

    from pcseg.engine import distributed

    for key in ("TORCHELASTIC_RUN_ID", "WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    plain = distributed.setup("cpu")
    assert not plain.enabled and not dist.is_initialized()
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29531")
    try:
        info = distributed.setup("cpu")
        assert info.enabled and info.world_size == 1
        assert dist.is_initialized() and dist.get_backend() == "gloo"
        assert distributed.sum_over_ranks([2.0, 3.0]) == [2.0, 3.0]
        assert distributed.collective_device() == torch.device("cpu")      # gloo; NCCL would want the GPU
    finally:
        distributed.cleanup()
    assert not dist.is_initialized()
