"""Bundled models: name resolution, packing, `pcseg models`, `segment --model` (pcseg/pretrained)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import pcseg.pretrained as pretrained
from pcseg.cli import main
from pcseg.config import Config, config_to_dict
from pcseg.engine.checkpoint import load_checkpoint, save_checkpoint
from pcseg.engine.data import model_args
from pcseg.engine.inference import predict_cloud
from pcseg.engine.predict import load_for_inference
from pcseg.errors import PcsegError
from pcseg.io.files import read_cloud, write_npy
from pcseg.io.cloud import Cloud
from pcseg.models import create_model


def _training_checkpoint(path: Path) -> Path:
    """A checkpoint as pcseg train writes it, optimiser state included (untrained tiny PointNet)."""
    torch.manual_seed(0)
    cfg = Config()
    cfg.model.name = "pointnet"
    cfg.model.args = {"width": 0.25}
    cfg.data.num_points = 64
    cfg.train.batch_size = 2
    args = model_args(cfg)
    net = create_model("pointnet", **args)
    opt = torch.optim.Adam(net.parameters())
    save_checkpoint(path, {"model": "pointnet", "model_args": args, "class_set": "s3dis",
                           "class_names": ["c"] * args["num_classes"], "config": config_to_dict(cfg), "epoch": 1,
                           "step": 3, "state_dict": net.state_dict(), "optimizer": opt.state_dict(),
                           "best_miou": 0.5, "best_epoch": 1, "history": [{"epoch": 1, "val_miou": 0.5,
                                                                           "val_oa": 0.8}]})
    return path


@pytest.fixture
def bundle(tmp_path, monkeypatch) -> Path:
    """A package folder holding one packed model "tiny" and one listed model whose weights are missing."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", folder)
    packed = pretrained.pack_checkpoint(_training_checkpoint(tmp_path / "best.pt"), "tiny")
    (folder / "manifest.json").write_text(json.dumps({
        "tiny": {"file": "tiny.pt", "classes": "s3dis", "inputs": "xyz + rgb", "command": "python train.py",
                 "scores": {"synthetic_val": {"miou": 0.5, "oa": 0.8},
                            "real": {"s3dis/room": {"miou": 0.25, "oa": 0.5, "points": 10}}}},
        "unbuilt": {"file": "unbuilt.pt", "classes": "semantickitti", "command": "python tools/x.py"}}))
    assert packed == folder / "tiny.pt"
    return folder


def test_pack_keeps_what_inference_needs_only(bundle, tmp_path):
    ckpt = load_checkpoint(bundle / "tiny.pt")
    assert "optimizer" not in ckpt and "rng" not in ckpt
    full = load_checkpoint(tmp_path / "best.pt")
    for key in ("model", "model_args", "class_names", "epoch", "best_epoch", "history"):
        assert ckpt[key] == full[key]
    for name, tensor in full["state_dict"].items():
        assert torch.equal(ckpt["state_dict"][name], tensor)
    assert (bundle / "tiny.pt").stat().st_size < (tmp_path / "best.pt").stat().st_size


def test_unknown_and_unbuilt_names(bundle):
    with pytest.raises(PcsegError, match="unknown bundled model 'nope'; valid: tiny, unbuilt"):
        pretrained.bundled_checkpoint("nope")
    with pytest.raises(PcsegError, match="missing; build them with: python tools/x.py"):
        pretrained.bundled_checkpoint("unbuilt")
    assert pretrained.bundled_checkpoint("tiny") == bundle / "tiny.pt"


