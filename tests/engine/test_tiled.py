"""Tile-by-tile segmentation of streamed clouds gives what the whole-cloud path gives."""

import re

import numpy as np
import pytest
import torch

from pcseg.cli import main
from pcseg.config import Config
from pcseg.data.blocks import room_grid
from pcseg.engine.inference import predict_cloud
from pcseg.engine.tiled import iter_tile_scores, plan_tiles, stream_grid
from pcseg.io.cloud import Cloud
from pcseg.io.files import read_cloud, write_ply
from pcseg.io.stream import open_stream
from pcseg.models import create_model


def tiny_model(cfg: Config) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("pointnet", num_classes=13, in_channels=3 * len(cfg.data.features), width=0.25).eval()


def cfg_for(block: float, stride: float) -> Config:
    cfg = Config()
    cfg.data.block_size, cfg.data.eval_stride, cfg.data.num_points = block, stride, 256
    cfg.train.batch_size = 8
    return cfg


def room_file(path, n=12000, colour=True, seed=0):
    rng = np.random.default_rng(seed)
    xyz = rng.uniform([0, 0, 0], [6.3, 4.2, 3.0], (n, 3))
    xyz[: n // 10, :2] = rng.uniform([1.0, 1.0], [1.6, 1.4], (n // 10, 2))   # a dense corner
    cols = [xyz, rng.integers(0, 256, (n, 3))] if colour else [xyz]
    arr = np.column_stack(cols).astype(np.float32)
    arr[7, 0] = np.nan
    np.save(path, arr)
    return path


def room_ply(path, n=12000, seed=0):
    """room_file's points with colour, normals and labels, as a binary PLY (with the NaN point)."""
    arr = np.load(room_file(path.with_suffix(".npy"), n=n, seed=seed))
    rng = np.random.default_rng(seed + 1)
    normal = rng.normal(size=(n, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    write_ply(path, Cloud(arr[:, :3], color=arr[:, 3:6] / 255.0, normal=normal, label=rng.integers(0, 13, n)))
    return path


def test_ply_tiles_carry_normals(tmp_path):
    cfg = cfg_for(1.0, 0.5)
    cfg.data.features = ["xyz", "rgb", "normal"]
    model = tiny_model(cfg)
    path = room_ply(tmp_path / "room.ply")
    whole = predict_cloud(model, read_cloud(path), cfg, "cpu")
    stream = open_stream(path, chunk_rows=1000)
    assert stream.has_color and stream.has_label and stream.dropped == 1
    got = torch.full_like(whole, -1.0)
    for index, scores in iter_tile_scores(model, stream, cfg, "cpu", tile_points=2500):
        got[torch.from_numpy(index)] = scores
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize("block, stride, colour", [(1.0, 0.5, True), (1.0, 0.3, True), (1.5, 0.5, False)])
def test_tiles_give_the_whole_cloud_scores(tmp_path, block, stride, colour):
    cfg = cfg_for(block, stride)
    model = tiny_model(cfg)
    path = room_file(tmp_path / "room.npy", colour=colour)
    whole = predict_cloud(model, read_cloud(path), cfg, "cpu")
    stream = open_stream(path, chunk_rows=1000)
    got = torch.full_like(whole, -1.0)
    seen = np.zeros(len(whole), dtype=int)
    tiles = 0
    for index, scores in iter_tile_scores(model, stream, cfg, "cpu", tile_points=2500):
        got[torch.from_numpy(index)] = scores
        seen[index] += 1
        tiles += 1
    assert tiles >= 6
    assert (seen == 1).all()                         # the tile cores partition the cloud
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-6)


def test_plan_tiles_partitions_the_grid_and_keeps_the_limit():
    grid = room_grid(np.zeros(3), np.array([20.0, 9.0, 3.0]), 1.0, 0.5)
    counts = np.random.default_rng(0).integers(0, 200, (grid.ncx, grid.ncy))
    counts[3, 4] = 5000                              # one cell above the limit still gets a tile
    tiles = plan_tiles(grid, counts, 3000)
    owner = np.zeros((grid.ncx, grid.ncy), dtype=int)
    for x0, x1, y0, y1 in tiles:
        owner[x0:x1, y0:y1] += 1
        wx0, wx1, wy0, wy1 = grid.window(max(0, x0 - 1), min(x1, grid.nbx), max(0, y0 - 1), min(y1, grid.nby))
        if (x1 - x0) * (y1 - y0) > 1:
            assert counts[wx0:wx1, wy0:wy1].sum() <= 3000
    assert (owner == 1).all()


def test_stream_grid_counts_every_point(tmp_path):
    path = room_file(tmp_path / "room.npy")
    stream = open_stream(path, chunk_rows=999)
    grid, counts = stream_grid(stream, cfg_for(1.0, 0.5))
    assert counts.shape == (grid.ncx, grid.ncy) and counts.sum() == stream.n == 12000 - 1


def test_segment_cli_tiled_equals_whole_and_fails_cleanly(tmp_path, capsys):
    from pcseg.classes import S3DIS
    from pcseg.config import config_to_dict
    from pcseg.engine.checkpoint import save_checkpoint

    cfg = cfg_for(1.0, 0.5)
    model = tiny_model(cfg)
    ckpt = tmp_path / "m.pt"
    save_checkpoint(ckpt, {"model": "pointnet", "model_args": {"num_classes": 13, "in_channels": 9, "width": 0.25},
                           "class_set": "s3dis", "class_names": list(S3DIS.names), "config": config_to_dict(cfg),
                           "epoch": 0, "step": 0, "state_dict": model.state_dict()})
    path = room_file(tmp_path / "room.npy", n=6000)
    args = ["--checkpoint", str(ckpt)]
    assert main(["segment", str(path), *args, "--out", str(tmp_path / "whole")]) == 0
    assert main(["segment", str(path), *args, "--out", str(tmp_path / "tiled"), "--tile-points", "1500"]) == 0
    assert "in tiles" in capsys.readouterr().err
    for name in ("room.npy", "room.ply"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "tiled" / name).read_bytes(), name
    # a binary PLY input (colour, normals, its own labels) likewise
    ply = room_ply(tmp_path / "scan.ply", n=6000, seed=3)
    assert main(["segment", str(ply), *args, "--out", str(tmp_path / "whole")]) == 0
    whole_err = capsys.readouterr().err
    assert main(["segment", str(ply), *args, "--out", str(tmp_path / "tiled"), "--tile-points", "1000"]) == 0
    tiled_err = capsys.readouterr().err
    assert "in tiles" in tiled_err and "in tiles" not in whole_err
    assert re.findall(r"mIoU \S+ OA \S+", whole_err) == re.findall(r"mIoU \S+ OA \S+", tiled_err) != []
    for name in ("scan.npy", "scan.ply"):
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "tiled" / name).read_bytes(), name
    # a truncated big file: one line naming it, exit status 2, nothing written for it
    data = path.read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    assert main(["segment", str(tmp_path / "cut.npy"), *args, "--out", str(tmp_path / "o"),
                 "--tile-points", "1000"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pcseg: error:")]
    assert len(err) == 1 and "cut.npy" in err[0]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_tiles_with_tta_give_the_whole_cloud_tta_scores(tmp_path):
    # `segment --tta` on a cloud read in tiles: each chunk turned, the same scores as on the whole cloud
    cfg = cfg_for(1.0, 0.5)
    cfg.data.features = ["xyz", "rgb", "normal"]
    model = tiny_model(cfg)
    path = room_ply(tmp_path / "room.ply")
    whole = predict_cloud(model, read_cloud(path), cfg, "cpu", tta=True)
    assert not torch.allclose(whole, predict_cloud(model, read_cloud(path), cfg, "cpu"))
    got = torch.full_like(whole, -1.0)
    for index, scores in iter_tile_scores(model, open_stream(path, chunk_rows=1000), cfg, "cpu",
                                          tile_points=2500, tta=True):
        got[torch.from_numpy(index)] = scores
    torch.testing.assert_close(got, whole, rtol=0, atol=1e-6)
