"""Headless pictures of labelled clouds: Open3D offscreen rendering, composed panels, legends, range strips.

Points are drawn unlit (Open3D material "defaultUnlit", post-processing off) so every point shows its
palette colour exactly. The camera is orthographic and fitted to the projected extent of the cloud, either
from above ("top") or from an oblique corner ("oblique"); the point size follows the image size and the
point density on screen. When Open3D cannot render (import or renderer creation fails) a numpy z-buffer
splatter with the same camera draws the picture instead, and one line on stderr says so.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from pcseg.classes import ClassSet
from pcseg.utils import atomic_path
from pcseg.vis.palette import scalar_to_rgb  # noqa: F401 - re-exported
from pcseg.vis.palette import (BACKGROUND, ERROR_LEGEND, LegendEntry, colorize_labels, draw_legend, draw_text,
                               error_colors, legend_entries, legend_layout, text_size)

VIEWS = ("oblique", "top")
RENDERERS = ("auto", "open3d", "numpy")
# oblique view: camera azimuth / elevation in degrees (looking at the cloud from its -x,-y corner, above)
OBLIQUE_AZIMUTH, OBLIQUE_ELEVATION = 225.0, 35.0


@dataclass(frozen=True)
class Camera:
    """An orthographic camera: ``center`` is the look-at point, ``forward``/``right``/``up`` an orthonormal
    frame, ``half_w``/``half_h`` the half extents of the view in world units, for a ``width`` x ``height``
    image."""

    center: np.ndarray
    forward: np.ndarray
    right: np.ndarray
    up: np.ndarray
    half_w: float
    half_h: float
    depth: float  # distance from the eye to the farthest point, for the near/far planes
    width: int
    height: int

    @property
    def eye(self) -> np.ndarray:
        return self.center - self.forward * self.depth

    def project(self, coord: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points -> pixel coordinates (column, row; may fall outside the image) and depth along
        ``forward`` (larger = farther).

        Shapes: coord (N, 3) -> uv (N, 2) float64, depth (N,) float64."""
        rel = np.asarray(coord, dtype=np.float64) - self.center
        x, y, z = rel @ self.right, rel @ self.up, rel @ self.forward
        u = (x + self.half_w) / (2 * self.half_w) * self.width
        v = (self.half_h - y) / (2 * self.half_h) * self.height
        return np.stack([u, v], axis=1), z


def _view_frame(view: str) -> tuple[np.ndarray, np.ndarray]:
    """(forward, up hint) of a named view."""
    if view == "top":
        return np.array([0.0, 0.0, -1.0]), np.array([0.0, 1.0, 0.0])
    if view == "oblique":
        az, el = np.radians(OBLIQUE_AZIMUTH), np.radians(OBLIQUE_ELEVATION)
        towards_eye = np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
        return -towards_eye, np.array([0.0, 0.0, 1.0])
    raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")


def fit_camera(coord: np.ndarray, size: tuple[int, int], view: str = "oblique", margin: float = 0.03) -> Camera:
    """The orthographic camera that frames ``coord`` in a ``size`` = (W, H) image seen from ``view``.

    The frame is fitted to the 0.1..99.9 % quantiles of the projected points (all points for small clouds) so
    a few stray points do not shrink the picture, keeping the aspect ratio of the image.
    Shapes: coord (N, 3) with N >= 1."""
    coord = np.asarray(coord, dtype=np.float64)
    width, height = int(size[0]), int(size[1])
    forward, up_hint = _view_frame(view)
    right = np.cross(forward, up_hint)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    lo_all, hi_all = coord.min(axis=0), coord.max(axis=0)
    center = (lo_all + hi_all) / 2
    rel = coord - center
    x, y = rel @ right, rel @ up
    q = (0.001, 0.999) if len(coord) >= 2000 else (0.0, 1.0)
    x0, x1 = np.quantile(x, q)
    y0, y1 = np.quantile(y, q)
    center = center + right * (x0 + x1) / 2 + up * (y0 + y1) / 2
    half_w, half_h = max((x1 - x0) / 2, 1e-6), max((y1 - y0) / 2, 1e-6)
    aspect = width / height
    if half_w / half_h < aspect:
        half_w = half_h * aspect
    else:
        half_h = half_w / aspect
    half_w, half_h = half_w / (1 - 2 * margin), half_h / (1 - 2 * margin)
    radius = float(np.linalg.norm(hi_all - lo_all)) / 2 + 1e-6
    return Camera(center=center, forward=forward, right=right, up=up, half_w=float(half_w), half_h=float(half_h),
                  depth=2 * radius, width=width, height=height)


