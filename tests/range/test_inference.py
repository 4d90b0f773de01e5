import numpy as np
import pytest
import torch

from pcseg.classes import S3DIS
from pcseg.config import load_config
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.models.unet import UNet
from pcseg.range.dataset import view_coords, view_values
from pcseg.range.inference import predict_scan, visible
from pcseg.range.spec import range_spec
from pcseg.range.viewpoints import room_viewpoints

from .test_dataset import box_room


class ZOracle(torch.nn.Module):
    """A 'network' that labels a pixel from its z channel: class 1 above ``z0``, else class 0 (K = 2, or
    ``classes`` for rooms: 0 / 1 / 2 by height band). Scores only depend on the pixel's point, so any error in
    the per-point result comes from the projection / back-projection."""

    def __init__(self, z_channel: int, bands: list[float]):
        super().__init__()
        self.z = z_channel
        self.bands = bands
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x[:, self.z]
        logits = [torch.zeros_like(z)]
        for b in self.bands:
            logits.append(logits[-1] + 20 * (z - b))
        return torch.stack(logits, 1)


def street(seed: int = 0, cols: int = 1024) -> Cloud:
    """A scan-like scene: the ground (class 0) where the rays of a 64-beam HDL-64E pattern meet it 1.73 m below
    the sensor, and boxes standing on it (class 1, points inside their volume). Ground points in the shadow of
    a box (invisible to a real sensor) are left out."""
    from pcseg.data.synth_lidar import beam_directions

    rng = np.random.default_rng(seed)
    d = beam_directions(64, cols).astype(np.float64)
    d = d[d[:, 2] < -0.02]
    g = d * (-1.73 / d[:, 2])[:, None]
    g = g[np.linalg.norm(g, axis=1) < 40]
    objs = []
    shadow = np.zeros(len(g), dtype=bool)
    for _ in range(40):
        c = rng.uniform(-25, 25, 2)
        if np.linalg.norm(c) < 4:
            continue
        lo = np.array([c[0] - 0.5, c[1] - 0.5, -1.68])
        hi = np.array([c[0] + 0.5, c[1] + 0.5, 0.32])
        objs.append(rng.uniform(lo, hi, (600, 3)))
        # slab test: does the segment sensor -> ground point cross this box?
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = lo / g, hi / g
        t_near = np.nanmax(np.minimum(t1, t2), axis=1)
        t_far = np.nanmin(np.maximum(t1, t2), axis=1)
        shadow |= (t_far >= np.maximum(t_near, 0)) & (t_near < 1)
    g = g[~shadow]
    obj = np.concatenate(objs)
    coord = np.concatenate([g, obj])
    label = np.concatenate([np.zeros(len(g)), np.ones(len(obj))]).astype(np.int64)
    return Cloud(coord, intensity=rng.uniform(0, 1, len(coord)), label=label)


def kitti_cfg(*extra):
    return load_config(None, ["data.dataset=semantickitti", "model.name=unet", "range.width=1024",
                              "range.mean=[0, 0, 0, 0, 0]", "range.std=[1, 1, 1, 1, 1]", *extra])


@pytest.mark.parametrize("knn", [True, False])
def test_every_point_gets_scores_and_the_right_class(knn):
    cloud = street()
    cfg = kitti_cfg(f"range.knn={str(knn).lower()}")
    scores = predict_scan(ZOracle(3, [-1.73 + 0.03]), cloud, cfg, "cpu")
    assert scores.shape == (len(cloud), 2) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()
    # kNN: vote fractions (at least the point's own vote, 1/5; void votes beyond the cutoff are missing)
    assert bool((scores.sum(1) <= 1 + 1e-5).all()) and bool((scores.sum(1) >= 0.2 - 1e-5).all())
    acc = (scores.argmax(1).numpy() == cloud.label).mean()
    # most points of this scene share their pixel with others (60 m wide, 1024 columns): all are scored
    assert acc > 0.98


def test_knn_fixes_points_hidden_behind_other_classes():
    # ground points (class 0) hidden behind single near points on the same rays (class 1, 'thin poles'):
    # their own pixel says 1; their range neighbours on the ground say 0
    cloud = street()
    ground = np.flatnonzero(cloud.label == 0)
    r = np.linalg.norm(cloud.coord[ground], axis=1)
    picks = ground[(r > 10) & (r < 14)][::7][:30]
    poles = cloud.coord[picks] * (5.0 / 12.0)
    coord = np.concatenate([cloud.coord, poles])
    label = np.concatenate([cloud.label, np.ones(len(poles), np.int64)])
    c = Cloud(coord, intensity=np.zeros(len(coord)), label=label)
    model = ZOracle(3, [-1.2])             # class 1 above z = -1.2: poles (z <= -0.6) 1, the ground 0
    with_knn = predict_scan(model, c, kitti_cfg("range.knn=true"), "cpu").argmax(1).numpy()[picks]
    without = predict_scan(model, c, kitti_cfg("range.knn=false"), "cpu").argmax(1).numpy()[picks]
    assert len(picks) == 30
    assert (without == 1).all()                            # the pixel belongs to the pole
    assert (with_knn == 0).all()                           # range neighbours outvote it


