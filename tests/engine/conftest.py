"""Tiny synthetic rooms (real synth -> prepare pipeline) and a tiny PointNet config for engine tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pcseg.config import Config, save_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def one_thread():
    """Engine tests run tiny tensors, where a second intra-op thread only costs (badly so on a loaded machine,
    where OpenMP threads wait for each other); subprocesses get OMP_NUM_THREADS=1 for the same reason."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """Areas 1 and 5, two rooms each, ~3000 points per room, prepared into the cache layout."""
    from pcseg.data.prepare import prepare_s3dis
    from pcseg.data.synth_s3dis import synth_s3dis

    root = tmp_path_factory.mktemp("tiny_s3dis")
    synth_s3dis(root / "raw", areas=(1, 5), rooms_per_area=2, points_per_room=3000, seed=3)
    prepare_s3dis(root / "raw", root / "cache", workers=1, progress=False, verbose=False)
    return root / "cache"


def tiny_config(cache: Path, out: Path, **train) -> Config:
    cfg = Config()
    cfg.data.root = str(cache)
    cfg.data.test_area = 5
    cfg.data.train_areas = [1]
    cfg.data.num_points = 128
    cfg.data.min_block_points = 20
    cfg.data.num_workers = 0
    cfg.model.name = "pointnet"
    cfg.model.args = {"width": 0.25}
    cfg.optim.lr = 0.01
    cfg.train.epochs = 3
    cfg.train.batch_size = 4
    cfg.train.max_steps_per_epoch = 6
    cfg.train.out = str(out)
    cfg.train.device = "cpu"
    for key, value in train.items():
        setattr(cfg.train, key, value)
    return cfg


def val_points(cache: Path, area: int = 5) -> int:
    """Labelled points of the validation area, counted from the cache files directly."""
    total = 0
    for label in sorted((cache / f"Area_{area}").glob("*/label.npy")):
        total += int((np.load(label) >= 0).sum())
    return total


def run_pcseg(args: list[str], timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "pcseg", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=REPO, env=env, **kwargs)


def write_config(cfg: Config, path: Path) -> Path:
    save_config(cfg, path)
    return path


@pytest.fixture(scope="session")
def trained(tiny_cache, tmp_path_factory) -> dict[str, Path]:
    """Two tiny trained PointNets: "a" tested on Area 5 (trained on 1) and "b" tested on Area 1 (trained on 5)."""
    import torch

    from pcseg.engine.train import train

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("trained")
    runs = {}
    for name, test_area, train_area in (("a", 5, 1), ("b", 1, 5)):
        cfg = tiny_config(tiny_cache, root / name, epochs=2)
        cfg.data.test_area, cfg.data.train_areas = test_area, [train_area]
        train(cfg, show_progress=False)
        write_config(cfg, root / f"{name}.yaml")
        runs[name] = root / name
    torch.set_num_threads(before)
    return runs
