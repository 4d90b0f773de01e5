"""pcseg export (ONNX) and segment --runtime onnx, checked against PyTorch (pcseg/engine/export.py,
pcseg/engine/onnx_runtime.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pcseg.cli import main
from pcseg.config import Config, config_to_dict
from pcseg.engine.checkpoint import save_checkpoint
from pcseg.engine.data import model_args
from pcseg.io.cloud import Cloud
from pcseg.io.files import write_npy
from pcseg.models import create_model, model_family, model_names

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

SMALL = {"pointnet": {"width": 0.25}, "acnn": {"width": 0.25},
         "deeplabv3plus": {"width": 8, "layers": [1, 1, 1, 1], "output_stride": 8, "aspp_rates": [1, 2, 4, 6]},
         "unet": {"width": 8, "depth": 2},
         "pointnet2": {}, "point_transformer": {}}


def _checkpoint(name: str, path: Path) -> Path:
    """A small untrained checkpoint of a registered model, as pcseg train writes it."""
    torch.manual_seed(0)
    cfg = Config()
    cfg.model.name = name
    cfg.model.args = dict(SMALL.get(name, {}))
    cfg.train.batch_size = 2
    cfg.data.num_points = 256
    if model_family(name) == "2d":
        cfg.data.dataset = "semantickitti"
        cfg.range.height, cfg.range.width = 16, 128
    args = model_args(cfg)
    net = create_model(name, **args).eval()
    classes = 13 if cfg.data.dataset == "s3dis" else 19
    save_checkpoint(path, {"model": name, "model_args": args, "class_set": cfg.data.dataset,
                           "class_names": [f"c{i}" for i in range(classes)], "config": config_to_dict(cfg),
                           "epoch": 1, "step": 1, "state_dict": net.state_dict()})
    return path


@pytest.mark.parametrize("name", model_names())
def test_every_registered_model_exports_and_matches_pytorch_or_says_why_not(name, tmp_path, capsys):
    from pcseg.engine.export import UNEXPORTABLE

    ckpt = _checkpoint(name, tmp_path / f"{name}.pt")
    out = tmp_path / f"{name}.onnx"
    code = main(["export", "--checkpoint", str(ckpt), "--out", str(out)])
    captured = capsys.readouterr()
    if name in UNEXPORTABLE:
        assert code == 2 and not out.exists()
        assert captured.err.strip().splitlines() == [
            f"pcseg: error: {ckpt}: {name!r} cannot be exported to ONNX: {UNEXPORTABLE[name]}"]
        return
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert lines[0].startswith(f"wrote {out} ({name}, opset 17;")
    agreements = [float(line.split("agree on ")[1].split(" %")[0]) for line in lines[1:]]
    assert len(agreements) == 2 and min(agreements) >= 99.9
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["pcseg_model"] == name and len(json.loads(meta["pcseg_class_names"])) in (13, 19)
    inputs = json.loads(meta["pcseg_inputs"])
    if model_family(name) == "3d":
        assert inputs["features"] == ["batch", 9, "points"] and meta["pcseg_num_points"] == "256"
    else:
        assert inputs["image"] == ["batch", 5, 16, 128]
        assert json.loads(meta["pcseg_range"])["channels"] == ["range", "x", "y", "z", "remission"]


def _cloud(path: Path, n: int = 1500, remission: bool = False) -> Path:
    rng = np.random.default_rng(0)
    az, r = rng.uniform(-np.pi, np.pi, n), rng.uniform(2, 20, n)
    coord = np.stack([r * np.cos(az), r * np.sin(az), rng.uniform(-1.7, 2, n)], 1).astype(np.float32)
    if remission:
        np.save(path, np.column_stack([coord, rng.random(n, dtype=np.float32)]))
    else:
        write_npy(path, Cloud(coord * 0.2 + 2, color=rng.random((n, 3), dtype=np.float32)))
    return path


@pytest.mark.parametrize("name", ["pointnet", "deeplabv3plus"])
def test_segment_with_onnxruntime_writes_the_same_labels(name, tmp_path, capsys):
    ckpt = _checkpoint(name, tmp_path / "m.pt")
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m.onnx")]) == 0
    cloud = _cloud(tmp_path / "scan.npy", remission=(name == "deeplabv3plus"))
    assert main(["segment", str(cloud), "--checkpoint", str(ckpt), "--out", str(tmp_path / "pt")]) == 0
    assert main(["segment", str(cloud), "--checkpoint", str(ckpt), "--out", str(tmp_path / "ox"),
                 "--runtime", "onnx", "--onnx", str(tmp_path / "m.onnx")]) == 0
    suffix = ".npy" if name == "pointnet" else ".label"
    a = (tmp_path / "pt" / f"scan{suffix}").read_bytes()
    assert a == (tmp_path / "ox" / f"scan{suffix}").read_bytes() and len(a) > 1000


def test_onnx_of_another_model_or_a_bad_file_is_refused(tmp_path, capsys):
    a = _checkpoint("pointnet", tmp_path / "a.pt")
    b = _checkpoint("deeplabv3plus", tmp_path / "b.pt")
    assert main(["export", "--checkpoint", str(b), "--out", str(tmp_path / "b.onnx")]) == 0
    cloud = _cloud(tmp_path / "c.npy")
    capsys.readouterr()
    assert main(["segment", str(cloud), "--checkpoint", str(a), "--out", str(tmp_path / "o"), "--runtime", "onnx",
                 "--onnx", str(tmp_path / "b.onnx")]) == 2
    assert "is an export of a 'deeplabv3plus' model" in capsys.readouterr().err
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    assert main(["segment", str(cloud), "--checkpoint", str(a), "--out", str(tmp_path / "o"), "--runtime", "onnx",
                 "--onnx", str(tmp_path / "junk.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a readable ONNX model" in err[0]
    assert main(["segment", str(cloud), "--checkpoint", str(a), "--out", str(tmp_path / "o"), "--runtime",
                 "onnx"]) == 2
    assert not (tmp_path / "o").exists()
