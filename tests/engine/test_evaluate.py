import json

import numpy as np
import pytest

from pcseg.cli import main
from pcseg.config import load_config
from pcseg.engine.evaluate import evaluate
from pcseg.errors import PcsegError

from .conftest import val_points


def _cfg(run, **over):
    return load_config(run.parent / f"{run.name}.yaml", [f"{k}={v}" for k, v in over.items()])


def test_eval_scores_every_point_and_matches_training_validation(trained, tiny_cache, tmp_path):
    run = trained["a"]
    metrics = evaluate(_cfg(run), [run / "last.pt"], out=tmp_path / "ev", show_progress=False)
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert metrics["num_points"] == val_points(tiny_cache, 5) == last["val_points"]
    assert metrics["miou"] == pytest.approx(last["val_miou"], abs=1e-12)      # same whole-room procedure
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["miou"] == metrics["miou"]
    assert metrics["test_areas"] == [5]
    rooms = sorted((tiny_cache / "Area_5").iterdir())
    assert sorted(metrics["rooms"]) == [f"Area_5_{r.name}" for r in rooms if not r.name.startswith(".")]
    for room in rooms:
        pred = np.load(tmp_path / "ev" / "predictions" / f"Area_5_{room.name}.npy")
        assert pred.dtype == np.int64 and len(pred) == len(np.load(room / "label.npy"))
        assert pred.min() >= 0 and pred.max() < 13
        assert (tmp_path / "ev" / "predictions" / f"Area_5_{room.name}.ply").stat().st_size > 0
    assert sum(r["points"] for r in metrics["rooms"].values()) == metrics["num_points"]
    assert (tmp_path / "ev" / "classes.txt").read_text().count("\n") > 13


def test_six_fold_pools_the_confusion_matrices(trained, tmp_path):
    a, b = trained["a"], trained["b"]
    cfg = _cfg(a)
    pooled = evaluate(cfg, [a / "last.pt", b / "last.pt"], out=tmp_path / "pool", write_predictions=False,
                      show_progress=False)
    only_a = evaluate(cfg, [a / "last.pt"], out=tmp_path / "a", write_predictions=False, show_progress=False)
    only_b = evaluate(_cfg(a, **{"data.test_area": 1}), [b / "last.pt"], out=tmp_path / "b",
                      write_predictions=False, show_progress=False)
    assert pooled["test_areas"] == [5, 1]
    np.testing.assert_array_equal(np.array(pooled["confusion"]),
                                  np.array(only_a["confusion"]) + np.array(only_b["confusion"]))
    with pytest.raises(PcsegError, match="second checkpoint for test area 5"):
        evaluate(cfg, [a / "last.pt", a / "best.pt"], out=tmp_path / "dup", show_progress=False)


def test_eval_cli_takes_overrides_after_the_checkpoint(trained, tmp_path, capsys):
    run = trained["a"]
    assert main(["eval", str(run.parent / "a.yaml"), "--checkpoint", str(run / "last.pt"), "--out",
                 str(tmp_path / "ev"), "train.batch_size=3"]) == 0
    assert "mIoU" in capsys.readouterr().out
    assert (tmp_path / "ev" / "metrics.json").is_file()


def test_eval_refuses_a_checkpoint_of_another_model(trained, tmp_path, capsys):
    run = trained["a"]
    assert main(["eval", str(run.parent / "a.yaml"), "--checkpoint", str(run / "last.pt"), "model.name=acnn"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.pt" in err[0] and "acnn" in err[0]


def test_eval_without_rgb_scores_the_rooms_grey(trained, tmp_path, capsys):
    from pcseg.engine.checkpoint import build_model_from_checkpoint, load_checkpoint
    from pcseg.engine.data import val_clouds
    from pcseg.engine.evaluate import score_clouds
    from pcseg.io.cloud import Cloud

    run = trained["a"]
    cfg = _cfg(run)
    assert "rgb" in cfg.data.features
    metrics = evaluate(cfg, [run / "last.pt"], out=tmp_path / "grey", write_predictions=False, show_progress=False,
                       without=["rgb"])
    assert metrics["without"] == ["rgb"]
    # the same as scoring every held-out room with its colour replaced by mid-grey by hand
    ckpt = load_checkpoint(run / "last.pt")
    model = build_model_from_checkpoint(ckpt, run / "last.pt")

    def grey(load):
        cloud = load()
        return Cloud(cloud.coord, color=np.full((len(cloud), 3), 0.5, np.float32), label=cloud.label, meta=cloud.meta)

    by_hand = score_clouds(model, [(n, lambda load=load: grey(load)) for n, load in val_clouds(cfg)], cfg, "cpu")
    np.testing.assert_array_equal(np.array(metrics["confusion"]), by_hand.matrix)
    coloured = evaluate(cfg, [run / "last.pt"], out=tmp_path / "rgb", write_predictions=False, show_progress=False)
    assert coloured["without"] == [] and coloured["num_points"] == metrics["num_points"]
    assert coloured["confusion"] != metrics["confusion"]                 # the colour did reach the model
    assert main(["eval", str(run.parent / "a.yaml"), "--checkpoint", str(run / "last.pt"), "--out",
                 str(tmp_path / "bad"), "--without", "normals"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--without" in err[0] and "normals" in err[0]
    assert not (tmp_path / "bad").exists()
