import pickle

import numpy as np
import pytest
import torch

from pcseg.classes import S3DIS, SEMANTICKITTI
from pcseg.config import load_config
from pcseg.errors import PcsegError
from pcseg.io.cloud import Cloud
from pcseg.range.dataset import build_range_datasets, range_val_clouds
from pcseg.range.projection import KITTI_MEAN, KITTI_STD, project
from pcseg.range.viewpoints import room_viewpoints


def box_room(rng: np.random.Generator, size=(6.0, 4.0, 3.0), n=20_000, origin=(10.0, -3.0, 0.5)) -> Cloud:
    """A box room: floor, ceiling, 4 walls and a table, S3DIS classes, colours in [0, 1]."""
    sx, sy, sz = size
    parts = []

    def plane(axis, value, lo, hi, cls, count):
        p = rng.uniform(lo, hi, (count, 3))
        p[:, axis] = value
        parts.append((p, np.full(count, cls)))

    plane(2, 0.0, (0, 0, 0), (sx, sy, 0), S3DIS.index("floor"), n // 5)
    plane(2, sz, (0, 0, 0), (sx, sy, 0), S3DIS.index("ceiling"), n // 5)
    for axis, value in ((0, 0.0), (0, sx), (1, 0.0), (1, sy)):
        plane(axis, value, (0, 0, 0), (sx, sy, sz), S3DIS.index("wall"), n // 10)
    plane(2, 0.75, (1, 1, 0), (2.5, 2, 0), S3DIS.index("table"), n // 5)
    coord = np.concatenate([p for p, _ in parts]) + np.asarray(origin)
    label = np.concatenate([c for _, c in parts])
    color = S3DIS.colorize(label) * 0.8 + rng.uniform(0, 0.2, (len(label), 3))
    return Cloud(coord, color=color, label=label)


@pytest.fixture(scope="module")
def s3dis_cache(tmp_path_factory):
    from pcseg.data.prepare import write_room

    root = tmp_path_factory.mktemp("cache")
    rng = np.random.default_rng(0)
    for area, room, size in ((1, "office_1", (6, 4, 3)), (1, "office_2", (4, 5, 2.8)), (5, "office_1", (5, 5, 3))):
        write_room(root, f"Area_{area}", room, box_room(rng, size))
    return root


@pytest.fixture(scope="module")
def lidar_root(tmp_path_factory):
    from pcseg.data.synth_lidar import synth_lidar

    root = tmp_path_factory.mktemp("lidar")
    synth_lidar(root, sequences=["00", "08"], scans=2, seed=1)
    return root


def kitti_cfg(root, *extra):
    return load_config(None, [f"data.dataset=semantickitti", f"data.root={root}", "data.train_sequences=[0]",
                              "data.val_sequences=['08']", "model.name=unet", "range.width=512", *extra])


def s3dis_cfg(root, *extra):
    return load_config(None, [f"data.root={root}", "data.test_area=5", "model.name=deeplabv3plus",
                              "range.height=32", "range.width=128", "range.fov_up=60", "range.fov_down=-60",
                              "range.viewpoints=3", *extra])


def test_kitti_items_are_pixelwise_labelled_scans(lidar_root):
    cfg = kitti_cfg(lidar_root, "range.augment=false")
    ds, val = build_range_datasets(cfg, seed=0)
    assert len(ds) == 2 and [name for name, _ in val] == ["08_000000", "08_000001"]
    assert ds.spec.mean == KITTI_MEAN and ds.spec.std == KITTI_STD and cfg.range.mean is None
    item = ds[1]
    assert item["image"].shape == (5, 64, 512) and item["image"].dtype == torch.float32
    assert item["label"].shape == (64, 512) and item["label"].dtype == torch.int64
    # every labelled pixel carries the label of the point that won it; empty pixels are ignored and zero
    cloud = ds.sources[1]()
    proj = project(torch.from_numpy(cloud.coord), 64, 512, 3.0, -25.0)
    idx = proj.index
    lab = item["label"]
    assert torch.equal(lab[idx >= 0], torch.from_numpy(cloud.label)[idx[idx >= 0]])
    assert bool((lab[idx < 0] == -1).all()) and float(item["image"][:, idx < 0].abs().sum()) == 0.0
    # channel 0 is the normalised range of the winning point
    r = torch.linalg.vector_norm(torch.from_numpy(cloud.coord), dim=1)
    want = (r[idx[idx >= 0]] - KITTI_MEAN[0]) / KITTI_STD[0]
    assert torch.allclose(item["image"][0][idx >= 0], want, atol=1e-5)
    assert set(torch.unique(lab).tolist()) <= set(range(-1, SEMANTICKITTI.num_classes))


def test_normal_channels_reach_the_image_and_get_measured_statistics(lidar_root, capsys):
    cfg = kitti_cfg(lidar_root, "range.augment=false", "range.channels=[range, remission, nx, ny, nz]",
                    "model.args={in_channels: 5}")
    ds, _ = build_range_datasets(cfg, seed=0)
    # not the KITTI channels, so the statistics are measured on the training scans and kept in the config
    assert ds.spec.channels == ("range", "remission", "nx", "ny", "nz") and len(cfg.range.mean) == 5
    assert "normalisation" in capsys.readouterr().err
    mean, std = cfg.range.mean, cfg.range.std
    assert 0.3 < mean[4] < 0.9 and all(0.1 < s < 1.0 for s in std[2:])   # much ground facing up, walls not
    item = ds[0]
    cloud = ds.sources[0]()
    proj = project(torch.from_numpy(cloud.coord), 64, 512, 3.0, -25.0)
    road = (item["label"] == SEMANTICKITTI.index("road")) & (proj.index >= 0)
    nz = item["image"][4][road] * std[4] + mean[4]
    assert float((nz > 0.95).float().mean()) > 0.9                       # level road faces straight up
    building = (item["label"] == SEMANTICKITTI.index("building")) & (proj.index >= 0)
    assert float((item["image"][4][building] * std[4] + mean[4]).abs().median()) < 0.2


def test_augmentation_is_seeded_by_epoch_and_index(lidar_root):
    ds, _ = build_range_datasets(kitti_cfg(lidar_root), seed=7)
    a = ds[0]
    assert torch.equal(ds[0]["image"], a["image"])                 # same (seed, epoch, index)
    ds.set_epoch(1)
    b = ds[0]
    assert not torch.equal(b["image"], a["image"])
    # a rotation / mirror keeps the scan: the same number of labelled pixels up to pixel collisions
    assert abs(int((b["label"] >= 0).sum()) - int((a["label"] >= 0).sum())) < 0.05 * int((a["label"] >= 0).sum())
    other, _ = build_range_datasets(kitti_cfg(lidar_root), seed=7)
    other.set_epoch(1)
    assert torch.equal(pickle.loads(pickle.dumps(other))[0]["image"], b["image"])


def test_train_crop_is_a_wrapping_window_of_the_whole_image(lidar_root):
    whole, _ = build_range_datasets(kitti_cfg(lidar_root, "range.augment=false"), seed=3)
    cropped, _ = build_range_datasets(kitti_cfg(lidar_root, "range.augment=false", "range.train_crop=200"), seed=3)
    full, item = whole[0], cropped[0]
    assert item["image"].shape == (5, 64, 200) and item["label"].shape == (64, 200)
    # the window is 200 consecutive columns of the whole image, wrapping round the end of the turn
    starts = [s for s in range(512) if torch.equal(item["label"], full["label"][:, (s + torch.arange(200)) % 512])
              and torch.equal(item["image"], full["image"][..., (s + torch.arange(200)) % 512])]
    assert len(starts) >= 1
    # the window moves with the epoch and the item, and is pinned by them
    cropped.set_epoch(1)
    assert not torch.equal(cropped[0]["image"], item["image"])
    cropped.set_epoch(0)
    assert torch.equal(cropped[0]["image"], item["image"])
    with pytest.raises(PcsegError, match="range.train_crop"):
        build_range_datasets(kitti_cfg(lidar_root, "range.train_crop=600"), 0)
    with pytest.raises(PcsegError, match="range.train_crop"):
        kitti_cfg(lidar_root, "range.train_crop=0")


def test_s3dis_viewpoints_and_measured_normalisation(s3dis_cache, capsys):
    cfg = s3dis_cfg(s3dis_cache, "model.args={in_channels: 7}")
    ds, val = build_range_datasets(cfg, seed=0)
    assert len(ds) == 2 * 3                                        # 2 training rooms x 3 viewpoints
    assert [name for name, _ in val] == ["Area_5_office_1"]
    assert ds.spec.channels == ("range", "x", "y", "z", "r", "g", "b")
    # the statistics were measured on the training images and written into the config
    assert cfg.range.mean is not None and len(cfg.range.mean) == 7 and list(ds.spec.mean) == cfg.range.mean
    assert 0.5 < cfg.range.mean[0] < 4.0 and all(s > 0 for s in cfg.range.std)
    assert "normalisation" in capsys.readouterr().err
    item = ds[4]
    assert item["image"].shape == (7, 32, 128) and item["label"].shape == (32, 128)
    # indoors from the inside: nearly every pixel sees a surface, floor / ceiling / walls all appear
    assert (item["label"] >= 0).float().mean() > 0.9
    assert {S3DIS.index(c) for c in ("floor", "ceiling", "wall")} <= set(item["label"].unique().tolist())
    # normalised inputs of the training set are roughly standardised
    imgs = torch.stack([ds[i]["image"] for i in range(len(ds))])
    valid = imgs[:, 0] != 0
    assert abs(float(imgs[:, 0][valid].mean())) < 0.5
    counts = ds.class_counts
    assert counts.sum() == sum(len(ds.sources[i]()) for i in range(2))
    assert counts[S3DIS.index("chair")] == 0 and counts[S3DIS.index("floor")] > 0


def test_viewpoints_inside_the_room():
    cloud = box_room(np.random.default_rng(1), (6, 4, 3), origin=(0, 0, 0))
    vps = room_viewpoints(cloud.coord, 5, 1.5)
    assert vps.shape == (5, 3)
    assert np.allclose(vps[0], [3, 2, 1.5], atol=0.1)
    assert np.allclose(vps[:, 2], vps[0, 2])
    assert (vps[:, 0] > 0.5).all() and (vps[:, 0] < 5.5).all() and (vps[:, 1] > 0.5).all() and (vps[:, 1] < 3.5).all()
    assert len({tuple(np.round(v, 3)) for v in vps}) == 5
    jittered = room_viewpoints(cloud.coord, 5, 1.5, np.random.default_rng(0))
    assert not np.allclose(jittered, vps) and np.abs(jittered - vps).max() < 0.8


def test_config_errors(s3dis_cache, lidar_root, tmp_path):
    with pytest.raises(PcsegError, match="in_channels"):
        build_range_datasets(s3dis_cfg(s3dis_cache, "model.args={in_channels: 5}"), 0)
    with pytest.raises(PcsegError, match="unknown channel"):
        build_range_datasets(s3dis_cfg(s3dis_cache, "range.channels=[range, depth]"), 0)
    with pytest.raises(PcsegError, match="also a training area"):
        build_range_datasets(s3dis_cfg(s3dis_cache, "data.train_areas=[1, 5]"), 0)
    with pytest.raises(PcsegError, match="sequence 05 not found"):
        build_range_datasets(kitti_cfg(lidar_root, "data.train_sequences=[5]"), 0)
    with pytest.raises(PcsegError, match="no sequences/ folder"):
        build_range_datasets(kitti_cfg(tmp_path), 0)
    with pytest.raises(PcsegError, match="range.mean"):
        build_range_datasets(kitti_cfg(lidar_root, "range.mean=[1, 2, 3, 4, 5]"), 0)
    with pytest.raises(PcsegError, match="range-image models train on"):
        build_range_datasets(kitti_cfg(lidar_root, "data.dataset=modelnet"), 0)


def test_validation_clouds_need_no_training_data(s3dis_cache, lidar_root):
    # eval needs only the held-out scans / rooms: missing training sequences / areas are fine
    val = range_val_clouds(kitti_cfg(lidar_root, "data.train_sequences=[5]"))
    assert [n for n, _ in val] == ["08_000000", "08_000001"] and len(val[1][1]()) > 60_000
    val = range_val_clouds(s3dis_cfg(s3dis_cache, "data.train_areas=[3]"))
    assert [n for n, _ in val] == ["Area_5_office_1"] and val[0][1]().label is not None
