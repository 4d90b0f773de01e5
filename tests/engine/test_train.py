import json

import pytest
import torch

from pcseg.cli import main
from pcseg.engine.checkpoint import load_checkpoint, save_checkpoint
from pcseg.engine.train import train
from pcseg.errors import PcsegError

from .conftest import tiny_config, val_points, write_config


def test_train_writes_run_folder_and_learns(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "run")
    result = train(cfg, show_progress=False)
    run = tmp_path / "run"
    assert result.epochs == 3 and result.step == 18 and not result.interrupted
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.jsonl", "val_epoch_001.txt", "val_epoch_003.txt"):
        assert (run / name).is_file(), name
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]       # no temp files left
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3] and [r["step"] for r in lines] == [6, 12, 18]
    # validation scores every labelled point of the whole validation rooms
    assert all(r["val_points"] == val_points(tiny_cache) for r in lines)
    assert lines[-1]["loss"] < lines[0]["loss"]
    assert lines[-1]["val_miou"] > 1 / 13          # better than chance on the synthetic rooms
    ckpt = load_checkpoint(run / "last.pt", model="pointnet", num_classes=13)
    assert ckpt["epoch"] == 3 and ckpt["config"]["train"]["out"] == str(run)
    assert ckpt["model_args"] == {"width": 0.25, "num_classes": 13, "in_channels": 9}
    best = load_checkpoint(run / "best.pt")
    assert best["best_miou"] == max(r["val_miou"] for r in lines)
    assert "mIoU" in (run / "val_epoch_003.txt").read_text()


def test_same_seed_same_weights_other_seed_differs(tiny_cache, tmp_path):
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = tiny_config(tiny_cache, tmp_path / name, seed=seed, epochs=1, val_every=0)
        cfg.data.num_workers = 2 if name == "b" else 0      # worker count must not change the data
        train(cfg, show_progress=False)
        runs[name] = load_checkpoint(tmp_path / name / "last.pt")["state_dict"]
    for key in runs["a"]:
        assert torch.equal(runs["a"][key], runs["b"][key]), key
    assert any(not torch.equal(runs["a"][k], runs["c"][k]) for k in runs["a"] if runs["a"][k].is_floating_point())


def test_missing_dataset_folder_is_exit_2(tmp_path, capsys):
    cfg = tiny_config(tmp_path / "nowhere", tmp_path / "run")
    path = write_config(cfg, tmp_path / "cfg.yaml")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nowhere" in err[0]


