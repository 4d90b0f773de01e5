"""Label colours and legends, built on the class sets of :mod:`pcseg.classes` (the palettes live there, once).

Two kinds of legend: :func:`legend_text` for terminals (ANSI 24-bit colour swatches when stdout is a TTY)
and :func:`draw_legend` / :func:`draw_text` to write swatches and names into an RGB image (text drawn with
Pillow, which matplotlib depends on, in matplotlib's bundled DejaVu Sans font).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np

from pcseg.classes import IGNORE, IGNORE_COLOR, ClassSet
from pcseg.io.cloud import Cloud

RGB = tuple[int, int, int]
LegendEntry = tuple[str, RGB]

# Colours of the error panel / error mode: wrong points red, right ones grey, points without ground truth
# (IGNORE) a darker grey so they are not mistaken for either.
WRONG_COLOR: RGB = (230, 25, 25)
RIGHT_COLOR: RGB = (185, 185, 185)
NO_GT_COLOR: RGB = (95, 95, 95)
ERROR_LEGEND: list[LegendEntry] = [("error: wrong", WRONG_COLOR), ("error: right", RIGHT_COLOR),
                                  ("error: no ground truth", NO_GT_COLOR)]

BACKGROUND: RGB = (255, 255, 255)
TEXT_COLOR: RGB = (20, 20, 20)


def check_labels(labels: np.ndarray, class_set: ClassSet) -> np.ndarray:
    """Return ``labels`` as int64 after checking every value is a class of ``class_set`` or IGNORE.

    Shapes: labels (...) any integer shape -> same shape int64.
    Raises ValueError naming the first bad value (callers that know the file turn it into a PcsegError)."""
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("labels are not integers")
    labels = labels.astype(np.int64, copy=False)
    bad = (labels < IGNORE) | (labels >= class_set.num_classes)
    if np.any(bad):
        value = int(labels[bad].flat[0])
        raise ValueError(f"label {value} is outside 0..{class_set.num_classes - 1} of class set "
                         f"{class_set.name!r} (-1 = ignore)")
    return labels


def colorize_labels(labels: np.ndarray, class_set: ClassSet) -> np.ndarray:
    """Labels (class index or IGNORE) -> palette colours as uint8 RGB.

    Shapes: labels (...) int -> (..., 3) uint8."""
    return class_set.palette()[check_labels(labels, class_set)]


def error_colors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-point error colours: WRONG_COLOR where pred != gt, RIGHT_COLOR where equal, NO_GT_COLOR where the
    ground truth is IGNORE.

    Shapes: pred (...) int, gt (...) int -> (..., 3) uint8."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    out = np.empty(pred.shape + (3,), dtype=np.uint8)
    out[...] = RIGHT_COLOR
    out[pred != gt] = WRONG_COLOR
    out[gt == IGNORE] = NO_GT_COLOR
    return out


def _int_array(values: Iterable[int]) -> np.ndarray:
    return np.asarray(values if isinstance(values, np.ndarray) else list(values)).reshape(-1)


def legend_entries(class_set: ClassSet, present: Iterable[int] | None = None) -> list[LegendEntry]:
    """(name, RGB) for each class in ``present`` (all classes when None), in class order; IGNORE among the
    present labels adds an ("unlabeled", IGNORE_COLOR) entry at the end."""
    if present is None:
        wanted = set(range(class_set.num_classes))
    else:
        wanted = {int(v) for v in np.unique(check_labels(_int_array(present), class_set))}
    entries = [(class_set.names[k], class_set.colors[k]) for k in range(class_set.num_classes) if k in wanted]
    if IGNORE in wanted:
        entries.append(("unlabeled", IGNORE_COLOR))
    return entries


def _use_color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR"):  # https://no-color.org
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def legend_text(class_set: ClassSet, present: Iterable[int] | None = None, color: bool | None = None) -> str:
    """A legend for terminals, one class per line: index, colour swatch, name.

    ``color`` None means: ANSI 24-bit colour swatches when stdout is a TTY (and NO_COLOR is unset), else plain
    text with the RGB value so the output stays readable in logs and pipes."""
    if color is None:
        color = _use_color(sys.stdout)
    lines = [f"{class_set.name} classes:"]
    width = max(len(name) for name in class_set.names + ("unlabeled",))
    for name, rgb in legend_entries(class_set, None if present is None else _int_array(present)):
        index = class_set.names.index(name) if name in class_set.names else IGNORE
        if color:
            r, g, b = rgb
            swatch = f"\x1b[48;2;{r};{g};{b}m    \x1b[0m"
            lines.append(f"  {index:>2} {swatch} {name}")
        else:
            lines.append(f"  {index:>2}  {name:<{width}}  rgb{tuple(int(c) for c in rgb)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# drawing text and legends into images

@lru_cache(maxsize=32)
def _font(size_px: int) -> Any:
    """DejaVu Sans (shipped with matplotlib) at ``size_px`` pixels; Pillow's own font if that is missing."""
    from PIL import ImageFont

    try:
        import matplotlib

        path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
        return ImageFont.truetype(path, size_px)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size_px)


def text_size(text: str, size_px: int) -> tuple[int, int]:
    """(width, height) in pixels of ``text`` drawn at ``size_px``."""
    left, top, right, bottom = _font(int(size_px)).getbbox(text)
    return int(np.ceil(right)), int(np.ceil(bottom))


