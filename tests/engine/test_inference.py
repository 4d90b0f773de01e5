import numpy as np
import pytest
import torch

from pcseg.config import Config
from pcseg.engine.inference import fill_from_nearest, predict_cloud
from pcseg.io.cloud import Cloud
from pcseg.models.pointnet import PointNetSeg


def _room(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    coord = rng.uniform([0, 0, 0], [3.2, 2.1, 2.5], size=(n, 3)).astype(np.float32)
    return Cloud(coord, color=rng.uniform(0, 1, (n, 3)), label=(coord[:, 0] > 1.6).astype(np.int64))


def _cfg(num_points=256, batch=4):
    cfg = Config()
    cfg.data.num_points = num_points
    cfg.train.batch_size = batch
    return cfg


class RuleModel(torch.nn.Module):
    """Class 1 where the room-normalised x (feature 6) exceeds 0.5, else class 0 - a known answer."""

    def forward(self, features, coord):
        x = features[:, 6]                                      # (B, N)
        logit = 20 * (x - 0.5)
        return torch.stack([-logit, logit], dim=1)              # (B, 2, N)


def test_scores_cover_every_point_and_average_probabilities():
    cloud = _room()
    scores = predict_cloud(RuleModel(), cloud, _cfg(), "cpu")
    assert scores.shape == (len(cloud), 2) and scores.dtype == torch.float32
    torch.testing.assert_close(scores.sum(1), torch.ones(len(cloud)))
    x_norm = (cloud.coord[:, 0] - cloud.coord[:, 0].min()) / np.ptp(cloud.coord[:, 0])
    far = np.abs(x_norm - 0.5) > 0.05
    np.testing.assert_array_equal(scores.argmax(1).numpy()[far], (x_norm > 0.5)[far])


def test_batching_does_not_change_scores_and_is_deterministic():
    torch.manual_seed(0)
    model = PointNetSeg(num_classes=13, width=0.25)
    cloud = _room(2000)
    a = predict_cloud(model, cloud, _cfg(batch=1), "cpu")
    b = predict_cloud(model, cloud, _cfg(batch=7), "cpu")
    c = predict_cloud(model, cloud, _cfg(batch=7), "cpu")
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert torch.equal(b, c)
    assert not model.training                  # predict_cloud puts the model in eval mode


def test_cloud_without_colour_gets_grey_with_a_warning(capsys):
    cloud = _room(500)
    bare = Cloud(cloud.coord)
    scores = predict_cloud(RuleModel(), bare, _cfg(), "cpu")
    assert scores.shape == (500, 2)
    assert "no colour" in capsys.readouterr().err


def test_fill_from_nearest():
    coord = np.array([[0, 0, 0], [1, 0, 0], [0.1, 0, 0], [0.9, 0, 0]], dtype=np.float32)
    scores = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    out = fill_from_nearest(coord, scores, np.array([True, True, False, False]))
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))


def test_empty_cloud_is_a_clear_error():
    from pcseg.errors import PcsegError

    with pytest.raises(PcsegError, match="no points"):
        predict_cloud(RuleModel(), Cloud(np.zeros((0, 3))), _cfg(), "cpu")


class LocalXModel(torch.nn.Module):
    """Class 1 where the block-local x exceeds 0, read from the xyz channel or from ``coord``."""

    def __init__(self, from_coord: bool):
        super().__init__()
        self.from_coord = from_coord

    def forward(self, features, coord):
        x = coord[..., 0] if self.from_coord else features[:, 0]
        logit = 20 * x
        return torch.stack([-logit, logit], dim=1)


@pytest.mark.parametrize("from_coord", [False, True])
def test_tta_averages_the_four_turns(from_coord):
    # turned by 0/90/180/270 degrees the local x is x, y, -x, -y: the four softmaxes of a model of x alone
    # average to exactly one half for every point, whichever of coord and the xyz channel it reads
    cloud = _room(1500)
    plain = predict_cloud(LocalXModel(from_coord), cloud, _cfg(), "cpu")
    assert plain[:, 1].min() < 0.01 and plain[:, 1].max() > 0.99
    tta = predict_cloud(LocalXModel(from_coord), cloud, _cfg(), "cpu", tta=True)
    torch.testing.assert_close(tta, torch.full_like(tta, 0.5), atol=1e-5, rtol=0)


def test_tta_leaves_room_normalised_xyz_and_colour_alone():
    # training turns a block's local coordinates, not its place in the room (xyz_norm): a model of xyz_norm
    # gets the same scores with and without TTA
    cloud = _room(1500)
    torch.testing.assert_close(predict_cloud(RuleModel(), cloud, _cfg(), "cpu", tta=True),
                               predict_cloud(RuleModel(), cloud, _cfg(), "cpu"))


def test_turned_turns_coord_xyz_and_normal_channels():
    from pcseg.engine.inference import _turned

    g = torch.Generator().manual_seed(0)
    feats, coord = torch.rand(2, 12, 5, generator=g), torch.rand(2, 5, 3, generator=g)
    names = ["xyz", "rgb", "xyz_norm", "normal"]
    f, c = _turned(feats, coord, names, 90)
    torch.testing.assert_close(c, torch.stack([-coord[..., 1], coord[..., 0], coord[..., 2]], -1))
    for start in (0, 9):                               # xyz and normal: (x, y) -> (-y, x), z kept
        torch.testing.assert_close(f[:, start], -feats[:, start + 1])
        torch.testing.assert_close(f[:, start + 1], feats[:, start])
        torch.testing.assert_close(f[:, start + 2], feats[:, start + 2])
    torch.testing.assert_close(f[:, 3:9], feats[:, 3:9])
    for _ in range(3):
        f, c = _turned(f, c, names, 90)
    torch.testing.assert_close(f, feats) and torch.testing.assert_close(c, coord)
    assert _turned(feats, coord, names, 0)[0] is feats
