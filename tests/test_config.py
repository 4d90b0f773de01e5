import pytest

from pcseg.config import load_config
from pcseg.errors import PcsegError


def test_defaults_and_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: 3\nmodel:\n  name: pointnet\n  args: {width: 0.25}\n")
    cfg = load_config(p, ["train.batch_size=8", "resume=x.pt", "optim.lr=1"])
    assert cfg.train.epochs == 3 and cfg.train.batch_size == 8 and cfg.train.resume == "x.pt"
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.model.args == {"width": 0.25}


@pytest.mark.parametrize("text,needle", [
    ("train:\n  epoch: 3\n", "train.epoch"),
    ("train:\n  epochs: three\n", "train.epochs"),
    ("train:\n  amp: 1\n", "train.amp"),
    ("bogus: {}\n", "bogus"),
    ("- a\n- b\n", "mapping"),
])
def test_bad_config_names_file_and_key(tmp_path, text, needle):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(PcsegError) as exc:
        load_config(p)
    assert "bad.yaml" in str(exc.value) and needle in str(exc.value)


def test_bad_override():
    with pytest.raises(PcsegError, match="unknown key"):
        load_config(None, ["nosuchkey=1"])


@pytest.mark.parametrize("override", ["train.epochs=0", "train.batch_size=-2", "optim.lr=0", "optim.lr=-0.1",
                                      "train.max_steps_per_epoch=0", "data.num_points=0", "train.val_every=-1"])
def test_non_positive_numbers_are_refused_naming_the_key(override):
    key = override.split("=")[0]
    with pytest.raises(PcsegError, match=f"{key} must be"):
        load_config(None, [override])


def test_train_with_zero_epochs_fails_before_reading_data(tmp_path, capsys):
    from pcseg.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  root: /nonexistent/cache\n")
    assert main(["train", str(cfg), "train.epochs=0", f"train.out={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("train.epochs must be at least 1, got 0") and "cache" not in err
    assert not (tmp_path / "run").exists()


def test_every_shipped_config_loads():
    """configs/*.yaml: known keys, right types, values in range (a typo there would only show on a user's GPU)."""
    from pathlib import Path

    from pcseg.models import model_names

    paths = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(paths) >= 10
    for path in paths:
        cfg = load_config(path)
        assert cfg.model.name in model_names(), path