def draw_text(image: np.ndarray, items: Sequence[tuple[int, int, str, int]],
              color: RGB = TEXT_COLOR) -> np.ndarray:
    """A copy of ``image`` with each (x, y, text, size_px) written with its top-left corner at (x, y).

    Shapes: image (H, W, 3) uint8 -> (H, W, 3) uint8. Pixels away from the text keep their exact values."""
    from PIL import Image, ImageDraw

    if not items:
        return image.copy()
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="RGB")
    draw = ImageDraw.Draw(pil)
    for x, y, text, size_px in items:
        draw.text((int(x), int(y)), text, fill=tuple(color), font=_font(int(size_px)))
    return np.asarray(pil).copy()


def legend_layout(entries: Sequence[LegendEntry], max_w: int, max_h: int, font_px: int,
                  columns: int | None = None) -> tuple[int, int, int, int]:
    """Fit ``entries`` into a max_w x max_h box: returns (font_px, columns, width, height) of the legend.

    The font shrinks (down to 7 px) and the columns grow until everything fits; ``columns`` fixes the column
    count (it may still grow when the rows do not fit)."""
    font_px = int(font_px)
    while True:
        row_h = int(round(font_px * 1.5))
        swatch = font_px
        col_w = swatch + font_px // 2 + max(text_size(name, font_px)[0] for name, _ in entries) + font_px
        pad = max(2, font_px // 2)
        rows_fit = max(1, (max_h - 2 * pad) // row_h)
        ncols = max(columns or 1, int(np.ceil(len(entries) / rows_fit)))
        nrows = int(np.ceil(len(entries) / ncols))
        width, height = ncols * col_w + 2 * pad, nrows * row_h + 2 * pad
        if (width <= max_w and height <= max_h) or font_px <= 7:
            return font_px, ncols, width, height
        font_px -= 1


def draw_legend(image: np.ndarray, entries: Sequence[LegendEntry], box: tuple[int, int, int, int],
                font_px: int | None = None, columns: int | None = None) -> np.ndarray:
    """A copy of ``image`` with a legend (colour swatch + name per entry) drawn inside ``box`` =
    (x0, y0, x1, y1), entries filling columns top to bottom.

    Shapes: image (H, W, 3) uint8 -> (H, W, 3) uint8. Swatches are filled with the exact entry colour (with a
    thin grey outline so white or black classes stay visible)."""
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    if not entries:
        return out
    x0, y0, x1, y1 = (int(v) for v in box)
    if font_px is None:
        font_px = int(np.clip(image.shape[0] / 40, 9, 18))
    font_px, ncols, width, height = legend_layout(entries, x1 - x0, y1 - y0, font_px, columns)
    row_h = int(round(font_px * 1.5))
    pad = max(2, font_px // 2)
    nrows = int(np.ceil(len(entries) / ncols))
    col_w = (width - 2 * pad) // ncols
    texts = []
    for i, (name, rgb) in enumerate(entries):
        col, row = divmod(i, nrows)
        x = x0 + pad + col * col_w
        y = y0 + pad + row * row_h
        sy = y + (row_h - font_px) // 2
        ys, ye = max(sy, 0), min(sy + font_px, out.shape[0])
        xs, xe = max(x, 0), min(x + font_px, out.shape[1])
        if ye > ys and xe > xs:
            out[ys:ye, xs:xe] = (150, 150, 150)
            if ye - ys > 2 and xe - xs > 2:
                out[ys + 1:ye - 1, xs + 1:xe - 1] = rgb
        # text vertically centred on the swatch: DejaVu's ascent is about 0.93 em above the baseline
        texts.append((x + font_px + font_px // 2, sy - int(round(font_px * 0.12)), name, font_px))
    return draw_text(out, texts)


def scalar_to_rgb(values: np.ndarray, cmap: str = "viridis") -> np.ndarray:
    """Float image -> colour-mapped RGB, scaled between the 1st and 99th percentiles of its finite values;
    non-finite pixels (NaN marks "no point") are black.

    Shapes: values (H, W) float -> (H, W, 3) uint8."""
    import matplotlib

    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    out = np.zeros(values.shape + (3,), dtype=np.uint8)
    if finite.any():
        lo, hi = np.percentile(values[finite], [1, 99])
        scaled = np.clip((values - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
        rgba = matplotlib.colormaps[cmap](np.where(finite, scaled, 0.0))
        out[finite] = (rgba[finite, :3] * 255).round().astype(np.uint8)
    return out


def plain_colors(cloud: Cloud) -> np.ndarray:
    """Colours of an unlabelled cloud: its RGB, else intensity (grey), else height (viridis).

    Shapes: -> (N, 3) float in [0, 1]."""
    if cloud.color is not None:
        return np.clip(cloud.color, 0, 1)
    values = cloud.intensity if cloud.intensity is not None else cloud.coord[:, 2]
    return scalar_to_rgb(values.reshape(1, -1)).reshape(-1, 3).astype(np.float64) / 255


__all__ = ["BACKGROUND", "ERROR_LEGEND", "NO_GT_COLOR", "RIGHT_COLOR", "WRONG_COLOR", "check_labels",
           "colorize_labels", "draw_legend", "draw_text", "error_colors", "legend_entries", "legend_layout",
           "legend_text", "plain_colors", "scalar_to_rgb", "text_size"]
