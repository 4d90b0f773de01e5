import pytest
import torch

from pcseg.cli import main
from pcseg.engine.averaging import WeightAverage, recompute_batchnorm
from pcseg.engine.checkpoint import load_checkpoint
from pcseg.engine.train import train
from pcseg.pretrained import pack_checkpoint, packed_validation

from .conftest import tiny_config, write_config


def test_weight_average_is_the_mean_of_the_updates():
    net = torch.nn.Linear(3, 2)
    avg = WeightAverage()
    seen = []
    for k in range(4):
        with torch.no_grad():
            net.weight.fill_(float(k * k))
            net.bias.copy_(torch.tensor([k, -2.0 * k]))
        avg.update(net)
        seen.append({n: p.detach().clone() for n, p in net.named_parameters()})
    out = avg.averaged_copy(net)
    assert torch.allclose(out.weight, torch.full((2, 3), (0 + 1 + 4 + 9) / 4))
    assert torch.allclose(out.bias, torch.tensor([1.5, -3.0]))
    assert torch.equal(net.weight, seen[-1]["weight"])                 # the trained model is left alone
    restored = WeightAverage()
    restored.load_state_dict(avg.state_dict(), torch.device("cpu"))
    assert restored.count == 4 and torch.equal(restored.averaged_copy(net).bias, out.bias)
    with pytest.raises(ValueError):
        WeightAverage().averaged_copy(net)


def test_recompute_batchnorm_gives_the_plain_mean_over_the_batches():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    net[1].running_mean.fill_(100.0)                                      # stale statistics
    batches = [torch.randn(8, 2) + k for k in range(3)]
    net.eval()
    n = recompute_batchnorm(net, batches, lambda m, b: m(b))
    assert n == 3 and not net.training and net[1].momentum == 0.1
    with torch.no_grad():
        means = torch.stack([net[0](b).mean(0) for b in batches]).mean(0)
    assert torch.allclose(net[1].running_mean, means, atol=1e-6)
    assert recompute_batchnorm(torch.nn.Linear(2, 2), batches, lambda m, b: m(b)) == 0


def test_training_with_average_from_writes_a_validated_averaged_checkpoint(tiny_cache, tmp_path):
    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=2, val_every=1, average_from=2)
    train(cfg, show_progress=False)
    run = tmp_path / "run"
    last = load_checkpoint(run / "last.pt")
    avg = load_checkpoint(run / "averaged.pt", model="pointnet", num_classes=13)
    assert "optimizer" not in avg and "average" not in avg and last["average"]["count"] == 6
    # the mean of epoch 2's six steps: not the last weights, and between the weights of its steps
    differs = [k for k, v in avg["state_dict"].items() if v.is_floating_point()
               and not torch.equal(v, last["state_dict"][k])]
    assert differs
    final = avg["history"][-1]
    assert final["averaged_from"] == 2 and 0 < final["val_miou"] <= 1
    assert (run / "val_averaged.txt").is_file()
    assert packed_validation(pack_checkpoint(run / "averaged.pt", "m", tmp_path / "pack"))["miou"] == final["val_miou"]
    # the averaged weights are a checkpoint like any other for eval
    path = write_config(cfg, tmp_path / "cfg.yaml")
    assert main(["eval", str(path), "--checkpoint", str(run / "averaged.pt"), "--out", str(tmp_path / "ev")]) == 0


def test_averaging_leaves_the_raw_run_bit_identical(tiny_cache, tmp_path):
    plain = tiny_config(tiny_cache, tmp_path / "plain", epochs=1, val_every=0, max_steps_per_epoch=3)
    train(plain, show_progress=False)
    one = tiny_config(tiny_cache, tmp_path / "one", epochs=1, val_every=0, max_steps_per_epoch=3, average_from=1)
    train(one, show_progress=False)
    a = load_checkpoint(tmp_path / "plain" / "last.pt")["state_dict"]
    b = load_checkpoint(tmp_path / "one" / "last.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)                # the raw run is bit-identical
    ckpt = load_checkpoint(tmp_path / "one" / "averaged.pt")
    assert ckpt["history"][-1]["averaged_from"] == 1


def test_resumed_run_averages_the_same_weights(tiny_cache, tmp_path):
    whole = tiny_config(tiny_cache, tmp_path / "whole", epochs=2, val_every=0, max_steps_per_epoch=3, average_from=1)
    train(whole, show_progress=False)
    first = tiny_config(tiny_cache, tmp_path / "part", epochs=1, val_every=0, max_steps_per_epoch=3, average_from=1)
    train(first, show_progress=False)
    assert load_checkpoint(tmp_path / "part" / "last.pt")["average"]["count"] == 3
    rest = tiny_config(tiny_cache, tmp_path / "part", epochs=2, val_every=0, max_steps_per_epoch=3, average_from=1,
                       resume=str(tmp_path / "part" / "last.pt"))
    train(rest, show_progress=False)
    a = load_checkpoint(tmp_path / "whole" / "averaged.pt")["state_dict"]
    b = load_checkpoint(tmp_path / "part" / "averaged.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_average_from_past_the_last_epoch_is_refused(tiny_cache, tmp_path, capsys):
    cfg = tiny_config(tiny_cache, tmp_path / "run", epochs=2, average_from=3)
    path = write_config(cfg, tmp_path / "cfg.yaml")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "train.average_from" in err and "at most train.epochs (2)" in err
    assert not (tmp_path / "run" / "last.pt").exists()
