"""Fault tests: a run killed with SIGKILL (or stopped with Ctrl-C) and resumed from last.pt ends with exactly
the weights and metrics of an uninterrupted run (deterministic CPU)."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from pcseg.engine.checkpoint import load_checkpoint
from pcseg.engine.train import train

from .conftest import REPO, run_pcseg, tiny_config, write_config

VALUE_KEYS = ("epoch", "step", "loss", "lr", "val_miou", "val_oa", "val_macc", "val_iou", "val_points")


def _metrics(run):
    return [{k: r.get(k) for k in VALUE_KEYS} for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def _start(cfg_path, *overrides):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "pcseg", "train", str(cfg_path), *overrides], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(path, proc, timeout=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, f"training ended before {path.name} appeared: {proc.communicate()}"
        assert time.time() - t0 < timeout
        time.sleep(0.02)


def _assert_same_run(run_a, run_b):
    a = load_checkpoint(run_a / "last.pt")
    b = load_checkpoint(run_b / "last.pt")
    assert a["epoch"] == b["epoch"] and a["step"] == b["step"]
    for key in a["state_dict"]:
        assert torch.equal(a["state_dict"][key], b["state_dict"][key]), key
    assert _metrics(run_a) == _metrics(run_b)


def test_sigkill_then_resume_equals_uninterrupted_run(tiny_cache, tmp_path):
    # epochs long enough that the kill lands inside training, not after the end
    cfg = tiny_config(tiny_cache, tmp_path / "ref", epochs=4, max_steps_per_epoch=12)
    cfg.data.num_workers = 1
    train(cfg, show_progress=False)       # the uninterrupted reference, in this process (one thread too)

    cfg.train.out = str(tmp_path / "killed")
    cfg_path = write_config(cfg, tmp_path / "killed.yaml")
    proc = _start(cfg_path)
    _wait_for(tmp_path / "killed" / "last.pt", proc)
    time.sleep(0.3)                                    # somewhere in epoch 2 (or 3)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"]
    assert 1 <= killed_at < 4
    resumed = run_pcseg(["train", str(cfg_path), f"resume={tmp_path / 'killed' / 'last.pt'}"])
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {tmp_path / 'killed' / 'last.pt'} at epoch {killed_at}" in resumed.stdout
    _assert_same_run(tmp_path / "ref", tmp_path / "killed")
    assert not [p for p in (tmp_path / "killed").iterdir() if p.name.startswith(".")]   # no temp files


def test_ctrl_c_saves_mid_epoch_state_and_resume_is_exact(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "ref", epochs=2, max_steps_per_epoch=40, val_every=0)
    train(cfg, show_progress=False)

    cfg.train.out = str(tmp_path / "int")
    cfg_path = write_config(cfg, tmp_path / "int.yaml")
    proc = _start(cfg_path)
    _wait_for(tmp_path / "int" / "config.yaml", proc)       # written after the Ctrl-C handler is set up
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "saved" in err and "resume=" in err
    ckpt = load_checkpoint(tmp_path / "int" / "last.pt")
    resumed = run_pcseg(["train", str(cfg_path), f"resume={tmp_path / 'int' / 'last.pt'}"])
    assert resumed.returncode == 0, resumed.stderr
    assert ckpt["epoch"] == 0 and ckpt["partial"]["epoch"] == 0     # stopped inside the first epoch
    assert f"+ {ckpt['partial']['batches']} batches" in resumed.stdout
    _assert_same_run(tmp_path / "ref", tmp_path / "int")
