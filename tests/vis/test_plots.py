import json

import numpy as np
import pytest

from pcseg.classes import S3DIS, SEMANTICKITTI
from pcseg.errors import PcsegError
from pcseg.vis.plots import read_metrics, save_confusion_matrix, save_iou_bars, save_learning_curves
from tests.vis.scenes import pixels_near, read_png


def _metrics(path, with_val=True):
    lines = []
    for epoch in range(1, 6):
        for step in range(4):
            lines.append({"epoch": epoch, "step": epoch * 40 + step * 10, "loss": 2.0 / (epoch + step),
                          "lr": 0.001 * 0.5 ** epoch})
        if with_val:
            lines.append({"epoch": epoch, "step": epoch * 40 + 30, "loss": 1.0 / epoch, "lr": 0.001,
                          "val_miou": 0.1 * epoch, "val_oa": 0.15 * epoch})
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n\n")
    return path


@pytest.mark.parametrize("with_val", [True, False])
def test_learning_curves_png(tmp_path, with_val):
    out = tmp_path / "curves.png"
    save_learning_curves(_metrics(tmp_path / "metrics.jsonl", with_val), out)
    image = read_png(out)
    assert image.shape[0] >= 300 and image.shape[1] >= 600
    assert pixels_near(image, (31, 119, 180), tol=10) > 50  # the tab:blue loss line
    assert (pixels_near(image, (214, 39, 40), tol=10) > 20) == with_val  # the tab:red mIoU line


def test_learning_curves_bad_files(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"epoch": 1, "loss": 1.0}\nnot json\n')
    with pytest.raises(PcsegError, match="line 2"):
        read_metrics(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"epoch": 1}\n')
    with pytest.raises(PcsegError, match="no 'loss'"):
        save_learning_curves(empty, tmp_path / "x.png")
    with pytest.raises(PcsegError, match="no such file"):
        save_learning_curves(tmp_path / "missing.jsonl", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists() and not list(tmp_path.glob(".x.png*"))


def test_confusion_matrix_png_scales_with_classes(tmp_path):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 100, (13, 13)) + np.eye(13, dtype=int) * 1000
    small[3] = 0  # a class absent from the ground truth
    save_confusion_matrix(small, S3DIS.names, tmp_path / "cm13.png")
    big = rng.integers(0, 100, (19, 19))
    save_confusion_matrix(big, SEMANTICKITTI.names, tmp_path / "cm19.png")
    a, b = read_png(tmp_path / "cm13.png"), read_png(tmp_path / "cm19.png")
    assert a.shape[0] >= 450 and b.shape[0] > a.shape[0]
    assert pixels_near(a, (221, 221, 221), tol=0) > 500  # the grey row of the absent class
    with pytest.raises(ValueError, match="class names"):
        save_confusion_matrix(small, S3DIS.names[:5], tmp_path / "bad.png")


def test_confusion_matrix_is_row_normalised(tmp_path):
    # a class with few points but all on the diagonal must be as dark as a large one
    cm = np.array([[10, 0], [0, 100000]])
    save_confusion_matrix(cm, ["a", "b"], tmp_path / "cm.png")
    image = read_png(tmp_path / "cm.png")
    darkest = (8, 48, 107)  # Blues at 1.0
    assert pixels_near(image, darkest, tol=4) > 2 * 1000  # both diagonal cells, not only the big one


def test_iou_bars_colour_present_classes_and_mark_absent_ones(tmp_path):
    iou = {name: 0.5 for name in S3DIS.names}
    iou["sofa"] = None
    iou["beam"] = float("nan")
    out = tmp_path / "iou.png"
    save_iou_bars(iou, out, title="test")
    image = read_png(out)
    assert pixels_near(image, S3DIS.colors[S3DIS.index("chair")], tol=0) > 200
    assert pixels_near(image, S3DIS.colors[S3DIS.index("sofa")], tol=0) == 0
    assert pixels_near(image, S3DIS.colors[S3DIS.index("beam")], tol=0) == 0
    with pytest.raises(ValueError):
        save_iou_bars({"a": 1.5}, tmp_path / "bad.png")
