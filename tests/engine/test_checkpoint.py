import random

import numpy as np
import pytest
import torch

from pcseg.engine.checkpoint import (build_model_from_checkpoint, load_checkpoint, rng_state, save_checkpoint,
                                     set_rng_state)
from pcseg.errors import PcsegError
from pcseg.models import create_model


def _ckpt(model_name="pointnet", num_classes=4):
    net = create_model(model_name, num_classes=num_classes, width=0.25)
    return net, {"model": model_name, "model_args": {"num_classes": num_classes, "width": 0.25},
                 "class_set": "s3dis", "class_names": [f"c{i}" for i in range(num_classes)],
                 "config": {"train": {"epochs": 1}, "data": {"test_area": 5, "train_areas": None}},
                 "epoch": 3, "step": 7, "state_dict": net.state_dict(), "history": [{"epoch": 1, "val_miou": None}]}


def test_round_trip_rebuilds_identical_model(tmp_path):
    net, state = _ckpt()
    save_checkpoint(tmp_path / "a.pt", state)
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]   # no temp file left behind
    ckpt = load_checkpoint(tmp_path / "a.pt", model="pointnet", num_classes=4)
    assert ckpt["epoch"] == 3 and ckpt["history"][0]["val_miou"] is None
    net2 = build_model_from_checkpoint(ckpt)
    net.eval()
    net2.eval()
    x = torch.randn(2, 9, 64)
    torch.testing.assert_close(net(x), net2(x), rtol=0, atol=0)


@pytest.mark.parametrize("payload", [b"", b"garbage" * 10, None])
def test_corrupt_checkpoint_names_the_file(tmp_path, payload):
    path = tmp_path / "bad.pt"
    if payload is None:       # a truncated real checkpoint
        save_checkpoint(path, _ckpt()[1])
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.write_bytes(payload)
    with pytest.raises(PcsegError) as exc:
        load_checkpoint(path)
    assert "bad.pt" in str(exc.value) and "\n" not in str(exc.value)


def test_foreign_pickle_is_refused(tmp_path):
    path = tmp_path / "obj.pt"
    # a pickled module object: refused by torch.load(weights_only=True)
    torch.save({"format": "pcseg-checkpoint-1", "model": "pointnet", "x": torch.nn.Linear(2, 2)}, path)
    with pytest.raises(PcsegError, match="obj.pt"):
        load_checkpoint(path)
    torch.save({"some": "dict"}, tmp_path / "plain.pt")
    with pytest.raises(PcsegError, match="not a pcseg checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(PcsegError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_model_and_class_count_mismatch(tmp_path):
    save_checkpoint(tmp_path / "a.pt", _ckpt(num_classes=4)[1])
    with pytest.raises(PcsegError, match="'pointnet' model, expected 'acnn'"):
        load_checkpoint(tmp_path / "a.pt", model="acnn")
    with pytest.raises(PcsegError, match="4 classes, expected 13"):
        load_checkpoint(tmp_path / "a.pt", num_classes=13)
    ckpt = load_checkpoint(tmp_path / "a.pt")
    ckpt["model_args"]["width"] = 0.5      # weights of another size
    with pytest.raises(PcsegError, match="do not fit"):
        build_model_from_checkpoint(ckpt, tmp_path / "a.pt")


def test_rng_states_round_trip_through_weights_only(tmp_path):
    gen = torch.Generator().manual_seed(5)
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.standard_normal()            # leaves a cached gaussian in numpy's state
    save_checkpoint(tmp_path / "r.pt", {"rng": rng_state(gen)})
    expect = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    gen.manual_seed(99)
    ckpt = torch.load(tmp_path / "r.pt", weights_only=True)
    set_rng_state(ckpt["rng"], gen)
    got = (torch.rand(3), np.random.rand(3), random.random(), torch.rand(2, generator=gen))
    torch.testing.assert_close(got[0], expect[0])
    np.testing.assert_array_equal(got[1], expect[1])
    assert got[2] == expect[2]
    torch.testing.assert_close(got[3], expect[3])