def point_size_px(uv: np.ndarray, size: tuple[int, int]) -> float:
    """A point size in pixels that closes the gaps between neighbouring points on screen.

    The on-screen footprint is the area of the coarse grid cells (about 1 % of the image side) that hold a
    projected point; spread over N points it gives a spacing sqrt(area / N). Points are drawn 2x that
    spacing because roughly half of a scanned scene's points lie on surfaces hidden behind others.
    Shapes: uv (N, 2) pixel coordinates."""
    width, height = size
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)
    n = int(inside.sum())
    if n == 0:
        return 1.0
    cell = max(2, min(width, height) // 100)
    cells = (uv[inside] // cell).astype(np.int64)
    occupied = len(np.unique(cells[:, 0] * (width // cell + 1) + cells[:, 1]))
    spacing = np.sqrt(occupied * cell * cell / n)
    return float(np.clip(2.0 * spacing, 1.0, max(3.0, min(width, height) / 40)))


# ---------------------------------------------------------------------------------------------------------
# panel renderers

_WARNED: set[str] = set()
_O3D_RENDERERS: dict[tuple[int, int], object] = {}
_O3D_FAILED: list[str] = []


def _note(message: str) -> None:
    """One line on stderr, once per process per message."""
    if message not in _WARNED:
        _WARNED.add(message)
        print(f"pcseg: note: {message}", file=sys.stderr)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level writes to stdout (Filament prints its engine banner there)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _o3d_renderer(width: int, height: int) -> object:
    """A cached ``OffscreenRenderer`` of this size (creating one costs about half a second)."""
    key = (width, height)
    if key not in _O3D_RENDERERS:
        # Filament aborts when two offscreen renderers live at once: drop the one of another size first
        for old in list(_O3D_RENDERERS):
            del _O3D_RENDERERS[old]
        import open3d as o3d

        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
        from open3d.visualization import rendering

        with _quiet_stdout():
            renderer = rendering.OffscreenRenderer(width, height)
        renderer.scene.set_background([c / 255 for c in BACKGROUND] + [1.0])
        renderer.scene.view.set_post_processing(False)  # no tone mapping: palette colours stay exact
        _O3D_RENDERERS[key] = renderer
    return _O3D_RENDERERS[key]


def _render_open3d(coord: np.ndarray, colors: np.ndarray, camera: Camera, point_size: float) -> np.ndarray:
    import open3d as o3d
    from open3d.visualization import rendering

    renderer = _o3d_renderer(camera.width, camera.height)
    scene = renderer.scene
    scene.clear_geometry()
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(coord, dtype=np.float64)))
    cloud.colors = o3d.utility.Vector3dVector(np.asarray(colors, dtype=np.float64))
    material = rendering.MaterialRecord()
    material.shader = "defaultUnlit"
    material.point_size = float(point_size)
    scene.add_geometry("cloud", cloud, material)
    cam = scene.camera
    near = max(camera.depth * 1e-3, 1e-4)
    cam.set_projection(rendering.Camera.Projection.Ortho, -camera.half_w, camera.half_w, -camera.half_h,
                       camera.half_h, near, camera.depth * 2)
    cam.look_at(camera.center.astype(np.float32), camera.eye.astype(np.float32), camera.up.astype(np.float32))
    with _quiet_stdout():
        image = np.asarray(renderer.render_to_image())
    scene.clear_geometry()
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def _render_numpy(coord: np.ndarray, colors: np.ndarray, camera: Camera, point_size: float) -> np.ndarray:
    """Square splats of ``point_size`` pixels, nearest point wins (z-buffer)."""
    width, height = camera.width, camera.height
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[...] = BACKGROUND
    uv, depth = camera.project(coord)
    rgb = np.clip(np.round(np.asarray(colors, dtype=np.float64) * 255), 0, 255).astype(np.uint8)
    s = max(1, int(round(point_size)))
    offsets = np.arange(s) - (s - 1) // 2
    base = np.floor(uv).astype(np.int64)
    pix, dep, idx = [], [], []
    ids = np.arange(len(coord))
    for dy in offsets:
        for dx in offsets:
            u, v = base[:, 0] + dx, base[:, 1] + dy
            ok = (u >= 0) & (u < width) & (v >= 0) & (v < height)
            pix.append(v[ok] * width + u[ok])
            dep.append(depth[ok])
            idx.append(ids[ok])
    if not pix:
        return image
    pix_a, dep_a, idx_a = np.concatenate(pix), np.concatenate(dep), np.concatenate(idx)
    order = np.lexsort((dep_a, pix_a))  # by pixel, nearest first
    pix_a, idx_a = pix_a[order], idx_a[order]
    first = np.ones(len(pix_a), dtype=bool)
    first[1:] = pix_a[1:] != pix_a[:-1]
    image.reshape(-1, 3)[pix_a[first]] = rgb[idx_a[first]]
    return image


def render_panel(coord: np.ndarray, colors: np.ndarray, size: tuple[int, int], view: str = "oblique",
                 renderer: str = "auto", camera: Camera | None = None) -> np.ndarray:
    """One picture of the cloud, nothing else: white background, fitted camera, sized points.

    ``renderer``: "open3d", "numpy" (the fallback splatter) or "auto" (Open3D, falling back to numpy with
    one note on stderr when Open3D cannot render here).
    Shapes: coord (N, 3), colors (N, 3) float in [0, 1] -> (H, W, 3) uint8 for size (W, H)."""
    if renderer not in RENDERERS:
        raise ValueError(f"unknown renderer {renderer!r}; choose from {', '.join(RENDERERS)}")
    coord = np.asarray(coord, dtype=np.float64).reshape(-1, 3)
    colors = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    if len(colors) != len(coord):
        raise ValueError(f"{len(colors)} colours for {len(coord)} points")
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"image size {width}x{height} is empty")
    if len(coord) == 0:
        image = np.empty((height, width, 3), dtype=np.uint8)
        image[...] = BACKGROUND
        return image
    camera = camera or fit_camera(coord, (width, height), view)
    uv, _ = camera.project(coord)
    psize = point_size_px(uv, (width, height))
    if renderer in ("auto", "open3d") and not _O3D_FAILED:
        try:
            return _render_open3d(coord, colors, camera, psize)
        except Exception as exc:  # noqa: BLE001 - any failure of the optional renderer means: fall back
            if renderer == "open3d":
                raise
            _O3D_FAILED.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
    if renderer == "auto":
        _note(f"Open3D offscreen rendering unavailable ({_O3D_FAILED[0]}); drawing with the numpy splatter")
    return _render_numpy(coord, colors, camera, psize)


# ---------------------------------------------------------------------------------------------------------
# composed pictures

def _font_px(height: int) -> int:
    return int(np.clip(round(height / 40), 9, 18))


def _blank(width: int, height: int) -> np.ndarray:
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[...] = BACKGROUND
    return image


def _write_png(image: np.ndarray, out_png: str | os.PathLike) -> None:
    from PIL import Image

    with atomic_path(out_png, suffix=".png") as tmp:
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB").save(tmp, format="PNG")


def _check_size(size: tuple[int, int], min_w: int = 32, min_h: int = 32) -> tuple[int, int]:
    width, height = int(size[0]), int(size[1])
    if width < min_w or height < min_h:
        raise ValueError(f"image size {width}x{height} is too small (at least {min_w}x{min_h})")
    return width, height


def _colors01(colors: np.ndarray, n: int) -> np.ndarray:
    colors = np.asarray(colors)
    if colors.dtype == np.uint8:
        colors = colors.astype(np.float64) / 255
    colors = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
    if len(colors) != n:
        raise ValueError(f"{len(colors)} colours for {n} points")
    return np.clip(colors, 0.0, 1.0)


def room_interior_mask(class_set: ClassSet, reference: np.ndarray | None, view: str = "oblique") -> np.ndarray | None:
    """Points to keep so an oblique view shows inside an S3DIS room: all but the ceiling (seen from above, a
    room is all ceiling). None when nothing should be left out (other class sets, top view, no labels, or a
    cloud that is all ceiling).

    Shapes: reference (N,) int labels -> (N,) bool or None.
    """
    from pcseg.classes import S3DIS

    if class_set is not S3DIS or view != "oblique" or reference is None:
        return None
    ceiling = np.asarray(reference) == S3DIS.index("ceiling")
    if not ceiling.any() or ceiling.all():
        return None
    return ~ceiling


def render_cloud(coord: np.ndarray, colors: np.ndarray, out_png: str | os.PathLike,
                 size: tuple[int, int] = (1280, 960), view: str = "oblique",
                 legend: list[LegendEntry] | None = None, title: str | None = None,
                 renderer: str = "auto") -> None:
    """Write a PNG of exactly ``size`` = (W, H): the cloud in ``colors``, an optional title bar on top and an
    optional legend column (colour swatch + name) on the right.

    Shapes: coord (N, 3), colors (N, 3) float in [0, 1] (or uint8 0..255)."""
    width, height = _check_size(size)
    coord = np.asarray(coord, dtype=np.float64).reshape(-1, 3)
    colors = _colors01(colors, len(coord))
    font = _font_px(height)
    canvas = _blank(width, height)
    top = 0
    texts = []
    if title:
        bar = int(round(font * 2))
        texts.append((font // 2, (bar - font) // 2, title, font + 2))
        top = bar
    right = width
    if legend:
        font_l, _, legend_w, legend_h = legend_layout(legend, width // 3, height - top, font)
        if legend_w > width // 2:   # a picture too small for its legend (legend_layout's minimum font): points only
            legend = None
        else:
            right = width - legend_w
    panel = render_panel(coord, colors, (right, height - top), view, renderer)
    canvas[top:, :right] = panel
    if legend:
        y0 = top + max(0, (height - top - legend_h) // 2)
        canvas = draw_legend(canvas, legend, (right, y0, width, height), font_px=font_l)
    canvas = draw_text(canvas, texts)
    _write_png(canvas, out_png)


def render_comparison(coord: np.ndarray, pred: np.ndarray, gt: np.ndarray, class_set: ClassSet,
                      out_png: str | os.PathLike, size: tuple[int, int] = (1800, 720), view: str = "oblique",
                      renderer: str = "auto") -> None:
    """Write a PNG of exactly ``size``: three panels side by side (prediction | ground truth | errors, wrong
    points red, right ones grey) seen by the same camera, a caption above each (the error panel gives the
    share of wrong points) and below them a legend of the classes present in either labelling.

    Shapes: coord (N, 3), pred (N,) int, gt (N,) int (class indices, IGNORE = -1)."""
    width, height = _check_size(size, min_w=96)
    coord = np.asarray(coord, dtype=np.float64).reshape(-1, 3)
    pred, gt = np.asarray(pred).reshape(-1), np.asarray(gt).reshape(-1)
    if not len(pred) == len(gt) == len(coord):
        raise ValueError(f"{len(pred)} predictions and {len(gt)} ground-truth labels for {len(coord)} points")
    colors = [colorize_labels(pred, class_set), colorize_labels(gt, class_set), error_colors(pred, gt)]
    scored = gt != -1
    wrong = float(np.mean(pred[scored] != gt[scored]) * 100) if scored.any() else float("nan")
    captions = ["prediction", "ground truth", f"errors: {wrong:.1f} % wrong" if scored.any() else "errors"]
    entries = legend_entries(class_set, np.union1d(np.unique(pred), np.unique(gt)))
    entries = entries + ERROR_LEGEND[:2] + ([ERROR_LEGEND[2]] if not scored.all() else [])

    font = _font_px(height)
    cap_h = int(round(font * 2))
    font_l, _, _, legend_h = legend_layout(entries, width, height // 3, font, columns=max(1, width // 260))
    panel_h = height - cap_h - legend_h
    edges = np.linspace(0, width, 4).round().astype(int)
    camera = fit_camera(coord, (edges[1] - edges[0], panel_h), view) if len(coord) else None
    canvas = _blank(width, height)
    texts = []
    for i in range(3):
        w = edges[i + 1] - edges[i]
        cam = camera if camera is not None and w == camera.width else (
            fit_camera(coord, (w, panel_h), view) if len(coord) else None)
        panel = render_panel(coord, colors[i].astype(np.float64) / 255, (w, panel_h), view, renderer, camera=cam)
        canvas[cap_h:cap_h + panel_h, edges[i]:edges[i + 1]] = panel
        tw, _ = text_size(captions[i], font + 2)
        texts.append((edges[i] + max(0, (w - tw) // 2), (cap_h - font) // 2, captions[i], font + 2))
        if i:
            canvas[cap_h:cap_h + panel_h, edges[i]] = (210, 210, 210)  # thin separator
    canvas = draw_legend(canvas, entries, (0, cap_h + panel_h, width, height), font_px=font_l,
                         columns=max(1, width // 260))
    canvas = draw_text(canvas, texts)
    _write_png(canvas, out_png)


def render_range_strips(strips: Sequence[tuple[str, np.ndarray]], out_png: str | os.PathLike,
                        legend: list[LegendEntry] | None = None) -> None:
    """Write stacked range-image strips, each under its title: (H, W, 3) uint8 strips are drawn as they are
    (label colours stay exact), (H, W) float strips are colour-mapped (NaN = black). Strips much wider than
    tall (a 64 x 2048 LiDAR image) are repeated vertically by an integer factor so they stay readable; an
    optional legend goes below.

    Shapes: each strip (H, W, 3) uint8 or (H, W) float."""
    if not strips:
        raise ValueError("no strips to draw")
    images = []
    for title, strip in strips:
        strip = np.asarray(strip)
        if strip.ndim == 3 and strip.shape[2] == 3 and strip.dtype == np.uint8:
            images.append((title, strip))
        elif strip.ndim == 2:
            images.append((title, scalar_to_rgb(strip)))
        else:
            raise ValueError(f"strip {title!r} has shape {strip.shape} {strip.dtype}; expected (H, W, 3) uint8 "
                             "or (H, W) float")
    width = max(img.shape[1] for _, img in images)
    font = int(np.clip(round(width / 100), 10, 16))
    title_h = int(round(font * 1.8))
    pad = font // 2
    blocks = []
    for title, img in images:
        h, w = img.shape[:2]
        factor = int(np.clip(round(w / h / 16), 1, 4))  # 64 x 2048 -> x2, close to the sensor's pixel aspect
        blocks.append((title, np.repeat(img, factor, axis=0)))
    total_w = max(width + 2 * pad, 200)
    legend_h = 0
    if legend:
        font_l, _, _, legend_h = legend_layout(legend, total_w, 10 ** 6, font, columns=max(1, total_w // 220))
    total_h = sum(title_h + b.shape[0] + pad for _, b in blocks) + legend_h + pad
    canvas = _blank(total_w, total_h)
    texts = []
    y = 0
    for title, block in blocks:
        texts.append((pad, y + (title_h - font) // 2, title, font))
        y += title_h
        canvas[y:y + block.shape[0], pad:pad + block.shape[1]] = block
        y += block.shape[0] + pad
    if legend:
        canvas = draw_legend(canvas, legend, (0, y, total_w, y + legend_h), font_px=font_l,
                             columns=max(1, total_w // 220))
    canvas = draw_text(canvas, texts)
    _write_png(canvas, out_png)


__all__ = ["Camera", "VIEWS", "fit_camera", "point_size_px", "render_cloud", "render_comparison", "render_panel",
           "render_range_strips", "scalar_to_rgb"]
