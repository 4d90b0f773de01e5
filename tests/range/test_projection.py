import math

import numpy as np
import pytest
import torch

from pcseg.range.projection import (above_ground, label_image, make_image, normal_roughness, pixel_normals,
                                    pixel_points, point_channels, project, spherical_coords)
from pcseg.range.reference import np_project

H, W = 64, 2048


def _dir(yaw_deg: float, pitch_deg: float, r: float = 10.0) -> list[float]:
    """A point at range r seen at RangeNet++ yaw (= -atan2(y, x)) and pitch."""
    a, p = math.radians(-yaw_deg), math.radians(pitch_deg)
    return [r * math.cos(p) * math.cos(a), r * math.cos(p) * math.sin(a), r * math.sin(p)]


def test_pixel_formula_by_hand():
    pts = torch.tensor([_dir(0, 0), _dir(90, 0), _dir(-90, -10), _dir(179.9, 2.9), _dir(45, -24.9)])
    px, py, r = spherical_coords(pts, H, W, 3.0, -25.0)
    # u = floor(0.5 (yaw/pi + 1) W); v = floor((1 - (pitch + 25 deg) / 28 deg) H)
    assert px.tolist() == [1024, 1536, 512, 2047, 1280]
    assert py.tolist() == [math.floor((1 - 25 / 28) * H), math.floor((1 - 25 / 28) * H),
                           math.floor((1 - 15 / 28) * H), 0, 63]
    assert torch.allclose(r, torch.full((5,), 10.0))


def test_out_of_fov_is_clamped_and_origin_is_finite():
    pts = torch.tensor([_dir(10, 40), _dir(10, -60), [0.0, 0.0, 0.0]])
    px, py, r = spherical_coords(pts, H, W, 3.0, -25.0)
    assert py.tolist()[:2] == [0, H - 1]
    assert 0 <= int(px[2]) < W and 0 <= int(py[2]) < H and float(r[2]) == 0.0


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_closest_point_wins_whatever_the_order(order):
    base = [_dir(30, -5, 20.0), _dir(30, -5, 5.0), _dir(30, -5, 12.0)]
    pts = torch.tensor([base[i] for i in order])
    proj = project(pts, H, W, 3.0, -25.0)
    closest = order.index(1)
    assert int(proj.mask.sum()) == 1
    assert int(proj.index[proj.mask][0]) == closest
    assert float(proj.range[proj.mask][0]) == pytest.approx(5.0, rel=1e-6)
    assert proj.winners().tolist() == [i == closest for i in range(3)]


def test_point_zero_is_a_valid_pixel():
    # the reference marks pixels valid with proj_idx > 0 and loses point 0; here index 0 is a valid pixel
    pts = torch.tensor([_dir(0, 0), _dir(90, 0)])
    proj = project(pts, H, W, 3.0, -25.0)
    assert int(proj.mask.sum()) == 2
    assert int(proj.index[int(proj.py[0]), int(proj.px[0])]) == 0
    assert bool(proj.winners()[0])
    assert int((proj.index == -1).sum()) == H * W - 2
    assert bool((proj.range[~proj.mask] == -1).all())


def test_images_normalise_and_zero_empty_pixels():
    pts = torch.tensor([_dir(0, 0, 4.0), _dir(90, -10, 8.0)])
    proj = project(pts, 8, 16, 3.0, -25.0)
    values = point_channels(pts, proj.point_range, ["range", "z", "remission", "r"],
                            intensity=torch.tensor([0.5, 0.25]), color=None)
    assert torch.isnan(values[:, 3]).all()
    rows = pixel_points(proj)                           # the pixel owners in row-major pixel order
    assert sorted(rows.tolist()) == [0, 1]
    img = make_image(proj, values[rows], mean=[2.0, 0.0, 0.5, 0.5], std=[2.0, 1.0, 0.25, 0.2])
    assert img.shape == (4, 8, 16)
    y0, x0 = int(proj.py[0]), int(proj.px[0])
    y1, x1 = int(proj.py[1]), int(proj.px[1])
    assert img[:, y0, x0].tolist() == pytest.approx([1.0, 0.0, 0.0, 0.0], abs=1e-6)
    assert img[:, y1, x1].tolist() == pytest.approx([3.0, 8 * math.sin(math.radians(-10)), -1.0, 0.0], abs=1e-5)
    mask = proj.mask
    assert float(img[:, ~mask].abs().sum()) == 0.0
    lab = label_image(proj, torch.tensor([3, 7]))
    assert int(lab[y0, x0]) == 3 and int(lab[y1, x1]) == 7 and int((lab == -1).sum()) == 8 * 16 - 2
    with pytest.raises(ValueError, match="value rows"):
        make_image(proj, values[:1], mean=[0] * 4, std=[1] * 4)
    with pytest.raises(ValueError, match="unknown range-image channel"):
        point_channels(pts, proj.point_range, ["intensity"])


