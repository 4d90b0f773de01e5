import sys

import numpy as np
import pytest

from pcseg.classes import S3DIS
from pcseg.vis import render
from pcseg.vis.palette import BACKGROUND, RIGHT_COLOR, WRONG_COLOR, legend_entries
from pcseg.vis.render import (fit_camera, point_size_px, render_cloud, render_comparison, render_panel,
                              render_range_strips)
from tests.vis.scenes import pixels_near, read_png, room

SIZE = (200, 150)


def _open3d_renders() -> bool:
    try:
        render.render_panel(np.zeros((1, 3)), np.zeros((1, 3)), SIZE, renderer="open3d")
        return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(params=["open3d", "numpy"])
def renderer(request):
    if request.param == "open3d" and not _open3d_renders():
        pytest.skip("Open3D offscreen rendering unavailable here")
    return request.param


def _near_points_mask(coord, size, view, pad, subset=None):
    """Pixels within ``pad`` of a projected point (by the camera model the renderers share); ``subset``
    restricts the points (the camera is still fitted to all of them)."""
    cam = fit_camera(coord, size, view)
    uv, _ = cam.project(coord)
    if subset is not None:
        uv = uv[subset]
    mask = np.zeros((size[1], size[0]), dtype=bool)
    u = np.floor(uv[:, 0]).astype(int)
    v = np.floor(uv[:, 1]).astype(int)
    for dy in range(-pad, pad + 1):
        for dx in range(-pad, pad + 1):
            uu, vv = u + dx, v + dy
            ok = (uu >= 0) & (uu < size[0]) & (vv >= 0) & (vv < size[1])
            mask[vv[ok], uu[ok]] = True
    return mask, point_size_px(uv, size)


@pytest.mark.parametrize("view", ["oblique", "top"])
def test_panel_shows_every_class_colour_and_background_elsewhere(renderer, view):
    coord, label = room()
    image = render_panel(coord, S3DIS.colorize(label), SIZE, view, renderer)
    assert image.shape == (SIZE[1], SIZE[0], 3) and image.dtype == np.uint8
    for k in np.unique(label):
        assert pixels_near(image, S3DIS.colors[k]) >= 20, S3DIS.names[k]
    _, psize = _near_points_mask(coord, SIZE, view, pad=0)
    mask, _ = _near_points_mask(coord, SIZE, view, pad=int(np.ceil(psize)) + 1)
    background = np.all(image == BACKGROUND, axis=-1)
    assert background[~mask].all(), "drawn pixels where no point projects"
    for k in np.unique(label):  # each class colour where that class's points project
        near_k, _ = _near_points_mask(coord, SIZE, view, pad=int(np.ceil(psize)) + 1, subset=label == k)
        diff = np.abs(image.astype(int) - np.array(S3DIS.colors[k])).max(axis=-1)
        assert near_k[diff <= 3].all(), S3DIS.names[k]
    for corner in (image[:4, :4], image[:4, -4:], image[-4:, :4], image[-4:, -4:]):
        assert np.all(corner == BACKGROUND)
    # framed: the drawing spans most of the image in one direction (fit to the projected extent)
    rows, cols = np.nonzero(~background)
    span = max((cols.max() - cols.min()) / SIZE[0], (rows.max() - rows.min()) / SIZE[1])
    assert span > 0.85


def test_open3d_and_numpy_agree_on_framing():
    if not _open3d_renders():
        pytest.skip("Open3D offscreen rendering unavailable here")
    coord, label = room()
    a = render_panel(coord, S3DIS.colorize(label), SIZE, "oblique", "open3d")
    b = render_panel(coord, S3DIS.colorize(label), SIZE, "oblique", "numpy")
    fa, fb = np.any(a != BACKGROUND, axis=-1), np.any(b != BACKGROUND, axis=-1)
    assert (fa & fb).sum() / (fa | fb).sum() > 0.8


def test_point_size_grows_when_points_thin_out():
    rng = np.random.default_rng(0)
    uv_dense, uv_sparse = rng.uniform(0, 200, (20000, 2)), rng.uniform(0, 200, (500, 2))
    assert point_size_px(uv_sparse, (200, 200)) > point_size_px(uv_dense, (200, 200)) >= 1


def test_fit_camera_keeps_small_clouds_inside():
    coord, _ = room(n_per_part=50)
    for view in ("oblique", "top"):
        uv, _ = fit_camera(coord, (320, 100), view).project(coord)
        assert (uv >= 0).all() and (uv[:, 0] <= 320).all() and (uv[:, 1] <= 100).all()


