"""Review reports over projects: model vs final, project vs project, project vs COCO; the JSON
schema and the HTML report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from annotations.errors import MetricsError
from annotations.geometry import Box, Polygon, to_mask
from annotations.metrics.report_html import write_html
from annotations.metrics.report_json import SCHEMA_VERSION, write_json
from annotations.metrics.review import model_vs_final, project_vs_coco, project_vs_project
from annotations.model import (
    Annotation,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    accept_prediction,
    reject_prediction,
)
from annotations.store import Project

CATS = [Category(1, "cell", "#e6194b"), Category(2, "debris", "#3cb44b")]


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


@pytest.fixture
def reviewed_project(tmp_path: Path):
    """Two finished images and one in progress; one model version whose predictions were
    accepted unchanged, edited, rejected, left proposed; one human shape the model missed."""
    project = Project.create(tmp_path / "p.segproj", CATS)
    img1, img2, img3 = project.add_images([Image(0, "a.png", 100, 80), Image(0, "b.png", 100, 80),
                                           Image(0, "c.png", 100, 80)])
    mv = project.add_model_version(ModelVersion(0, "unet", (1, 2)))
    preds = project.add_predictions([
        Prediction(0, img1.id, 1, _square(10, 10, 20), 0.9, mv.id),   # accepted unchanged
        Prediction(0, img1.id, 1, _square(50, 10, 20), 0.8, mv.id),   # edited (shifted 4 px)
        Prediction(0, img1.id, 2, _square(10, 50, 10), 0.4, mv.id),   # rejected
        Prediction(0, img2.id, 2, _square(30, 30, 20), 0.7, mv.id),   # edited: class changed to 1
        Prediction(0, img3.id, 1, _square(5, 5, 10), 0.6, mv.id),     # still proposed (image not done)
    ])
    project.execute(accept_prediction(preds[0]))
    project.execute(accept_prediction(preds[1], geometry=_square(54, 10, 20)))
    project.execute(reject_prediction(preds[2]))
    project.execute(accept_prediction(preds[3], category_id=1))
    project.add_annotations([Annotation(0, img2.id, 2, _square(70, 50, 15))])  # missed by the model
    project.put_image_status(img1.id, ImageStatus.DONE)
    project.put_image_status(img2.id, ImageStatus.REVIEWED)
    yield project, preds
    project.close()


def test_model_vs_final_outcomes(reviewed_project):
    project, preds = reviewed_project
    report = model_vs_final(project)
    outcomes = {o.prediction_id: o for o in report.predictions}
    assert outcomes[preds[0].id].outcome == "accepted_unchanged" and outcomes[preds[0].id].iou == pytest.approx(1.0)
    assert outcomes[preds[1].id].outcome == "edited"
    assert outcomes[preds[1].id].iou == pytest.approx(16 * 20 / (24 * 20), abs=0.02)
    assert outcomes[preds[2].id].outcome == "rejected"
    assert outcomes[preds[3].id].outcome == "edited" and outcomes[preds[3].id].final_category_id == 1
    assert outcomes[preds[4].id].outcome == "still_proposed"
    totals = report.model_outcomes["totals"]
    assert (totals["accepted_unchanged"], totals["edited"], totals["rejected"], totals["still_proposed"]) == (1, 2, 1, 1)
    assert totals["class_changed"] == 1
    assert totals["acceptance_rate"] == pytest.approx(3 / 4)
    # matching on finished images: 4 GT shapes, 4 evaluated predictions (the still-proposed one
    # is on an unfinished image): TP = unchanged + edited-in-place; mismatch = class change.
    s = report.summary
    assert s["images"] == 2 and s["gt"] == 4 and s["pred"] == 4
    assert s["tp"] == 2 and s["label_mismatches"] == 1
    assert totals["missed"] == s["fn"] == 2  # the human shape + the class-changed one
    (version,) = report.model_outcomes["per_model_version"]
    assert version["edited"] == 2 and version["architecture"] == "unet"
    per_class = {c["name"]: c for c in report.model_outcomes["per_class"]}
    assert per_class["debris"]["rejected"] == 1 and per_class["debris"]["edited"] == 1
    assert report.per_image[0].f1 <= report.per_image[-1].f1  # worst first
    data = report.to_json()
    json.dumps(data, allow_nan=False)
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == "model_vs_final"
    assert {p["outcome"] for p in data["predictions"]} == {"accepted_unchanged", "edited", "rejected", "still_proposed"}


def test_model_vs_final_ignores_finished_images_the_version_never_saw(reviewed_project):
    project, _preds = reviewed_project
    before = model_vs_final(project).summary
    # A finished image annotated by hand that the model never pre-labelled: not the model's miss.
    (unseen,) = project.add_images([Image(0, "d.png", 100, 80, ImageStatus.DONE)])
    project.add_annotations([Annotation(0, unseen.id, 1, _square(10, 10, 30)),
                             Annotation(0, unseen.id, 2, _square(50, 40, 20))])
    after = model_vs_final(project)
    assert (after.summary["images"], after.summary["gt"], after.summary["fn"]) == (
        before["images"], before["gt"], before["fn"])
    assert after.model_outcomes["totals"]["missed"] == before["fn"]
    assert unseen.id not in {row.image_id for row in after.per_image}


def test_model_vs_final_without_predictions_is_defined(new_project):
    new_project.add_annotations([Annotation(0, 1, 1, Box(1, 1, 20, 20))])
    new_project.put_image_status(1, ImageStatus.DONE)
    report = model_vs_final(new_project)
    assert report.summary["fn"] == 1 and report.summary["tp"] == 0
    assert math.isnan(report.summary["precision"]) and report.summary["recall"] == 0.0
    assert report.model_outcomes["per_model_version"] == []
    json.dumps(report.to_json(), allow_nan=False)


def _project(tmp_path: Path, name: str, shapes: list[tuple[str, int, object]], size=(80, 100),
             categories=CATS) -> Project:
    project = Project.create(tmp_path / f"{name}.segproj", categories)
    paths = sorted({p for p, _, _ in shapes} | {"img/a.png", "img/b.png"})
    images = {img.path: img for img in project.add_images([Image(0, p, size[1], size[0]) for p in paths])}
    project.add_annotations([Annotation(0, images[p].id, c, g) for p, c, g in shapes])
    return project


def test_project_vs_project_agreement(tmp_path: Path):
    mask = to_mask(_square(40, 40, 20), (80, 100))
    a = _project(tmp_path, "a", [("img/a.png", 1, _square(10, 10, 20)), ("img/a.png", 2, Box(50, 5, 70, 25)),
                                 ("img/b.png", 1, mask)])
    b = _project(tmp_path, "b", [("img/a.png", 1, _square(10, 10, 20)), ("img/a.png", 1, Box(50, 5, 70, 25)),
                                 ("img/b.png", 1, _square(40, 40, 20)), ("img/b.png", 2, Box(0, 60, 10, 70))])
    try:
        report = project_vs_project(a, b)
        assert report.iou_type == "segm"
        s = report.summary
        assert (s["tp"], s["fp"], s["fn"], s["label_mismatches"]) == (2, 2, 1, 1)
        assert s["mean_iou"] == pytest.approx(1.0)
        assert s["mean_boundary_iou"] == pytest.approx(1.0)
        rows = {r.name: r for r in report.per_class}
        assert rows["cell"].tp == 2 and rows["debris"].fn == 1 and rows["debris"].fp == 1
        conf = np.array(report.confusion.matrix)
        assert conf[1, 0] == 1  # GT debris predicted as cell
        assert conf[2, 1] == 1  # an unmatched debris prediction (last row)
        assert report.per_image[0].path == "img/a.png" or report.per_image[0].fp > 0
        assert report.summary["unmatched_images"] == {"reference_only": 0, "compared_only": 0}
    finally:
        a.close()
        b.close()


def test_project_vs_project_boxes_only_uses_bbox(tmp_path: Path):
    a = _project(tmp_path, "a", [("img/a.png", 1, Box(10, 10, 30, 30))])
    b = _project(tmp_path, "b", [("img/a.png", 1, Box(10, 10, 30, 25))])
    try:
        report = project_vs_project(a, b)
        assert report.iou_type == "bbox"
        assert report.summary["mean_iou"] == pytest.approx(0.75)
        assert report.coco["AP50"] == pytest.approx(1.0)
    finally:
        a.close()
        b.close()


def test_mismatched_image_sizes_are_a_clear_error(tmp_path: Path):
    a = _project(tmp_path, "a", [("img/a.png", 1, Box(10, 10, 30, 30))])
    b = _project(tmp_path, "b", [("img/a.png", 1, Box(10, 10, 30, 30))], size=(60, 100))
    try:
        with pytest.raises(MetricsError, match="image sizes differ for img/a.png"):
            project_vs_project(a, b)
    finally:
        a.close()
        b.close()


def test_project_vs_coco_with_gt_id_zero(tmp_path: Path):
    project = _project(tmp_path, "p", [("img/a.png", 1, _square(10, 10, 20)), ("img/b.png", 2, _square(30, 30, 10))])
    gt = {
        "images": [{"id": 0, "file_name": "a.png", "height": 80, "width": 100},
                   {"id": 7, "file_name": "b.png", "height": 80, "width": 100},
                   {"id": 8, "file_name": "elsewhere.png", "height": 80, "width": 100}],
        "annotations": [
            {"id": 0, "image_id": 0, "category_id": 5, "segmentation": [[10, 10, 30, 10, 30, 30, 10, 30]],
             "area": 400.0, "bbox": [10, 10, 20, 20], "iscrowd": 0},
            {"id": 1, "image_id": 7, "category_id": 6, "segmentation": [[30, 30, 40, 30, 40, 40, 30, 40]],
             "area": 100.0, "bbox": [30, 30, 10, 10], "iscrowd": 0},
        ],
        "categories": [{"id": 5, "name": "cell"}, {"id": 6, "name": "debris"}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    try:
        report = project_vs_coco(project, path)
        assert report.summary["gt_ids_renumbered"]
        assert report.coco["AP"] == pytest.approx(1.0)
        assert report.summary["tp"] == 2 and report.summary["fp"] == 0
        assert report.summary["unmatched_images"] == {"reference_only": 1, "compared_only": 0}
        assert {r.path for r in report.per_image} == {"img/a.png", "img/b.png"}
    finally:
        project.close()


def test_json_and_html_files(tmp_path: Path, shared_data):
    from annotations.metrics.review_core import review_coco

    folder = shared_data / "coco_eval_val2014_fake100"
    gt = json.loads((folder / "instances_val2014_100.json").read_text())
    res = json.loads((folder / "instances_val2014_fakebbox100_results.json").read_text())
    report = review_coco(gt, res, "bbox")
    data = json.loads(write_json(report, tmp_path / "r.json").read_text())
    assert data["schema"] == "segstudio.review" and data["schema_version"] == 1
    assert len(data["per_class"]) == 80 and data["confusion"]["classes"][-1] == "unmatched"
    matrix = np.array(data["confusion"]["matrix"])
    assert matrix.shape == (81, 81) and matrix[-1, -1] == 0
    s = data["summary"]
    # every GT shape is on the diagonal, off it (mismatch) or unmatched; same for predictions
    assert matrix[:-1].sum() == s["gt"] and matrix[:, :-1].sum() == s["pred"]
    assert np.trace(matrix) == s["tp"]
    f1 = [1.0 if r["f1"] is None else r["f1"] for r in data["per_image"]]
    assert f1 == sorted(f1)
    assert sum(data["iou_histogram"]["matched"]) == s["tp"]
    assert len(data["pr_curves"]["recall"]) == 101
    html_text = write_html(report, tmp_path / "r.html").read_text()
    assert html_text.count("data:image/png;base64,") == 3
    assert "http://" not in html_text and "https://" not in html_text
    worst = data["per_image"][0]
    assert html_text.index(worst["path"]) < html_text.index(data["per_image"][5]["path"])
