"""COCO mAP through the maintained evaluators: golden numbers, the id-0 pitfall, edge cases."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from annotations.errors import MetricsError
from annotations.metrics.detection import STAT_NAMES, Backend, available_backends, coco_map, evaluate_coco

FAKE100 = "coco_eval_val2014_fake100"
BACKENDS = [b.value for b in available_backends()]


@pytest.fixture(scope="module")
def fake100(shared_data):
    folder = shared_data / FAKE100
    gt = json.loads((folder / "instances_val2014_100.json").read_text())
    expected = json.loads((folder / "expected_stats.json").read_text())
    results = {
        "bbox": json.loads((folder / "instances_val2014_fakebbox100_results.json").read_text()),
        "segm": json.loads((folder / "instances_val2014_fakesegm100_results.json").read_text()),
    }
    return gt, results, expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_fake100_reproduces_the_12_expected_stats(fake100, iou_type, backend):
    gt, results, expected = fake100
    stats = coco_map(gt, results[iou_type], iou_type, backend=backend)
    assert list(stats) == list(STAT_NAMES)
    np.testing.assert_allclose([stats[n] for n in STAT_NAMES], expected[iou_type], rtol=0, atol=1e-9)


def test_inputs_are_not_mutated(fake100):
    gt, results, _ = fake100
    gt_before, res_before = copy.deepcopy(gt), copy.deepcopy(results["segm"])
    coco_map(gt, results["segm"], "segm")
    assert gt == gt_before and results["segm"] == res_before


def _one_box_gt(ann_id: int) -> dict:
    return {
        "images": [{"id": 1, "width": 100, "height": 100, "file_name": "a.png"}],
        "annotations": [{"id": ann_id, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 30],
                         "area": 1200.0, "iscrowd": 0,
                         "segmentation": [[10, 10, 50, 10, 50, 40, 10, 40]]}],
        "categories": [{"id": 1, "name": "thing"}],
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_gt_annotation_id_zero_scores_a_perfect_detection_as_ap_1(iou_type, backend):
    gt = _one_box_gt(0)
    if iou_type == "bbox":
        results = [{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 30], "score": 0.9}]
    else:
        from pycocotools import mask as mask_utils

        rle = mask_utils.merge(mask_utils.frPyObjects(gt["annotations"][0]["segmentation"], 100, 100))
        results = [{"image_id": 1, "category_id": 1,
                    "segmentation": {"size": [100, 100], "counts": rle["counts"].decode()}, "score": 0.9}]
    evaluation = evaluate_coco(gt, results, iou_type, backend=backend)
    assert evaluation.gt_ids_renumbered
    assert evaluation.stats["AP"] == pytest.approx(1.0)
    assert evaluation.stats["AP50"] == pytest.approx(1.0)
    assert gt["annotations"][0]["id"] == 0  # the caller's dict is untouched


def test_the_pitfall_is_real_in_raw_pycocotools():
    """Guard: if pycocotools ever fixes it, our renumbering is still harmless."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = _one_box_gt(0)
        coco.createIndex()
        dt = coco.loadRes([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 30], "score": 0.9}])
        ev = COCOeval(coco, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_results_give_zero_ap_not_a_crash(backend):
    stats = coco_map(_one_box_gt(1), [], "bbox", backend=backend)
    assert stats["AP"] == 0.0 and stats["AR100"] == 0.0
    assert math.isnan(stats["APs"])  # no small ground truth: undefined, NaN (COCOeval's -1)


def test_pr_curve_and_per_category_ap(fake100):
    gt, results, expected = fake100
    ev = evaluate_coco(gt, results["bbox"], "bbox")
    mean_curve = ev.pr_curve(None, 0.5)
    assert mean_curve.shape == (101,)
    assert float(np.mean(mean_curve)) == pytest.approx(expected["bbox"][1], abs=1e-12)
    per_cat = ev.per_category_ap()
    assert np.nanmean(list(per_cat.values())) == pytest.approx(expected["bbox"][0], abs=1e-12)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda gt, res: res.append({"image_id": 999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1}), "image 999"),
        (lambda gt, res: gt["annotations"][0].pop("area"), "lacks"),
        (lambda gt, res: res.append({"image_id": 1, "category_id": 1, "score": 1}), "lacks"),
    ],
)
def test_bad_input_is_a_metrics_error(mutate, message):
    gt = _one_box_gt(1)
    results: list[dict] = []
    mutate(gt, results)
    with pytest.raises(MetricsError, match=message):
        coco_map(gt, results, "bbox")


def test_four_number_polygon_is_rejected_not_a_crash():
    gt = _one_box_gt(1)
    gt["annotations"][0]["segmentation"] = [[1, 1, 5, 5]]
    with pytest.raises(MetricsError, match="id 1"):
        coco_map(gt, [], "segm")


def test_uncompressed_rle_result_is_rejected():
    res = [{"image_id": 1, "category_id": 1, "segmentation": {"size": [100, 100], "counts": [0, 10000]}, "score": 1}]
    with pytest.raises(MetricsError, match="compressed RLE"):
        coco_map(_one_box_gt(1), res, "segm")


def test_shared_iou_provider_gives_identical_numbers(fake100):
    """The review hands in its own IoU matrices; the numbers must not move."""
    from pycocotools import mask as mask_utils

    gt, results, expected = fake100
    gt_by_id = {a["id"]: a for a in gt["annotations"]}
    images = {i["id"]: i for i in gt["images"]}

    def provider(image_id, dt_ids, gt_ids):
        img = images[image_id]
        dts = [results["bbox"][i - 1]["bbox"] for i in dt_ids]
        gts = [gt_by_id[i]["bbox"] for i in gt_ids]
        crowd = [int(gt_by_id[i]["iscrowd"]) for i in gt_ids]
        assert img["id"] == image_id
        return mask_utils.iou(dts, gts, crowd)

    for backend in BACKENDS:
        stats = evaluate_coco(gt, results["bbox"], "bbox", backend=backend, iou_provider=provider).stats
        np.testing.assert_allclose([stats[n] for n in STAT_NAMES], expected["bbox"], rtol=0, atol=1e-12)


def test_auto_backend_is_known():
    assert Backend.PYCOCOTOOLS in available_backends()
