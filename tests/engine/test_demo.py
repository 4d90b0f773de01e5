from pathlib import Path

import pytest

from pcseg.config import load_config, save_config
from pcseg.engine.demo import CONFIG_DIR, demo, demo_configs, prepare_data
from pcseg.errors import PcsegError


def test_shipped_demo_configs_load():
    found = demo_configs()
    assert found[0][0] == "pointnet"
    # the PyG models run when asked for, not in the 5-minute default
    assert not {"pointnet2", "point_transformer"} & {short for short, _ in found}
    assert [short for short, _ in demo_configs(["point_transformer", "pointnet2"])] == ["point_transformer",
                                                                                        "pointnet2"]
    found += demo_configs(["pointnet2", "point_transformer"])
    for _, path in found:
        cfg = load_config(path)
        assert cfg.data.dataset == "s3dis"
    with pytest.raises(PcsegError, match="valid: .*pointnet"):
        demo_configs(["nope"])


def test_demo_end_to_end_on_a_tiny_config(tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    cfg = load_config(CONFIG_DIR / "demo_pointnet.yaml",
                      ["train.epochs=2", "train.max_steps_per_epoch=5", "data.num_points=128", "train.batch_size=4",
                       "data.num_workers=0", "data.min_block_points=20"])
    save_config(cfg, configs / "demo_pointnet.yaml")
    out = tmp_path / "demo"
    rows = demo(out, seed=1, points_per_room=2000, config_dir=configs)
    (row,) = rows
    assert row["model"] == "pointnet" and 0 <= row["miou"] <= 1 and row["points"] > 0
    assert (out / "pointnet" / "metrics.json").is_file()
    assert (out / "pointnet" / "run" / "last.pt").is_file()
    assert row["ply"] is not None and row["ply"].is_file() and row["ply"].name.endswith("_pred.ply")
    summary = (out / "summary.md").read_text()
    assert "| pointnet (pointnet) |" in summary and f"{100 * row['miou']:.1f}" in summary
    if row["picture"] is not None:
        assert f"]({Path(row['picture']).relative_to(out)})" in summary
    # a second run reuses the data; another seed makes new rooms
    stamp = (out / "data" / "demo_data.json").stat().st_mtime_ns
    assert prepare_data(out / "data", seed=1, points_per_room=2000) == out / "data" / "cache"
    assert (out / "data" / "demo_data.json").stat().st_mtime_ns == stamp
    prepare_data(out / "data", seed=2, points_per_room=2000)
    assert (out / "data" / "demo_data.json").stat().st_mtime_ns != stamp