def test_resume_refuses_other_model_or_class_count(tiny_cache, tmp_path, capsys):
    cfg = tiny_config(tiny_cache, tmp_path / "run")
    path = write_config(cfg, tmp_path / "cfg.yaml")
    fake = tmp_path / "acnn.pt"
    save_checkpoint(fake, {"model": "acnn", "model_args": {}, "class_names": ["x"] * 13, "config": {},
                           "epoch": 1, "state_dict": {}})
    assert main(["train", str(path), f"resume={fake}"]) == 2
    assert "acnn.pt" in capsys.readouterr().err
    save_checkpoint(fake, {"model": "pointnet", "model_args": {}, "class_names": ["x"] * 5, "config": {},
                           "epoch": 1, "state_dict": {}})
    assert main(["train", str(path), f"resume={fake}"]) == 2
    assert "5 classes, expected 13" in capsys.readouterr().err
    fake.write_bytes(b"\x00" * 100)
    assert main(["train", str(path), f"resume={fake}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "acnn.pt" in err[0]


def test_lr_decay_and_floor(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=2, val_every=0)
    cfg.optim.lr_decay_steps = 4
    cfg.optim.lr_decay_rate = 0.5
    cfg.optim.min_lr = 0.004
    train(cfg, show_progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # after 6 steps: 0.01 * 0.5 ** (6 // 4) = 0.005; after 12: 0.01 * 0.5 ** 3 = 0.00125 -> floor 0.004
    assert lines[0]["lr"] == pytest.approx(0.005) and lines[1]["lr"] == pytest.approx(0.004)


def test_cosine_schedule_falls_to_the_floor_and_stays(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=3, val_every=0)
    cfg.optim.schedule = "cosine"
    cfg.optim.lr_decay_steps = 12
    cfg.optim.min_lr = 0.001
    train(cfg, show_progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # 6 steps an epoch, lr 0.01: after 6 steps half way down, 0.001 + 0.009 * 0.5 = 0.0055; after 12 and 18
    # at the floor
    assert [line["lr"] for line in lines] == pytest.approx([0.0055, 0.001, 0.001])
    with pytest.raises(PcsegError, match="optim.schedule must be step or cosine"):
        from pcseg.config import load_config
        load_config(None, ["optim.schedule=linear"])


def test_batch_norm_momentum_follows_the_reference_schedule(tiny_cache, tmp_path, monkeypatch):
    """optim.bn_momentum: the TF references' BN decay 0.5 -> 0.99 as PyTorch momentum 0.5 -> 0.01, set on
    every batch-norm layer before each step; null leaves PyTorch's 0.1."""
    import pcseg.models

    built = []
    original = pcseg.models.create_model
    monkeypatch.setattr(pcseg.models, "create_model", lambda *a, **k: built.append(original(*a, **k)) or built[-1])

    def momenta(**optim):
        cfg = tiny_config(tiny_cache, tmp_path / f"run{len(built)}", epochs=2, val_every=0)
        cfg.optim.lr_decay_steps = 4
        for key, value in optim.items():
            setattr(cfg.optim, key, value)
        train(cfg, show_progress=False)
        return {m.momentum for m in built[-1].modules() if isinstance(m, torch.nn.BatchNorm1d)}

    # the last of 12 steps starts after 11: 0.5 * 0.5 ** (11 // 4) = 0.125; floored at 0.2
    assert momenta(bn_momentum=0.5) == {0.125}
    assert momenta(bn_momentum=0.5, bn_momentum_min=0.2) == {0.2}
    assert momenta() == {0.1}
    with pytest.raises(PcsegError, match="bn_momentum"):
        from pcseg.config import load_config
        load_config(None, ["optim.bn_momentum=1.5"])


@pytest.mark.parametrize("name,args", [("pointnet2", {"width": 0.25, "radius_scale": 2.0}),
                                       ("point_transformer", {"width": 0.25, "blocks": [1, 1, 1, 1, 1]})])
def test_pyg_models_train_evaluate_and_segment_through_the_engine(tiny_cache, tmp_path, name, args):
    pytest.importorskip("torch_geometric")
    import numpy as np

    from pcseg.engine.predict import segment

    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=1, max_steps_per_epoch=4)
    cfg.model.name, cfg.model.args = name, args
    result = train(cfg, show_progress=False)
    assert result.step == 4
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["val_points"] == val_points(tiny_cache) and 0 <= record["val_miou"] <= 1
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt", model=name, num_classes=13)
    assert ckpt["model_args"]["in_channels"] == 9
    room = sorted(p for p in (tiny_cache / "Area_5").iterdir() if not p.name.startswith("."))[0]
    assert segment([room], tmp_path / "run" / "last.pt", tmp_path / "seg", show_progress=False) == 0
    pred = np.load(tmp_path / "seg" / f"{room.name}.npy")
    assert len(pred) == len(np.load(room / "label.npy")) and pred.min() >= 0 and pred.max() < 13


def test_class_weights_go_into_the_run_config_for_labelling(tiny_cache, tmp_path):
    """With train.class_weights the loss weights are written into the run's config (config.yaml and every
    checkpoint), so labelling can divide them out again (train.unweight_labels); validation then scores
    the divided labels."""
    from pcseg.config import load_config

    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=1, class_weights="inverse_sqrt", unweight_labels=True)
    train(cfg, show_progress=False)
    values = load_config(tmp_path / "run" / "config.yaml").train.class_weight_values
    assert values is not None and len(values) == 13 and max(values) > 1 > min(v for v in values if v > 0)
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["train"]["class_weight_values"] == values
    with pytest.raises(PcsegError, match="train.unweight_labels"):
        train(tiny_config(tiny_cache, tmp_path / "run2", epochs=1, unweight_labels=True), show_progress=False)
    with pytest.raises(PcsegError, match="train.unweight_power"):        # before the first step, not at validation
        train(tiny_config(tiny_cache, tmp_path / "run3", epochs=1, class_weights="inverse_sqrt",
                          unweight_labels=True, unweight_power=2.0), show_progress=False)
    assert not (tmp_path / "run3" / "last.pt").exists()


@pytest.mark.parametrize("cpu_amp", [False, True])
def test_cpu_amp_runs_the_network_in_bfloat16_and_keeps_float32_weights(tiny_cache, tmp_path, monkeypatch, cpu_amp):
    import pcseg.models

    seen: set[torch.dtype] = set()
    create = pcseg.models.create_model

    def create_and_watch(*args, **kwargs):
        net = create(*args, **kwargs)
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Linear)):
                m.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype) if torch.is_grad_enabled() else None)
        return net

    monkeypatch.setattr(pcseg.models, "create_model", create_and_watch)
    cfg = tiny_config(tiny_cache, tmp_path / "run", cpu_amp=cpu_amp)
    train(cfg, show_progress=False)
    assert seen == ({torch.bfloat16} if cpu_amp else {torch.float32})
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["loss"] < lines[0]["loss"] and lines[-1]["val_miou"] > 1 / 13
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ckpt["config"]["train"]["cpu_amp"] is cpu_amp
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values() if v.is_floating_point())