def test_room_from_several_viewpoints_scores_hidden_points():
    rng = np.random.default_rng(2)
    room = box_room(rng, (6, 4, 3), origin=(0, 0, 0))
    # a closed cupboard: its inside is visible from no viewpoint
    inside = rng.uniform([4.6, 0.2, 0.2], [5.4, 0.8, 1.0], (500, 3))
    shell = []
    for axis in range(3):
        for v in ((4.5, 5.5), (0.1, 0.9), (0.0, 1.2))[axis]:
            p = rng.uniform([4.5, 0.1, 0.0], [5.5, 0.9, 1.2], (600, 3))
            p[:, axis] = v
            shell.append(p)
    coord = np.concatenate([room.coord, np.concatenate(shell), inside])
    label = np.concatenate([room.label, np.full(3600 + 500, S3DIS.index("clutter"))])
    cloud = Cloud(coord, color=np.full((len(coord), 3), 0.5), label=label)
    cfg = load_config(None, ["model.name=unet", "range.height=64", "range.width=256", "range.fov_up=70",
                             "range.fov_down=-70", "range.viewpoints=3", "range.visible_tolerance=0.2",
                             "range.knn=false",
                             "range.mean=[0, 0, 0, 0, 0, 0, 0]", "range.std=[1, 1, 1, 1, 1, 1, 1]"])
    # z in the viewpoint frame (1.5 m above the floor): floor < -1.4 < table/clutter < 1.4 < ceiling
    model = ZOracle(3, [-1.4, 1.4])
    scores = predict_scan(model, cloud, cfg, "cpu")
    assert scores.shape == (len(cloud), 3) and torch.isfinite(scores).all()
    # the cupboard's inside is seen from no viewpoint, yet it is scored (from its nearest seen neighbours)
    spec = range_spec(cfg)
    seen = torch.zeros(len(cloud), dtype=torch.int64)
    for origin in room_viewpoints(cloud.coord, 3, 1.5):
        proj, _ = view_values(cloud, view_coords(cloud.coord, origin), spec)
        seen += visible(proj, 0.2).long()
    assert int((seen[-500:] == 0).sum()) > 350 and bool((seen[:len(room)] > 0).float().mean() > 0.9)
    assert torch.allclose(scores.sum(1), torch.ones(len(cloud)), atol=1e-4)    # averaged probabilities
    pred = scores.argmax(1).numpy()
    floor, ceiling = S3DIS.index("floor"), S3DIS.index("ceiling")
    band = np.where(label == floor, 0, np.where(label == ceiling, 2, 1))
    keep = np.isin(label, [floor, ceiling])
    assert (pred[keep] == band[keep]).mean() > 0.97
    assert (pred[:len(room)] == band[:len(room)]).mean() > 0.95


def test_deterministic_and_clear_errors():
    cloud = street(5000)
    torch.manual_seed(0)
    model = UNet(5, 3, width=4, depth=2)
    cfg = kitti_cfg()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = predict_scan(model, cloud, cfg, "cpu")
        assert torch.get_num_threads() == 2                 # the single-thread sections restore the setting
    finally:
        torch.set_num_threads(before)
    b = predict_scan(model, cloud, cfg, "cpu")
    assert torch.equal(a, b)
    with pytest.raises(PcsegError, match="multiples of 4.*64x1022"):
        predict_scan(model, cloud, kitti_cfg("range.width=1022"), "cpu")
    with pytest.raises(PcsegError, match="range.mean"):
        predict_scan(model, cloud, load_config(None, ["model.name=unet", "range.channels=[range, z]"]), "cpu")
    with pytest.raises(PcsegError, match="no points"):
        predict_scan(model, Cloud(np.zeros((0, 3))), cfg, "cpu")


def test_tta_is_the_mean_of_the_scan_and_its_mirror_image():
    cloud = street(1)
    cfg = kitti_cfg()
    model = ZOracle(2, [0.0])                     # class 1 where the pixel's y > 0: not mirror-symmetric
    plain = predict_scan(model, cloud, cfg, "cpu")
    mirrored = Cloud(cloud.coord * np.array([1, -1, 1], dtype=np.float32), intensity=cloud.intensity)
    mirror = predict_scan(model, mirrored, cfg, "cpu")
    tta = predict_scan(model, cloud, cfg, "cpu", tta=True)
    assert not torch.allclose(plain, mirror)
    torch.testing.assert_close(tta, (plain + mirror) / 2)


def test_unweight_labels_divides_the_probabilities_before_the_vote():
    """With train.unweight_labels the class probabilities are divided by the loss's class weights before the
    argmax and the kNN vote: a class weighted 50x in the loss needs a 50x larger probability to win."""
    cloud = street()
    oracle = ZOracle(3, [-1.70])
    plain = predict_scan(oracle, cloud, kitti_cfg("range.knn=false"), "cpu")
    weights = "train.class_weight_values=[1.0, 50.0]"
    fixed = predict_scan(oracle, cloud, kitti_cfg("range.knn=false", "train.unweight_labels=true", weights), "cpu")
    expect = plain * torch.tensor([1.0, 1 / 50])
    torch.testing.assert_close(fixed, expect / expect.sum(1, keepdim=True))
    flipped = (plain.argmax(1) == 1) & (fixed.argmax(1) == 0)
    assert int(flipped.sum()) > 100 and int((fixed.argmax(1) == 1).sum()) > 1000
    voted = predict_scan(oracle, cloud, kitti_cfg("train.unweight_labels=true", weights), "cpu").argmax(1)
    assert float((voted == fixed.argmax(1)).float().mean()) > 0.95           # the kNN votes the divided labels
    with pytest.raises(PcsegError, match="train.unweight_labels"):
        predict_scan(oracle, cloud, kitti_cfg("train.unweight_labels=true"), "cpu")
