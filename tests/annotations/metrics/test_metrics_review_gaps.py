"""The review gaps new users hit: ignore regions, images the model saw and left empty,
superseded versions, the detections cap, the IoU type of the ground truth, the size-bucket rule,
and pre-labels scored against a ground-truth file paired by file name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotations.errors import MetricsError
from annotations.geometry import Box, Polygon, rle
from annotations.metrics.detection import AreaRule, evaluate_coco
from annotations.metrics.review import model_vs_final, project_vs_coco
from annotations.metrics.review_core import review_coco
from annotations.model import (
    NO_CATEGORY,
    Annotation,
    AnnotationRole,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    PredictionState,
)
from annotations.store import Project
from annotations.store.prelabel_log import record_prelabelled

SIZE_HW = (60, 80)


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


def _project(tmp_path: Path, n_images: int = 2) -> tuple[Project, list[Image], ModelVersion]:
    project = Project.create(tmp_path / "p.segproj", [Category(1, "cell")])
    images = project.add_images([Image(0, f"imgs/{k}.png", SIZE_HW[1], SIZE_HW[0], ImageStatus.DONE)
                                 for k in range(n_images)])
    version = project.add_model_version(ModelVersion(0, "unet", (1,)))
    return project, images, version


def test_ignore_regions_are_left_out_of_instance_and_pixel_metrics(tmp_path: Path) -> None:
    project, (img, _), mv = _project(tmp_path)
    void = np.zeros(SIZE_HW, bool)
    void[40:, :] = True
    project.add_annotations([Annotation(0, img.id, 1, _square(5, 5, 20)),
                             Annotation(0, img.id, NO_CATEGORY, rle.encode(void), role=AnnotationRole.IGNORE)])
    project.add_predictions([Prediction(0, img.id, 1, _square(5, 5, 20), 0.9, mv.id),
                             Prediction(0, img.id, 1, _square(40, 45, 10), 0.8, mv.id)])  # inside the void
    report = model_vs_final(project, boundary=False)
    s = report.summary
    assert (s["gt"], s["tp"], s["fp"], s["fn"], s["ignored"]) == (1, 1, 0, 0, 1)
    assert report.coco["AP"] == pytest.approx(1.0)
    assert report.semantic["pixel_accuracy"] == pytest.approx(1.0)  # the void's wrong pixels do not count
    project.close()


def test_an_image_the_model_saw_and_left_empty_counts_its_objects_as_missed(tmp_path: Path) -> None:
    project, (seen, empty), mv = _project(tmp_path)
    project.add_annotations([Annotation(0, seen.id, 1, _square(5, 5, 20)), Annotation(0, empty.id, 1, _square(5, 5, 20)),
                             Annotation(0, empty.id, 1, _square(40, 5, 15))])
    project.add_predictions([Prediction(0, seen.id, 1, _square(5, 5, 20), 0.9, mv.id)])
    before = model_vs_final(project, boundary=False, semantic=False).summary
    assert (before["images"], before["fn"]) == (1, 0)  # without a record the empty image is unknown
    record_prelabelled(project, mv.id, [seen.id, empty.id])
    after = model_vs_final(project, boundary=False, semantic=False).summary
    assert (after["images"], after["tp"], after["fn"]) == (2, 1, 2)
    assert after["recall"] == pytest.approx(1 / 3)
    assert any("predicted nothing" in note for note in after["notes"])
    project.close()


def test_a_superseded_version_is_reviewed_on_its_own_predictions(tmp_path: Path) -> None:
    project, (img, _), v1 = _project(tmp_path)
    v2 = project.add_model_version(ModelVersion(0, "unet", (1,)))
    project.add_annotations([Annotation(0, img.id, 1, _square(5, 5, 20))])
    project.add_predictions([Prediction(0, img.id, 1, _square(5, 5, 20), 0.9, v1.id, PredictionState.SUPERSEDED),
                             Prediction(0, img.id, 1, _square(50, 30, 8), 0.9, v2.id)])
    old = model_vs_final(project, v1.id, boundary=False, semantic=False)
    assert (old.summary["tp"], old.summary["fp"], old.summary["model_version_id"]) == (1, 0, v1.id)
    assert any("superseded" in note for note in old.summary["notes"])
    new = model_vs_final(project, boundary=False, semantic=False)
    assert (new.summary["model_version_id"], new.summary["tp"], new.summary["fp"]) == (v2.id, 0, 1)
    v3 = project.add_model_version(ModelVersion(0, "unet", (1,)))
    with pytest.raises(MetricsError, match=f"model version {v3.id} cannot be reviewed: it pre-labelled 0 image"):
        model_vs_final(project, v3.id)
    project.close()


def _perfect(n: int) -> tuple[dict, list[dict]]:
    size = 100
    anns, results = [], []
    for k in range(n):
        mask = np.zeros((size, size), np.uint8, order="F")
        mask[(k // 8) * 12 : (k // 8) * 12 + 8, (k % 8) * 12 : (k % 8) * 12 + 8] = 1
        from pycocotools import mask as mask_utils

        seg = mask_utils.encode(mask)
        seg["counts"] = seg["counts"].decode("ascii")
        anns.append({"id": k + 1, "image_id": 1, "category_id": 1, "segmentation": seg, "area": 64.0,
                     "bbox": [float((k % 8) * 12), float((k // 8) * 12), 8.0, 8.0], "iscrowd": 0})
        results.append({"image_id": 1, "category_id": 1, "segmentation": seg, "score": 1.0 - k / 1000})
    gt = {"images": [{"id": 1, "width": size, "height": size, "file_name": "x.png"}], "annotations": anns,
          "categories": [{"id": 1, "name": "nucleus"}]}
    return gt, results


def test_the_detection_cap_is_warned_about_and_can_be_raised() -> None:
    gt, results = _perfect(40)
    capped = review_coco(gt, results, "segm", max_dets=30, boundary=False)
    assert (capped.summary["tp"], capped.summary["fp"], capped.summary["fn"]) == (40, 0, 0)
    assert capped.coco["AP"] < 0.8  # 10 of 40 perfect detections never seen by COCO AP
    assert "1 image(s) hold more than 30 results (10 results beyond the cap)" in capped.summary["warnings"][0]
    full = review_coco(gt, results, "segm", boundary=False)
    assert full.coco["AP"] == pytest.approx(1.0) and full.summary["warnings"] == []


def test_size_bucket_rule_is_selectable() -> None:
    """An unmatched result with a small mask but a medium bbox (a thin diagonal) is a false
    positive in APs under the mask rule and out of the small range under the bbox rule."""
    from pycocotools import mask as mask_utils

    gt, results = _perfect(1)
    diagonal = np.zeros((100, 100), np.uint8, order="F")
    for i in range(50, 100):
        diagonal[i, i] = 1  # 50 px area, 50x50 box
    seg = mask_utils.encode(diagonal)
    seg["counts"] = seg["counts"].decode("ascii")
    fp = {"image_id": 1, "category_id": 1, "segmentation": seg, "score": 1.0,
          "bbox": [float(v) for v in mask_utils.toBbox(mask_utils.encode(diagonal))]}
    by_mask = evaluate_coco(gt, [fp] + results, "segm", area_rule=AreaRule.MASK).stats
    by_box = evaluate_coco(gt, [fp] + results, "segm", area_rule=AreaRule.BBOX).stats
    assert by_mask["APs"] < 0.9 and by_box["APs"] == pytest.approx(1.0)
    assert by_mask["AP"] == pytest.approx(by_box["AP"])  # the overall AP does not depend on the rule


def test_predictions_against_a_ground_truth_file_paired_by_file_name_with_gt_iou_type(tmp_path: Path) -> None:
    project, (img, other), mv = _project(tmp_path)
    project.add_predictions([Prediction(0, img.id, 1, Box(5, 5, 25, 25), 0.9, mv.id)])  # a box-only model
    mask = np.zeros(SIZE_HW, np.uint8, order="F")
    mask[5:25, 5:25] = 1
    from pycocotools import mask as mask_utils

    seg = mask_utils.encode(mask)
    seg["counts"] = seg["counts"].decode("ascii")
    gt = {"images": [{"id": 77, "file_name": "elsewhere/deep/0.png", "width": SIZE_HW[1], "height": SIZE_HW[0]}],
          "annotations": [{"id": 1, "image_id": 77, "category_id": 5, "segmentation": seg, "area": 400.0,
                           "bbox": [5.0, 5.0, 20.0, 20.0], "iscrowd": 0}],
          "categories": [{"id": 5, "name": "cell"}]}
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    report = project_vs_coco(project, path, predictions=True, boundary=False, semantic=False)
    assert report.iou_type == "segm"  # the ground truth has masks: the box prediction is compared as a mask
    assert (report.summary["tp"], report.summary["fp"], report.summary["fn"]) == (1, 0, 0)
    assert report.summary["model_version_id"] == mv.id and report.summary["unmatched_images"]["compared_only"] == 1
    with pytest.raises(MetricsError, match="model version 9 has no predictions"):
        project_vs_coco(project, path, predictions=True, model_version_id=9)
    project.close()


def test_review_cli_predictions_against_gt_warns_about_the_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import main

    project, (img, _), mv = _project(tmp_path)
    project.add_predictions([Prediction(0, img.id, 1, Box(5, 5, 25, 25), 0.9, mv.id),
                             Prediction(0, img.id, 1, Box(40, 5, 60, 25), 0.8, mv.id)])
    project.close()
    gt = {"images": [{"id": 3, "file_name": "0.png", "width": SIZE_HW[1], "height": SIZE_HW[0]}],
          "annotations": [{"id": 1, "image_id": 3, "category_id": 1, "bbox": [5.0, 5.0, 20.0, 20.0], "area": 400.0,
                           "iscrowd": 0}],
          "categories": [{"id": 1, "name": "cell"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    code = main.main(["review", str(tmp_path / "p.segproj"), "--gt", str(tmp_path / "gt.json"), "--predictions",
                      "--max-dets", "1", "--no-semantic"])
    out = capsys.readouterr().out
    assert code == 0
    assert "(bbox, IoU >= 0.5)" in out and "tp=1 fp=1 fn=0" in out  # boxes: the ground truth has no masks
    assert "warning: 1 image(s) hold more than 1 results" in out
    assert main.main(["review", str(tmp_path / "p.segproj"), "--predictions"]) == 2