def test_render_cloud_writes_requested_size_with_legend_and_title(tmp_path):
    coord, label = room()
    out = tmp_path / "pic.png"
    render_cloud(coord, S3DIS.colorize(label), out, size=(320, 200), legend=legend_entries(S3DIS, label),
                 title="a room")
    image = read_png(out)
    assert image.shape == (200, 320, 3)
    assert not list(tmp_path.glob(".pic.png*")), "temporary file left behind"
    for k in np.unique(label):
        # in the picture and as a legend swatch (the right third holds the legend column)
        assert pixels_near(image[:, :200], S3DIS.colors[k]) >= 20
        assert pixels_near(image[:, 200:], S3DIS.colors[k], tol=0) >= 16
    assert (image[:20, :100] < 100).all(axis=-1).any(), "no title text"


def test_render_cloud_rejects_mismatched_colours(tmp_path):
    with pytest.raises(ValueError, match="colours"):
        render_cloud(np.zeros((5, 3)), np.zeros((4, 3)), tmp_path / "x.png", size=(64, 64))
    assert not list(tmp_path.iterdir())


def test_comparison_has_three_panels(tmp_path):
    coord, gt = room()
    pred = gt.copy()
    chair = gt == S3DIS.index("chair")
    pred[chair] = S3DIS.index("sofa")
    out = tmp_path / "cmp.png"
    render_comparison(coord, pred, gt, S3DIS, out, size=(480, 200))
    image = read_png(out)
    assert image.shape == (200, 480, 3)
    body = image[30:140]  # below the captions, above the legend
    third = 480 // 3
    panels = [body[:, :third], body[:, third:2 * third], body[:, 2 * third:]]
    sofa, chair_rgb = S3DIS.colors[S3DIS.index("sofa")], S3DIS.colors[S3DIS.index("chair")]
    assert pixels_near(panels[0], sofa) > 10 and pixels_near(panels[0], chair_rgb) == 0
    assert pixels_near(panels[1], chair_rgb) > 10 and pixels_near(panels[1], sofa) == 0
    assert pixels_near(panels[2], WRONG_COLOR) > 10 and pixels_near(panels[2], RIGHT_COLOR) > 100
    for k in (S3DIS.index("floor"), S3DIS.index("wall")):
        assert pixels_near(panels[2], S3DIS.colors[k]) == 0  # the error panel shows no class colours
    # the same camera in every panel: identical drawn silhouettes
    masks = [np.any(p[:, 2:third - 2] != BACKGROUND, axis=-1) for p in panels]  # past the separators
    assert np.array_equal(masks[0], masks[1]) and np.array_equal(masks[0], masks[2])


def test_comparison_rejects_length_mismatch(tmp_path):
    coord, gt = room(n_per_part=10)
    with pytest.raises(ValueError):
        render_comparison(coord, gt[:-1], gt, S3DIS, tmp_path / "x.png", size=(300, 120))


def test_range_strips(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 50, (16, 256))
    depth[:, :10] = np.nan
    labels = np.zeros((16, 256), dtype=np.int64)
    labels[:, 128:] = 8
    out = tmp_path / "strips.png"
    render_range_strips([("range", depth), ("labels", S3DIS.palette()[labels])], out,
                        legend=legend_entries(S3DIS, [0, 8]))
    image = read_png(out)
    assert image.shape[1] >= 256 and image.shape[0] > 2 * 16
    assert pixels_near(image, S3DIS.colors[8], tol=0) >= 128 * 16
    assert pixels_near(image, S3DIS.colors[0], tol=0) >= 128 * 16
    assert pixels_near(image, (0, 0, 0), tol=0) >= 10 * 16  # the NaN columns
    with pytest.raises(ValueError, match="shape"):
        render_range_strips([("bad", np.zeros((2, 2, 2)))], tmp_path / "bad.png")


def test_auto_falls_back_to_numpy_with_one_note(monkeypatch, capsys):
    monkeypatch.setattr(render, "_O3D_RENDERERS", {})
    monkeypatch.setattr(render, "_O3D_FAILED", [])
    monkeypatch.setattr(render, "_WARNED", set())
    monkeypatch.setitem(sys.modules, "open3d", None)  # import open3d now fails
    coord, label = room(n_per_part=100)
    for _ in range(2):
        image = render_panel(coord, S3DIS.colorize(label), (120, 90), "oblique", "auto")
        assert pixels_near(image, S3DIS.colors[S3DIS.index("wall")]) > 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Open3D" in err[0] and "numpy" in err[0]