def test_models_command_lists_scores_and_missing_weights(bundle, capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert "tiny  (s3dis classes, " in text and "MB)" in text
    assert "real          s3dis/room: mIoU 25.0 (classes present)  OA 50.0" in text
    assert "synthetic val mIoU 50.0  OA 80.0" in text
    assert "unbuilt  (semantickitti classes, weights missing)" in text
    assert main(["models", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["tiny", "unbuilt"] and records[1]["size_mb"] is None


def test_segment_with_a_bundled_model_equals_its_checkpoint(bundle, tmp_path, capsys):
    rng = np.random.default_rng(0)
    cloud = tmp_path / "room.npy"
    write_npy(cloud, Cloud(rng.random((500, 3), dtype=np.float32) * 3, color=rng.random((500, 3), dtype=np.float32)))
    assert main(["segment", str(cloud), "--model", "tiny", "--out", str(tmp_path / "a")]) == 0
    assert main(["segment", str(cloud), "--checkpoint", str(bundle / "tiny.pt"), "--out", str(tmp_path / "b")]) == 0
    a, b = np.load(tmp_path / "a" / "room.npy"), np.load(tmp_path / "b" / "room.npy")
    assert a.shape == (500,) and np.array_equal(a, b)
    # --tta: the labels of the averaged turns (pcseg.engine.inference.predict_cloud), through the CLI
    assert main(["segment", str(cloud), "--model", "tiny", "--tta", "--out", str(tmp_path / "t")]) == 0
    model, cfg, _, device = load_for_inference(bundle / "tiny.pt")
    want = predict_cloud(model, read_cloud(cloud), cfg, device, tta=True).argmax(1).numpy()
    assert np.array_equal(np.load(tmp_path / "t" / "room.npy"), want)


def test_segment_model_errors(bundle, tmp_path, capsys):
    cloud = tmp_path / "c.npy"
    np.save(cloud, np.zeros((10, 3), np.float32))
    assert main(["segment", str(cloud), "--model", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pcseg: error: --model: unknown bundled model 'nope'; valid: tiny, unbuilt"]
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exc:     # argparse: the two ways to name a model exclude each other
        main(["segment", str(cloud), "--model", "tiny", "--checkpoint", str(bundle / "tiny.pt"), "--out", "o"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    for bad in ("nan", "inf", "x"):            # a sensor origin must be three real numbers (nan crashed here)
        with pytest.raises(SystemExit) as exc:
            main(["segment", str(cloud), "--model", "tiny", "--sensor-origin", bad, "0", "0", "--out", "o"])
        assert exc.value.code == 2
        assert "argument --sensor-origin: not a" in capsys.readouterr().err


@pytest.mark.parametrize("name", pretrained.bundled_names())
def test_shipped_models_load_and_match_their_manifest(name):
    """Every model the package ships loads with weights_only, rebuilds, and has the manifest's class set."""
    from pcseg.classes import get_class_set
    from pcseg.engine.checkpoint import build_model_from_checkpoint

    entry = pretrained.load_manifest()[name]
    path = pretrained.bundled_checkpoint(name)
    ckpt = load_checkpoint(path)
    assert ckpt["class_set"] == entry["classes"]
    assert len(ckpt["class_names"]) == get_class_set(entry["classes"]).num_classes
    assert "optimizer" not in ckpt
    build_model_from_checkpoint(ckpt, path)
    assert path.stat().st_size < 20e6, "bundled weights must stay small enough to commit"
    for key in ("for", "inputs", "trained_on", "command", "seed", "train_minutes"):
        assert entry.get(key) is not None, f"manifest entry {name!r} lacks {key!r}"


@pytest.mark.parametrize("name", pretrained.bundled_names())
def test_shipped_models_label_as_their_documented_config_says(name):
    """How a shipped model turns probabilities into labels (the range settings, the unweighting) is what its
    documented config gives, so that the one documented command rebuilds it, labelling included."""
    from pcseg.config import config_from_dict, load_config

    entry = pretrained.load_manifest()[name]
    documented = load_config(Path(__file__).resolve().parents[2] / entry["config"])
    packed = config_from_dict(load_checkpoint(pretrained.bundled_checkpoint(name))["config"], name)
    for key in ("unweight_labels", "unweight_power", "class_weights"):
        assert getattr(packed.train, key) == getattr(documented.train, key), key
    assert packed.range == documented.range


def test_packed_validation_is_the_packed_epochs_not_the_best(tmp_path):
    # a bundled model packs the last epoch; its synthetic score must be that epoch's, not the best one's
    # (tools/bench_real.py and tools/train_bundled.py report pretrained.packed_validation)
    path = tmp_path / "c.pt"
    torch.save({"epoch": 2, "best_epoch": 1, "history": [{"epoch": 1, "val_miou": 0.6, "val_oa": 0.9},
                                                         {"epoch": 2, "val_miou": 0.5, "val_oa": 0.8}]}, path)
    assert pretrained.packed_validation(path) == {"miou": 0.5, "oa": 0.8}
    torch.save({"epoch": 3, "best_epoch": 1, "history": [{"epoch": 1, "val_miou": 0.6, "val_oa": 0.9}]}, path)
    assert pretrained.packed_validation(path) is None     # the packed epoch was never validated


def test_segment_api_refuses_a_sensor_origin_that_is_not_three_finite_numbers(tmp_path, capsys):
    """The CLI's parser refuses ``--sensor-origin nan 0 0``; the Python API says it in the file's line too
    (it crashed in the projection with an index error)."""
    from pcseg.engine.predict import segment

    scan = np.random.default_rng(0).normal(0, 5, (2000, 4)).astype(np.float32)
    scan.tofile(tmp_path / "scan.bin")
    for bad in ([float("nan"), 0.0, 0.0], [0.0, 1.0]):
        assert segment([tmp_path / "scan.bin"], pretrained.bundled_checkpoint("lidar"), tmp_path / "o",
                       show_progress=False, sensor_origin=bad) == 1
        err = capsys.readouterr().err
        assert "scan.bin: the sensor origin must be three finite numbers" in err and "Traceback" not in err
        assert not list((tmp_path / "o").glob("scan*"))
