"""3D smoothing of point scores (pcseg/range/smoothing.py) and its config keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcseg.classes import SEMANTICKITTI
from pcseg.config import load_config
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.range.inference import smoothed, smoothing_skip
from pcseg.range.smoothing import box_means, smooth_scores


def _brute_box_means(coord: np.ndarray, scores: np.ndarray, cell: float) -> np.ndarray:
    g = np.floor(coord / cell).astype(np.int64)
    near = (np.abs(g[:, None, :] - g[None, :, :]) <= 1).all(-1)          # (N, N): within the 3x3x3 box
    return (near.astype(np.float64) @ scores) / near.sum(1, keepdims=True)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_box_means_are_the_means_over_the_neighbouring_cells(backend):
    rng = np.random.default_rng(0)
    # clumps and strays over a few metres, negative coordinates included (the grid's origin moves)
    coord = np.concatenate([rng.normal(0, 0.4, (150, 3)), rng.uniform(-3, 3, (100, 3)) + [5, -2, 1]])
    scores = rng.random((len(coord), 4)).astype(np.float32)
    got = box_means(torch.from_numpy(coord), torch.from_numpy(scores), 0.3, backend).numpy()
    assert np.allclose(got, _brute_box_means(coord, scores.astype(np.float64), 0.3), atol=1e-5)


def test_box_means_refuses_unknown_backends():
    with pytest.raises(ValueError, match="backend"):
        box_means(torch.zeros(2, 3), torch.zeros(2, 4), 0.3, "cuda")


def _car_with_a_patch() -> tuple[torch.Tensor, torch.Tensor]:
    """A 4 x 1.8 x 1.5 m box of points (class 0) 10 % of which the network called class 1, beside 2,000
    road points (class 2) on the ground, 100 of which it called class 0 (so they take part)."""
    rng = np.random.default_rng(1)
    car = rng.uniform([0, 0, 0.3], [4, 1.8, 1.5], (1500, 3))
    road = np.c_[rng.uniform(-5, 10, (2000, 2)), np.zeros(2000)]
    coord = torch.from_numpy(np.concatenate([car, road]))
    scores = torch.zeros(len(coord), 3)
    scores[:1500, 0] = 0.8
    scores[:1500, 1] = 0.2
    patch = torch.from_numpy(rng.random(1500) < 0.1)
    scores[:1500][patch] = torch.tensor([0.3, 0.7, 0.0])
    scores[1500:, 2] = 1.0
    scores[1500:1600] = torch.tensor([0.6, 0.0, 0.4])                   # road the network called car
    return coord, scores


def test_smoothing_takes_a_patch_out_of_a_thing_and_leaves_the_skipped_classes_alone():
    coord, scores = _car_with_a_patch()
    assert (scores[:1500].argmax(1) == 1).sum() > 100
    out = smooth_scores(coord, scores, 0.3, 0.7, skip=[2])
    assert (out[:1500].argmax(1) == 0).all()                            # the patch is car again
    assert torch.equal(out[1600:], scores[1600:])                       # ground points: untouched
    assert torch.equal(smooth_scores(coord, scores, 0.3, 0.0, skip=[2]), scores)
    mean = box_means(coord[:1600], scores[:1600], 0.3)
    assert torch.allclose(smooth_scores(coord, scores, 0.3, 1.0, skip=[2])[:1600], mean)


@pytest.mark.parametrize("cell, weight", [(0.0, 0.5), (-1.0, 0.5), (0.3, 1.5), (0.3, -0.1)])
def test_smoothing_refuses_settings_no_run_can_use(cell, weight):
    coord, scores = _car_with_a_patch()
    with pytest.raises(ValueError):
        smooth_scores(coord, scores, cell, weight)


def test_config_keys_smooth_the_scores_and_name_a_bad_class():
    cfg = load_config(None, ["data.dataset=semantickitti", "range.smooth_cell=0.3", "range.smooth_weight=0.7",
                             "range.smooth_skip=[road, sidewalk]"])
    assert smoothing_skip(cfg) == [SEMANTICKITTI.names.index("road"), SEMANTICKITTI.names.index("sidewalk")]
    coord, scores = _car_with_a_patch()
    scores = torch.nn.functional.pad(scores, (0, 17))                   # 20 SemanticKITTI classes
    cloud = Cloud(coord.numpy().astype(np.float32))
    assert not torch.equal(smoothed(cloud, scores, cfg, []), scores)
    cfg.range.smooth_cell = None
    assert smoothed(cloud, scores, cfg, []) is scores
    cfg.range.smooth_skip = ["road", "pavement"]
    with pytest.raises(PcsegError, match="range.smooth_skip.*pavement"):
        smoothing_skip(cfg)
    for override, key in (("range.smooth_cell=0", "range.smooth_cell"),
                          ("range.smooth_weight=2", "range.smooth_weight")):
        with pytest.raises(PcsegError, match=key):
            load_config(None, [override])


def test_smooth_sweep_refuses_bad_settings_in_one_line(tmp_path, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import smooth_sweep

    bad = tmp_path / "lidar.pt"
    bad.write_bytes(b"not a checkpoint")
    for argv, named in ((["--weights", "1.5"], "1.5"), (["--cells", "0"], "--cells"),
                        (["--skip", "road", "pavement"], "pavement"), (["--checkpoint", str(bad)], "lidar.pt")):
        assert smooth_sweep.main(argv + ["--work", str(tmp_path / "streets")]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("smooth_sweep: ") and named in err[0], (argv, err)
    assert not (tmp_path / "streets").exists()                          # nothing synthesised for a bad call
