"""ConfusionMatrix against matrices computed by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from pcseg.metrics import ConfusionMatrix

# target / prediction pairs; the -1 target is ignored (its prediction 2 must not be counted)
TARGET = [0, 0, 1, 1, 2, -1, 2, 0]
PRED = [0, 1, 1, 1, 0, 2, 2, 0]
# rows = target, cols = prediction, counted by hand from the 7 kept pairs
EXPECTED = [[2, 1, 0],
            [0, 2, 0],
            [1, 0, 1]]


def test_hand_computed_matrix_and_scores():
    cm = ConfusionMatrix(3).update(np.array(PRED), np.array(TARGET))
    assert cm.matrix.tolist() == EXPECTED
    assert cm.matrix.dtype == np.int64
    assert cm.num_points == 7
    # TP = [2, 2, 1], FP = [1, 1, 0], FN = [1, 0, 1]
    np.testing.assert_allclose(cm.iou(), [2 / 4, 2 / 3, 1 / 2])
    np.testing.assert_allclose(cm.acc(), [2 / 3, 1.0, 1 / 2])
    np.testing.assert_allclose(cm.f1(), [4 / 6, 4 / 5, 2 / 3])
    assert cm.miou == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    assert cm.macc == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    assert cm.oa == pytest.approx(5 / 7)
    # fwIoU = sum_k (N_k / N) IoU_k with row sums N_k = [3, 2, 2]
    assert cm.fwiou == pytest.approx(3 / 7 * 1 / 2 + 2 / 7 * 2 / 3 + 2 / 7 * 1 / 2)


def test_absent_class_is_nan_and_left_out_of_means():
    cm = ConfusionMatrix(4).update(np.array(PRED), np.array(TARGET))
    assert math.isnan(cm.iou()[3]) and math.isnan(cm.acc()[3]) and math.isnan(cm.f1()[3])
    assert cm.miou == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3)
    assert cm.macc == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)


def test_predicted_only_class_counts_as_zero():
    # target [0, 1], prediction [3, 1]: class 3 is a false positive only, class 2 absent everywhere
    cm = ConfusionMatrix(4).update(np.array([3, 1]), np.array([0, 1]))
    assert cm.matrix.tolist() == [[0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    iou = cm.iou()
    assert iou[0] == 0 and iou[1] == 1 and math.isnan(iou[2]) and iou[3] == 0
    assert cm.miou == pytest.approx(1 / 3)
    assert cm.macc == pytest.approx(1 / 2)        # acc of class 3 is NaN (not in the target)


def test_empty_matrix_is_nan():
    cm = ConfusionMatrix(3)
    assert math.isnan(cm.miou) and math.isnan(cm.oa) and math.isnan(cm.fwiou)
    assert cm.to_dict()["miou"] is None


def test_torch_and_numpy_agree_and_any_shape():
    pred = torch.tensor(PRED).reshape(2, 4)
    target = torch.tensor(TARGET).reshape(2, 4)
    cm = ConfusionMatrix(3).update(pred, target)
    assert cm.matrix.tolist() == EXPECTED
    mixed = ConfusionMatrix(3).update(pred.int(), np.array(TARGET).reshape(2, 4))
    assert mixed.matrix.tolist() == EXPECTED
    # torch and numpy updates accumulate into the same matrix
    both = ConfusionMatrix(3).update(pred, target).update(np.array(PRED), np.array(TARGET))
    assert (both.matrix == 2 * np.array(EXPECTED)).all()


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_bad_input_raises(lib):
    conv = np.array if lib == "numpy" else torch.tensor
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="shape"):
        cm.update(conv([0, 1]), conv([0, 1, 2]))
    with pytest.raises(ValueError, match="prediction outside"):
        cm.update(conv([0, 3]), conv([0, 1]))
    with pytest.raises(ValueError, match="prediction outside"):
        cm.update(conv([-1, 0]), conv([0, 1]))
    with pytest.raises(ValueError, match="target outside"):
        cm.update(conv([0, 1]), conv([0, 7]))
    with pytest.raises(ValueError, match="integer"):
        cm.update(conv([0.0, 1.0]), conv([0, 1]))
    assert cm.num_points == 0          # nothing half-counted


def test_custom_ignore_index():
    cm = ConfusionMatrix(3, ignore_index=255).update(np.array([0, 1, 2]), np.array([0, 255, 2]))
    assert cm.matrix.tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 1]]


def test_merge_equals_update_on_concatenation():
    rng = np.random.default_rng(0)
    target = rng.integers(-1, 5, size=1000)
    pred = rng.integers(0, 5, size=1000)
    whole = ConfusionMatrix(5).update(pred, target)
    a = ConfusionMatrix(5).update(pred[:300], target[:300])
    b = ConfusionMatrix(5).update(torch.from_numpy(pred[300:]), torch.from_numpy(target[300:]))
    assert ((a + b).matrix == whole.matrix).all()
    assert a.num_points == int((target[:300] >= 0).sum())     # + does not modify its operands
    a += b
    assert (a.matrix == whole.matrix).all()
    with pytest.raises(ValueError):
        a.merge(ConfusionMatrix(4))


def test_all_reduce_without_distributed_is_noop():
    cm = ConfusionMatrix(3).update(np.array(PRED), np.array(TARGET))
    assert cm.all_reduce().matrix.tolist() == EXPECTED


def test_json_round_trip(tmp_path):
    names = ["ceiling", "floor", "wall", "beam"]
    cm = ConfusionMatrix(4, class_names=names).update(np.array(PRED), np.array(TARGET))
    path = tmp_path / "metrics.json"
    cm.save_json(path)
    data = json.loads(path.read_text())           # strict JSON: NaN became null
    assert data["iou"]["beam"] is None and data["f1"]["beam"] is None
    assert data["iou"]["floor"] == pytest.approx(2 / 3)
    assert data["confusion"] == [row + [0] for row in EXPECTED] + [[0, 0, 0, 0]]
    assert data["num_points"] == 7
    assert set(data) >= {"miou", "oa", "macc", "fwiou", "iou", "f1", "confusion", "num_points"}
    back = ConfusionMatrix.from_dict(data)
    assert back.class_names == tuple(names)
    assert (back.matrix == cm.matrix).all()
    assert back.miou == pytest.approx(cm.miou)
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]   # no temp file left


def test_table_prints_percent():
    cm = ConfusionMatrix(4, class_names=["a", "b", "c", "d"]).update(np.array(PRED), np.array(TARGET))
    lines = cm.table().splitlines()
    assert lines[1].split() == ["a", "50.0", "66.7", "3"]
    assert lines[4].split() == ["d", "-", "-", "0"]
    assert lines[5].split() == ["mIoU", "55.6"]
    assert lines[6].split() == ["OA", "71.4"]
    assert [line.split()[0] for line in lines[5:]] == ["mIoU", "OA", "mAcc", "fwIoU"]


def test_miou_present_averages_only_the_classes_in_the_target():
    # truth: classes 0 and 1 only; class 2 is predicted for one point of class 1 (a false-positive class)
    cm = ConfusionMatrix(4)
    cm.update(np.array([0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 1]))
    # IoU: class 0 = 2/2, class 1 = 2/3, class 2 = 0/1 (predicted only), class 3 absent (NaN)
    assert cm.miou == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert cm.miou_present == pytest.approx((1 + 2 / 3) / 2)
    assert cm.to_dict()["miou_present"] == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(ConfusionMatrix(3).miou_present)
