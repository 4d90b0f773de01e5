import numpy as np
import pytest

from pcseg.classes import IGNORE_COLOR, S3DIS, SEMANTICKITTI
from pcseg.vis.palette import (NO_GT_COLOR, RIGHT_COLOR, WRONG_COLOR, check_labels, colorize_labels, draw_legend,
                               error_colors, legend_entries, legend_text)
from tests.vis.scenes import pixels_near


def test_legend_entries_follow_class_order_and_add_unlabeled():
    entries = legend_entries(S3DIS, [8, -1, 0, 8])
    assert entries == [("ceiling", S3DIS.colors[0]), ("chair", S3DIS.colors[8]), ("unlabeled", IGNORE_COLOR)]
    assert [name for name, _ in legend_entries(SEMANTICKITTI)] == list(SEMANTICKITTI.names)


def test_legend_entries_reject_labels_outside_the_class_set():
    with pytest.raises(ValueError, match="13"):
        legend_entries(S3DIS, [0, 13])


def test_legend_text_plain_lists_only_present_classes():
    text = legend_text(S3DIS, np.array([1, 2]), color=False)
    assert "floor" in text and "wall" in text and "chair" not in text
    assert "\x1b[" not in text and "rgb(0, 0, 255)" in text


def test_legend_text_ansi_swatches_carry_the_palette_rgb():
    text = legend_text(SEMANTICKITTI, [0], color=True)
    r, g, b = SEMANTICKITTI.colors[0]
    assert f"\x1b[48;2;{r};{g};{b}m" in text and "car" in text


def test_legend_text_is_plain_when_stdout_is_not_a_tty(capsys):
    # under capsys sys.stdout is not a terminal
    assert "\x1b[" not in legend_text(S3DIS, [0])


def test_colorize_and_check_labels():
    out = colorize_labels(np.array([[0, -1], [12, 8]]), S3DIS)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == S3DIS.colors[0] and tuple(out[0, 1]) == IGNORE_COLOR
    assert tuple(out[1, 1]) == S3DIS.colors[8]
    with pytest.raises(ValueError, match="-2"):
        check_labels(np.array([0, -2]), S3DIS)
    with pytest.raises(ValueError, match="not integers"):
        check_labels(np.array([0.5]), S3DIS)


def test_error_colors():
    out = error_colors(np.array([1, 2, 3]), np.array([1, 5, -1]))
    assert [tuple(c) for c in out] == [RIGHT_COLOR, WRONG_COLOR, NO_GT_COLOR]


def test_draw_legend_writes_swatches_inside_its_box_only():
    image = np.full((120, 200, 3), 255, dtype=np.uint8)
    entries = legend_entries(S3DIS, [0, 8, 11])
    out = draw_legend(image, entries, (100, 0, 200, 120))
    for _, rgb in entries:
        assert pixels_near(out, rgb, tol=0) >= 16  # at least a 4x4 swatch of the exact colour
    assert np.array_equal(out[:, :100], image[:, :100])
    assert (out[:, 100:] < 100).all(axis=-1).sum() > 20  # dark text pixels of the names


def test_draw_legend_shrinks_or_adds_columns_to_fit():
    image = np.full((60, 300, 3), 255, dtype=np.uint8)
    entries = legend_entries(SEMANTICKITTI)
    out = draw_legend(image, entries, (0, 0, 300, 60))
    found = sum(pixels_near(out, rgb, tol=0) > 0 for _, rgb in entries)
    assert found == len(entries)
