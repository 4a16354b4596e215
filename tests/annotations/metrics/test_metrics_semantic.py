"""Semantic metrics against cityscapesscripts' pixel-level evaluation and torchmetrics, on the
labelme VOC reference masks (two annotations of the same three images that differ slightly)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotations.errors import MetricsError
from annotations.metrics.semantic import confusion_matrix, semantic_metrics

NAMES = ("2011_000003", "2011_000006", "2011_000025")
VOC_CLASSES = 21


@pytest.fixture(scope="module")
def voc_pairs(shared_data) -> list[tuple[np.ndarray, np.ndarray]]:
    root = shared_data / "labelme_examples"
    pairs = []
    for name in NAMES:
        a = np.array(Image.open(root / "semantic_segmentation/data_dataset_voc/SegmentationClass" / f"{name}.png"))
        b = np.array(Image.open(root / "instance_segmentation/data_dataset_voc/SegmentationClass" / f"{name}.png"))
        # The two annotations agree on >99 % of pixels; damage one class to make the test sharper.
        pred = b.copy()
        pred[:, ::7][pred[:, ::7] == 15] = 0
        pairs.append((a, pred))
    return pairs


def _total_confusion(pairs, num_classes=VOC_CLASSES, ignore_index=255) -> np.ndarray:
    return sum(confusion_matrix(gt, pred, num_classes, ignore_index) for gt, pred in pairs)


def test_matches_torchmetrics_jaccard_and_accuracy(voc_pairs):
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    preds = torch.cat([torch.from_numpy(p.astype(np.int64)).reshape(-1) for _, p in voc_pairs])
    target = torch.cat([torch.from_numpy(g.astype(np.int64)).reshape(-1) for g, _ in voc_pairs])
    preds = torch.where(preds == 255, torch.zeros_like(preds), preds)  # void in the prediction -> background
    pairs = [(g, np.where(p == 255, 0, p)) for g, p in voc_pairs]
    ours = semantic_metrics(_total_confusion(pairs))

    macro = tm.MulticlassJaccardIndex(num_classes=VOC_CLASSES, average="macro", ignore_index=255)(preds, target)
    per_class = tm.MulticlassJaccardIndex(num_classes=VOC_CLASSES, average="none", ignore_index=255)(preds, target)
    accuracy = tm.MulticlassAccuracy(num_classes=VOC_CLASSES, average="micro", ignore_index=255)(preds, target)
    assert ours.miou == pytest.approx(float(macro), abs=1e-6)
    present = ~np.isnan(ours.iou)
    assert present.sum() >= 5
    np.testing.assert_allclose(ours.iou[present], per_class.numpy()[present], atol=1e-6)
    assert ours.pixel_accuracy == pytest.approx(float(accuracy), abs=1e-6)
    assert 0.5 < ours.miou < 0.999  # the damage is visible


def test_matches_cityscapes_pixel_level_evaluation(voc_pairs, tmp_path: Path):
    cs_eval = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    from cityscapesscripts.helpers.labels import id2label, labels

    eval_ids = [label.id for label in labels if not label.ignoreInEval and label.id >= 0]
    assert len(eval_ids) == 19
    # VOC class v -> a distinct Cityscapes eval labelId; VOC void (255) -> "unlabeled" (0).
    lut = np.zeros(256, dtype=np.uint8)
    for v in range(VOC_CLASSES):
        lut[v] = eval_ids[v] if v < len(eval_ids) else 4  # 19, 20 -> "static" (ignored in eval)
    lut[255] = 0
    gt_files, pred_files, cs_pairs = [], [], []
    for index, (gt, pred) in enumerate(voc_pairs):
        g, p = lut[gt], lut[pred]
        gt_path, pred_path = tmp_path / f"gt{index}_labelIds.png", tmp_path / f"pred{index}.png"
        Image.fromarray(g, mode="L").save(gt_path)
        Image.fromarray(p, mode="L").save(pred_path)
        gt_files.append(str(gt_path))
        pred_files.append(str(pred_path))
        # Our convention: GT pixels of ignoreInEval classes are void (ignore_index).
        ignored = np.array([id2label[i].ignoreInEval for i in range(34)])
        cs_pairs.append((np.where(ignored[g], 255, g), p))
    args = cs_eval.args
    args.quiet, args.JSONOutput, args.evalInstLevelScore, args.evalPixelAccuracy = True, False, False, False
    args.exportFile = str(tmp_path / "results.json")
    result = cs_eval.evaluateImgLists(pred_files, gt_files, args)

    ours = semantic_metrics(_total_confusion(cs_pairs, num_classes=34))
    compared = 0
    for label_id in eval_ids:
        expected = result["classScores"][id2label[label_id].name]
        if isinstance(expected, float) and math.isnan(expected):
            assert math.isnan(ours.iou[label_id])
        else:
            assert ours.iou[label_id] == pytest.approx(expected, abs=1e-12)
            compared += 1
    assert compared >= 5
    assert float(np.nanmean(ours.iou[eval_ids])) == pytest.approx(result["averageScoreClasses"], abs=1e-12)


def test_hand_computed_values():
    gt = np.array([[0, 0, 1, 1], [0, 0, 1, 255]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 0, 2]])
    cm = confusion_matrix(gt, pred, 3)
    np.testing.assert_array_equal(cm, [[3, 1, 0], [1, 2, 0], [0, 0, 0]])
    m = semantic_metrics(cm)
    assert m.pixel_accuracy == pytest.approx(5 / 7)
    np.testing.assert_allclose(m.iou[:2], [3 / 5, 2 / 4])
    assert math.isnan(m.iou[2])  # class 2 predicted only on a void pixel: absent on both sides
    assert m.miou == pytest.approx((0.6 + 0.5) / 2)
    np.testing.assert_allclose(m.dice[:2], [6 / 8, 4 / 6])
    assert m.fw_iou == pytest.approx(4 / 7 * 0.6 + 3 / 7 * 0.5)
    assert m.mean_class_accuracy == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert m.to_json()["per_class"][2]["iou"] is None


def test_empty_confusion_is_nan_not_a_crash():
    m = semantic_metrics(np.zeros((3, 3), dtype=np.int64))
    assert all(math.isnan(v) for v in (m.pixel_accuracy, m.miou, m.fw_iou, m.mean_dice, m.mean_class_accuracy))


def test_mismatched_sizes_and_bad_labels_are_errors():
    with pytest.raises(MetricsError, match="sizes differ"):
        confusion_matrix(np.zeros((4, 5), int), np.zeros((5, 4), int), 2)
    with pytest.raises(MetricsError, match="label 7"):
        confusion_matrix(np.zeros((2, 2), int), np.full((2, 2), 7), 2)
    with pytest.raises(MetricsError, match="square"):
        semantic_metrics(np.zeros((2, 3)))
