"""Block sampling (PointNet protocol) and the transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pcseg.data.blocks import BlockDataset, batch_eval_blocks, iter_eval_blocks
from pcseg.data.transforms import Compose, RandomFlipXY, RandomJitter, RandomRotateZ, RandomScale
from pcseg.io.cloud import Cloud


def make_room(n: int = 3000, size=(2.7, 3.3, 2.5), seed: int = 0, normals: bool = False) -> Cloud:
    """Random points in a box; the label is a function of position (x band), so it can be checked."""
    rng = np.random.default_rng(seed)
    coord = rng.random((n, 3)) * np.array(size) + np.array([10.0, -4.0, 0.3])
    label = np.floor((coord[:, 0] - 10.0) / 0.5).astype(np.int64)
    normal = None
    if normals:
        normal = rng.normal(size=(n, 3))
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    return Cloud(coord, color=rng.random((n, 3)), label=label, normal=normal)


def brute_force_membership(cloud: Cloud, block_size: float, stride: float) -> np.ndarray:
    """(N,) number of columns each point falls in, straight from the reference's definition
    (columns start at i*stride from the room minimum, n = ceil((extent - block) / stride) + 1, the last
    column reaches the room edge)."""
    xy = cloud.coord[:, :2].astype(np.float64)
    lo, hi = xy.min(0), xy.max(0)
    counts = np.ones(len(xy), dtype=np.int64)
    for a in range(2):
        n = max(1, math.ceil((hi[a] - lo[a] - block_size) / stride) + 1)
        per_axis = np.zeros(len(xy), dtype=np.int64)
        for i in range(n):
            beg = lo[a] + i * stride
            inside = xy[:, a] >= beg
            if i < n - 1:
                inside &= xy[:, a] < beg + block_size
            per_axis += inside
        counts *= per_axis
    return counts


@pytest.mark.parametrize("block_size,stride", [(1.0, 0.5), (1.0, 0.4), (1.0, 1.0)])
def test_eval_blocks_cover_every_point(block_size, stride):
    cloud = make_room()
    seen = np.zeros(len(cloud), dtype=np.int64)
    for block in iter_eval_blocks(cloud, block_size=block_size, stride=stride, num_points=64):
        assert block["features"].shape == (9, 64) and block["features"].dtype == np.float32
        assert block["coord"].shape == (64, 3)
        real = block["index"][~block["pad"]]
        assert len(np.unique(real)) == len(real)          # no point twice in one chunk
        np.add.at(seen, real, 1)
    assert seen.min() >= 1
    # each point is seen exactly once per column that contains it
    expected = brute_force_membership(cloud, block_size, stride)
    assert (seen == expected).all()
    if stride == 0.5:
        assert (seen == 4).mean() > 0.3                   # interior points lie in 4 columns


def test_eval_padding_marks_duplicates_and_small_room():
    cloud = make_room(n=300, size=(0.8, 0.7, 2.0))        # smaller than one block, fewer than num_points
    blocks = list(iter_eval_blocks(cloud, num_points=4096))
    assert len(blocks) == 1
    (b,) = blocks
    assert b["pad"].sum() == 4096 - 300
    assert sorted(b["index"][~b["pad"]]) == list(range(300))
    assert set(b["index"][b["pad"]]) <= set(range(300))
    # padded entries carry the features of the point they repeat
    first = {int(i): k for k, i in enumerate(b["index"]) if not b["pad"][k]}
    k = int(np.flatnonzero(b["pad"])[0])
    np.testing.assert_array_equal(b["features"][:, k], b["features"][:, first[int(b["index"][k])]])


def test_eval_blocks_deterministic_and_batched():
    cloud = make_room()
    a = list(iter_eval_blocks(cloud, num_points=256))
    b = list(iter_eval_blocks(cloud, num_points=256))
    assert len(a) == len(b)
    assert all((x["index"] == y["index"]).all() and (x["features"] == y["features"]).all() for x, y in zip(a, b))
    batches = list(batch_eval_blocks(iter(a), batch_size=4))
    assert [len(x["index"]) for x in batches] == [4] * (len(a) // 4) + ([len(a) % 4] if len(a) % 4 else [])
    assert batches[0]["features"].shape == (4, 9, 256) and batches[0]["coord"].shape == (4, 256, 3)
    with pytest.raises(ValueError):
        next(iter_eval_blocks(cloud, block_size=1.0, stride=1.5))


def test_training_block_features():
    cloud = make_room(n=20000)
    ds = BlockDataset([cloud], num_points=512, min_points=50, seed=3)
    lo, hi = cloud.coord.min(0), cloud.coord.max(0)
    assert len(ds) > 10
    for i in range(len(ds)):
        item = ds[i]
        f = item["features"]
        assert f.shape == (9, 512) and item["label"].shape == (512,) and item["label"].dtype == np.int64
        assert np.abs(f[0:2]).max() <= 0.5 + 1e-5            # x, y centred on the 1 m column
        assert f[2].min() >= 0 and f[2].max() <= hi[2] - lo[2] + 1e-5   # z above the room floor
        assert f[3:6].min() >= 0 and f[3:6].max() <= 1       # rgb
        assert f[6:9].min() >= 0 and f[6:9].max() <= 1 + 1e-6   # xyz / room extent
        np.testing.assert_array_equal(item["coord"], f[0:3].T)
        # features point back to the right points: the label is a function of absolute x
        x_abs = f[6] * (hi[0] - lo[0]) + lo[0]
        band = np.floor((x_abs.astype(np.float64) - 10.0) / 0.5)
        assert (np.abs(band - item["label"]) <= 1).all()
        mismatch = band != item["label"]
        assert mismatch.mean() < 0.01                        # only float32 rounding at band edges


def test_min_points_skips_sparse_blocks():
    cloud = make_room(n=3000)
    all_blocks = BlockDataset([cloud], num_points=64, min_points=1)
    dense = BlockDataset([cloud], num_points=64, min_points=250)
    sizes = [len(all_blocks.block_indices(i)) for i in range(len(all_blocks))]
    assert len(dense) == sum(s >= 250 for s in sizes) < len(all_blocks)


def test_sampling_without_replacement_and_padding():
    cloud = make_room(n=3000)
    ds = BlockDataset([cloud], num_points=64, min_points=1)
    i = int(np.argmax([len(ds.block_indices(k)) for k in range(len(ds))]))
    xyz = ds[i]["coord"]
    assert len(np.unique(xyz, axis=0)) == 64                 # enough points: no repeats
    small = make_room(n=200, size=(0.9, 0.9, 1.0))
    ds = BlockDataset([small], num_points=1024, min_points=10)
    assert len(ds) == 1
    item = ds[0]
    assert item["features"].shape == (9, 1024)
    assert len(np.unique(item["coord"], axis=0)) == 200      # every point, then repeats


def test_training_items_deterministic_by_seed_epoch_index():
    cloud = make_room(n=8000)
    a = BlockDataset([cloud], num_points=128, seed=1)
    b = BlockDataset([lambda: cloud], num_points=128, seed=1)     # lazy source gives the same blocks
    assert len(a) == len(b)
    later = a[len(a) - 1]
    for i in reversed(range(len(a))):                            # access order does not matter
        np.testing.assert_array_equal(a[i]["features"], b[i]["features"])
    np.testing.assert_array_equal(later["features"], b[len(a) - 1]["features"])
    first = a[0]["features"]
    a.set_epoch(1)
    assert not np.array_equal(first, a[0]["features"])
    a.set_epoch(0)
    np.testing.assert_array_equal(first, a[0]["features"])
    c = BlockDataset([cloud], num_points=128, seed=2)
    assert not np.array_equal(first, c[0]["features"])


def test_dataloader_workers_match_single_process():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = BlockDataset([make_room(n=6000)], num_points=64, seed=5)
    one = [b["features"] for b in DataLoader(ds, batch_size=4, num_workers=0)]
    two = [b["features"] for b in DataLoader(ds, batch_size=4, num_workers=2)]
    assert all(torch.equal(x, y) for x, y in zip(one, two)) and len(one) == len(two)


def test_normal_feature_and_errors():
    cloud = make_room(n=3000, normals=True)
    ds = BlockDataset([cloud], num_points=64, features=("xyz", "rgb", "xyz_norm", "normal"))
    f = ds[0]["features"]
    assert f.shape == (12, 64)
    np.testing.assert_allclose(np.linalg.norm(f[9:12], axis=0), 1, atol=1e-5)
    with pytest.raises(ValueError, match="normal"):
        BlockDataset([make_room(n=100)], features=("xyz", "normal"))
    with pytest.raises(ValueError, match="unknown"):
        BlockDataset([cloud], features=("xyz", "curvature"))


def test_transforms_rotate_coord_and_normals_consistently():
    cloud = make_room(n=3000, normals=True)
    aug = Compose([RandomRotateZ(), RandomScale(0.8, 1.2), RandomFlipXY(), RandomJitter(0.01, 0.05)])
    assert repr(aug).startswith("Compose([RandomRotateZ(")
    plain = BlockDataset([cloud], num_points=64, features=("xyz", "normal"), seed=4)
    ds = BlockDataset([cloud], num_points=64, features=("xyz", "normal"), seed=4, transform=aug)
    p, q = plain[0], ds[0]
    assert not np.allclose(p["coord"], q["coord"])
    np.testing.assert_array_equal(p["label"], q["label"])        # same points, same order
    np.testing.assert_allclose(np.linalg.norm(q["features"][3:6], axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(q["features"], ds[0]["features"])   # reproducible


def test_single_transforms():
    rng = np.random.default_rng(0)
    coord = rng.random((50, 3)).astype(np.float32)
    normal = np.tile(np.array([[1.0, 0.0, 0.0]], dtype=np.float32), (50, 1))
    sample = {"coord": coord, "normal": normal, "label": np.arange(50)}
    rot = RandomRotateZ()(sample, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.norm(rot["coord"][:, :2], axis=1), np.linalg.norm(coord[:, :2], axis=1),
                               rtol=1e-5)
    np.testing.assert_array_equal(rot["coord"][:, 2], coord[:, 2])
    # the rotation of the normal equals the rotation of the direction between two points
    d0, d1 = coord[1] - coord[0], rot["coord"][1] - rot["coord"][0]
    ang = np.arctan2(d1[1], d1[0]) - np.arctan2(d0[1], d0[0])
    np.testing.assert_allclose(rot["normal"][0, :2], [np.cos(ang), np.sin(ang)], atol=1e-5)
    scaled = RandomScale(2.0, 2.0)(sample, rng)
    np.testing.assert_allclose(scaled["coord"], 2 * coord)
    jit = RandomJitter(sigma=1.0, clip=0.05)(sample, rng)
    assert np.abs(jit["coord"] - coord).max() <= 0.05 + 1e-6
    flip = RandomFlipXY(p=1.0)(sample, rng)
    np.testing.assert_array_equal(flip["coord"], coord * np.array([-1, -1, 1], dtype=np.float32))
    assert flip["normal"][0, 0] == -1
    assert sample["coord"] is coord and (sample["coord"] == coord).all()   # input untouched
    torch = pytest.importorskip("torch")
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    np.testing.assert_array_equal(RandomRotateZ()(sample, g1)["coord"], RandomRotateZ()(sample, g2)["coord"])


# --- augmentations against synthetic shortcuts (pcseg.data.transforms) --------------------------------

def _sample(n: int = 200, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"coord": rng.random((n, 3), dtype=np.float32), "color": rng.random((n, 3), dtype=np.float32),
            "normal": np.tile(np.array([[0, 0, 1]], np.float32), (n, 1)), "label": rng.integers(0, 13, n)}


def test_tilt_is_a_small_rotation_of_coordinates_and_normals():
    from pcseg.data.transforms import RandomTilt

    s = _sample()
    out = RandomTilt(5.0)(s, np.random.default_rng(0))
    # lengths are kept, the up normal leans by at most 5 degrees, labels untouched
    assert np.allclose(np.linalg.norm(out["coord"], axis=1), np.linalg.norm(s["coord"], axis=1), atol=1e-5)
    lean = np.degrees(np.arccos(np.clip(out["normal"][:, 2], -1, 1)))
    assert 0 < lean.max() <= 5.0 + 1e-4 and np.array_equal(out["label"], s["label"])
    assert repr(RandomTilt(5.0)) == "RandomTilt(max_degrees=5.0)"


def test_color_jitter_changes_colour_within_range_and_is_pinned_by_the_generator():
    from pcseg.data.transforms import RandomColorJitter

    s = _sample()
    a = RandomColorJitter()(s, np.random.default_rng(3))
    b = RandomColorJitter()(s, np.random.default_rng(3))
    assert np.array_equal(a["color"], b["color"]) and not np.allclose(a["color"], s["color"])
    assert a["color"].min() >= 0 and a["color"].max() <= 1 and np.array_equal(a["coord"], s["coord"])


def test_color_drop_gives_exactly_what_segment_feeds_a_colourless_cloud():
    from pcseg.data.transforms import RandomColorDrop
    from pcseg.engine.inference import prepare_inputs
    from pcseg.io.cloud import Cloud

    s = _sample()
    assert RandomColorDrop(0.0)(s, np.random.default_rng(0)) is s
    dropped = RandomColorDrop(1.0)(s, np.random.default_rng(0))["color"]
    substitute = prepare_inputs(Cloud(s["coord"]), ["xyz", "rgb"]).color
    assert np.array_equal(dropped, substitute[: len(dropped)])


def test_build_augmentation_from_config_words():
    from pcseg.data.transforms import build_augmentation

    assert build_augmentation([]) is None
    aug = build_augmentation(["tilt", "color_drop"])
    assert repr(aug) == "Compose([RandomTilt(max_degrees=3.0), RandomColorDrop(p=0.2)])"
    with pytest.raises(ValueError, match="unknown augmentation 'blur'; valid: rotate_z"):
        build_augmentation(["blur"])


def test_density_keeps_a_sparser_subset_falling_with_distance_and_at_least_a_quarter():
    from pcseg.data.transforms import RandomDensity

    rng = np.random.default_rng(0)
    coord = rng.random((4000, 3)) * np.array([1.0, 1.0, 3.0])
    assert np.array_equal(RandomDensity(p=0.0).keep(coord, rng), np.arange(4000))
    sizes = []
    for seed in range(20):
        kept = RandomDensity(p=1.0).keep(coord, np.random.default_rng(seed))
        assert len(kept) >= 1000 and np.all(np.diff(kept) > 0) and kept.max() < 4000
        sizes.append(len(kept))
    assert min(sizes) < 3000                         # some blocks really get sparser


def test_mixed_blocks_are_half_and_half_deterministic_and_off_without_mix():
    from pcseg.data.transforms import MixBlocks, RandomDensity

    a, b = make_room(n=20000, seed=0), make_room(n=20000, seed=1)
    b.label[:] = 7                                   # the second room's points are recognisable
    plain = BlockDataset([a, b], num_points=512, min_points=50, seed=3)
    never = BlockDataset([a, b], num_points=512, min_points=50, seed=3, transform=Compose([MixBlocks(p=0.0), RandomDensity(p=0.0)]))
    assert all(np.array_equal(plain[i]["features"], never[i]["features"]) for i in range(0, len(plain), 7))
    mixed = BlockDataset([a, b], num_points=512, min_points=50, seed=3,
                         transform=Compose([MixBlocks(p=1.0), RandomDensity(p=1.0)]))
    from_b = []
    for i in range(len(mixed)):
        item = mixed[i]
        assert item["features"].shape == (9, 512) and item["coord"].shape == (512, 3)
        np.testing.assert_array_equal(item["coord"], item["features"][0:3].T)
        assert np.abs(item["coord"][:, :2]).max() <= 0.5 + 1e-5   # both halves in block-local metres
        from_b.append((item["label"][:256] == 7).all() != (item["label"][256:] == 7).all())
    assert np.mean(from_b) > 0.3                     # halves from different rooms, often
    assert np.array_equal(mixed[5]["features"], mixed[5]["features"])


def test_shade_darkens_one_side_of_a_plane_with_a_soft_edge_and_leaves_the_rest():
    from pcseg.data.transforms import RandomShade

    s = _sample()
    s["color"] = np.full_like(s["color"], 0.8)
    assert RandomShade(p=0.0)(s, np.random.default_rng(0)) is s
    factors = []
    for seed in range(20):
        out = RandomShade(p=1.0, dark=(0.6, 0.6), edge=(0.05, 0.05))(s, np.random.default_rng(seed))
        f = out["color"][:, 0] / 0.8
        assert np.array_equal(out["coord"], s["coord"]) and np.array_equal(out["label"], s["label"])
        # every point is lit (1), in full shade (0.6) or on the edge between; all three channels alike
        assert f.min() >= 0.6 - 1e-5 and f.max() <= 1 + 1e-5 and np.allclose(out["color"], out["color"][:, :1])
        factors.append(f)
    factors = np.concatenate(factors)
    assert np.isclose(factors, 0.6, atol=1e-5).mean() > 0.1 and np.isclose(factors, 1.0, atol=1e-5).mean() > 0.1
    assert repr(RandomShade()) == "RandomShade(p=0.5, dark=(0.55, 0.9), edge=(0.02, 0.3))"
    with pytest.raises(ValueError, match="dark low"):
        RandomShade(dark=(0.9, 0.5))