def _cast_street(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One ray through every pixel centre of a 3 / -25 deg scanner 1.73 m above level ground, with a wall
    across the view 12 m ahead, a second 12 m behind (across the image's left/right seam) and a box face 6 m
    ahead, 2 m wide, standing in front of the first wall. Returns points and what each hit
    (0 ground, 1 wall ahead, 2 wall behind, 3 box). Shapes: -> (N, 3), (N,)"""
    v, u = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    pitch = torch.deg2rad(3.0 - v / height * 28.0)
    yaw = -(u / width * 2 - 1) * math.pi                       # inverse of u = 0.5 (yaw / pi + 1) W, yaw = -atan2
    d = torch.stack([torch.cos(pitch) * torch.cos(yaw), torch.cos(pitch) * torch.sin(yaw), torch.sin(pitch)], -1)
    d = d.reshape(-1, 3).double()
    inf = torch.full((len(d),), float("inf"), dtype=torch.float64)
    hits = torch.stack([
        torch.where(d[:, 2] < 0, -1.73 / d[:, 2], inf),
        torch.where(d[:, 0] > 0, 12.0 / d[:, 0], inf),
        torch.where(d[:, 0] < 0, -12.0 / d[:, 0], inf),
        torch.where(d[:, 0] > 0, 6.0 / d[:, 0], inf)], 1)
    at_box = d * hits[:, 3:]
    hits[:, 3] = torch.where((at_box[:, 1].abs() < 1.0) & (at_box[:, 2] < 0.5), hits[:, 3], inf)
    t, what = hits.min(1)
    keep = torch.isfinite(t) & (t < 80)
    return (d * t[:, None])[keep].float(), what[keep]


def test_pixel_normals_face_the_sensor_and_keep_to_their_own_surface():
    pts, what = _cast_street(32, 512)
    proj = project(pts, 32, 512, 3.0, -25.0)
    assert int(proj.mask.sum()) == len(pts)                  # one ray per pixel
    rows = pixel_points(proj)
    normal = pixel_normals(proj, pts)
    assert normal.shape == (len(rows), 3)
    hit = what[rows]
    ok = ~torch.isnan(normal[:, 0])
    assert float(ok.float().mean()) > 0.99
    assert torch.allclose(torch.linalg.vector_norm(normal[ok], dim=1), torch.ones(int(ok.sum())), atol=1e-4)
    expected = {0: [0.0, 0.0, 1.0], 1: [-1.0, 0.0, 0.0], 2: [1.0, 0.0, 0.0], 3: [-1.0, 0.0, 0.0]}
    for surface, facing in expected.items():
        cos = normal[ok & (hit == surface)] @ torch.tensor(facing)
        assert len(cos) > 10
        # where two surfaces meet in a fold (the ground at a wall's foot) a pixel's nearest neighbour in
        # range can lie on the other one; everywhere else the normal is the surface's
        assert float((cos > 0.999).float().mean()) > 0.95, surface
    # the box's side edges: the wall 6 m behind is no neighbour, so their normals are the box's own
    surface = torch.full((32 * 512,), -1, dtype=torch.int64)
    surface[proj.index.reshape(-1) >= 0] = hit
    surface = surface.view(32, 512)
    box = surface == 3
    beside_wall = (torch.roll(surface, 1, 1) == 1) | (torch.roll(surface, -1, 1) == 1)
    above_box = torch.zeros_like(box)
    above_box[:-1] = box[1:]
    edge = box & beside_wall & above_box
    assert int(edge.sum()) >= 4
    per_pixel = torch.full((32 * 512, 3), float("nan"))
    per_pixel[proj.index.reshape(-1) >= 0] = normal
    assert bool((per_pixel.view(32, 512, 3)[edge] @ torch.tensor([-1.0, 0.0, 0.0]) > 0.999).all())
    # the wall behind spans the image's seam: columns 0 and W-1 are each other's neighbours
    seam = proj.index[:, [0, -1]]
    seam_rows = torch.isin(rows, seam[seam >= 0])
    assert bool(ok[seam_rows].all())


def test_a_pixel_without_neighbours_has_no_normal_and_reads_as_the_mean():
    pts = torch.tensor([_dir(0, 0, 10.0), _dir(90, -10, 8.0), _dir(90.3, -10, 8.0)])
    proj = project(pts, 8, 512, 3.0, -25.0)
    rows = pixel_points(proj)
    normal = pixel_normals(proj, pts)
    assert bool(torch.isnan(normal).all())     # two side by side still need a row above or below
    values = point_channels(pts[rows], proj.point_range[rows], ["range", "nx", "ny", "nz"], normal=normal)
    image = make_image(proj, values, mean=[0.0, 0.0, 0.0, 0.6], std=[1.0, 0.4, 0.4, 0.5])
    assert float(image[1:].abs().sum()) == 0.0
    assert torch.isnan(point_channels(pts, proj.point_range, ["nz"])).all()   # not computed: missing


def test_roughness_is_the_spread_of_the_normals_around_a_pixel():
    pts, _ = _cast_street(3, 4)
    proj = project(pts, 3, 4, 3.0, -25.0)
    assert bool(proj.mask.all())
    grid = torch.tensor([0.0, 0.0, 1.0]).repeat(3, 4, 1)
    grid[0, 3] = torch.tensor([1.0, 0.0, 0.0])
    grid[2, 2] = float("nan")                                  # a pixel without a normal does not count
    rough = torch.full((12,), -1.0)
    rough[proj.index.reshape(-1) >= 0] = normal_roughness(proj, grid.view(12, 3)[proj.index.reshape(-1) >= 0])
    rough = rough.view(3, 4)
    # row 1, column 0 sees columns 3, 0 and 1 (the image wraps): eight upright normals and one sideways
    assert float(rough[1, 0]) == pytest.approx(1 - math.sqrt(8 ** 2 + 1) / 9, abs=1e-6)
    assert float(rough[1, 1]) == pytest.approx(0.0, abs=1e-6)   # columns 0-2: eight upright, one without
    assert math.isnan(float(rough[2, 2]))


def test_roughness_is_near_zero_on_planes_and_high_on_scattered_surfaces():
    pts, what = _cast_street(32, 512)
    rng = np.random.default_rng(0)
    ahead = what == 1                                           # the wall ahead becomes a hedge: ranges scatter
    pts[ahead] *= torch.from_numpy(1 + rng.uniform(-0.03, 0.03, (int(ahead.sum()), 1)).astype(np.float32))
    proj = project(pts, 32, 512, 3.0, -25.0)
    rows = pixel_points(proj)
    rough = normal_roughness(proj, pixel_normals(proj, pts))
    hit = what[rows]
    assert float(np.nanmedian(rough[hit == 1].numpy())) > 0.1
    for plane in (0, 2):                                        # the ground, the wall behind (across the seam)
        assert float(np.nanmedian(rough[hit == plane].numpy())) < 0.01
    values = point_channels(pts[rows], proj.point_range[rows], ["roughness"], roughness=rough)
    assert torch.allclose(values[:, 0], rough, equal_nan=True)
    assert torch.isnan(point_channels(pts, proj.point_range, ["roughness"])).all()   # not computed: missing


def test_matches_the_reference_projection_on_a_real_scan(realdata):
    scan = np.fromfile(realdata / "torch-points3d/KITTI/000000.bin", dtype=np.float32).reshape(-1, 4)
    assert len(scan) == 123_389
    ref = np_project(scan[:, :3], H, W, 3.0, -25.0)
    proj = project(torch.from_numpy(scan[:, :3].copy()), H, W, 3.0, -25.0)
    # same pixel for (nearly) every point: only float rounding at pixel borders may differ
    same_px = (proj.px.numpy() == ref["px"]) & (proj.py.numpy() == ref["py"])
    assert same_px.mean() > 0.9999
    # the same pixels are filled, and the same point wins wherever the choice is not a float tie
    assert (proj.mask.numpy() == (ref["index"] >= 0)).mean() > 0.9999
    agree = proj.index.numpy() == ref["index"]
    assert agree.mean() > 0.9999
    assert (np.abs(proj.range.numpy() - ref["range"]) < 1e-4).mean() > 0.9999


def test_above_ground_reads_heights_off_a_slope_and_needs_points_beside_it():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(20000, 2, generator=gen) * 40 - 20
    slope = 0.06                                                # a 6 % ramp, far from level
    ground = torch.cat([xy, (slope * xy[:, 0] - 1.73)[:, None]], 1)
    box = torch.rand(3000, 3, generator=gen) * torch.tensor([2.0, 2.0, 1.5]) + torch.tensor([5.0, 5.0, 0.5])
    box[:, 2] += slope * box[:, 0] - 1.73                       # a car-sized box 0.5-2 m over the ramp
    height = above_ground(torch.cat([ground, box]))
    assert float(height.min()) >= 0.0
    assert float(height[:len(ground)].max()) < 0.13              # at most 2 m along the ramp from its ground
    on_box = height[len(ground):]
    true = box[:, 2] - (slope * box[:, 0] - 1.73)
    assert float((on_box - true).abs().max()) < 0.2
    far = torch.tensor([[0.0, 0.0, 1.0], [100.0, -50.0, 7.0]])  # alone in its cells: its own ground
    assert above_ground(far).tolist() == [0.0, 0.0]
    assert above_ground(torch.zeros(0, 3)).shape == (0,)
    values = point_channels(far, far.norm(dim=1), ["z", "above_ground"], height=above_ground(far))
    assert values[:, 1].tolist() == [0.0, 0.0]
    assert torch.isnan(point_channels(far, far.norm(dim=1), ["above_ground"])).all()   # not computed: missing
