"""The review dashboard on real review metrics (no worker): vs a ground-truth COCO file and vs
another project; the overlay of an opened image; the HTML export."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("PySide6")

from annotations.geometry import to_box
from annotations.model import DeleteAnnotation, UpdateAnnotation
from annotations.store import Project
from app.assist.bridge import EngineBridge
from app.assist.context import AssistContext
from app.assist.review_overlay import ReviewKind, read_coco_shapes
from app.assist.review_panel import ReviewPanel
from tests.app.assist.fakes import FakeClient, make_fake_window, make_shapes_project


def write_coco(project: Project, path) -> None:
    """The project's annotations as a COCO instances file (polygons), class ids shifted by 10
    so the review must pair classes by name."""
    images = [{"id": i.id, "file_name": i.path, "width": i.width, "height": i.height} for i in project.images()]
    categories = [{"id": c.id + 10, "name": c.name} for c in project.categories()]
    annotations = []
    for a in project.annotations():
        box = to_box(a.geometry)
        annotations.append({"id": a.id, "image_id": a.image_id, "category_id": a.category_id + 10,
                            "segmentation": a.geometry.to_coco(), "bbox": list(box.xywh),
                            "area": float((box.x2 - box.x1) * (box.y2 - box.y1)), "iscrowd": 0})
    path.write_text(json.dumps({"images": images, "categories": categories, "annotations": annotations}))


@pytest.fixture
def setup(qtbot, tmp_path):
    path = make_shapes_project(tmp_path / "a", images=3, finished=3)
    other_path = tmp_path / "b.segproj"
    shutil.copy(path, other_path)
    project = Project.open(path)
    window = make_fake_window(project)
    qtbot.addWidget(window)
    context = AssistContext(window, EngineBridge(lambda: FakeClient()))
    panel = ReviewPanel(context)
    window.add_panel("review", "Review", panel)
    yield project, other_path, window, panel
    project.close()


def _run(qtbot, panel) -> None:
    with qtbot.waitSignal(panel.reviewReady, timeout=60_000):
        assert panel.run_review()
    assert panel.error_text == "", panel.error_text


def test_vs_coco_file_agrees_and_marks_pairs(qtbot, setup, tmp_path) -> None:
    project, _other, window, panel = setup
    gt = tmp_path / "gt.json"
    write_coco(project, gt)
    shapes = read_coco_shapes(gt, {c.name: c.id for c in project.categories()})
    assert {s.category_id for v in shapes.values() for s in v} == {1, 2, 3}  # mapped by name
    panel.set_kind(ReviewKind.VS_COCO, str(gt))
    _run(qtbot, panel)
    summary = panel.report_json["summary"]
    assert summary["tp"] == 9 and summary["fp"] == 0 and summary["fn"] == 0
    assert panel.class_table.rowCount() == 3 and panel.images_table.rowCount() == 3
    assert len(panel.pr_chart.series) >= 1 and panel.confusion_chart.matrix
    panel.open_row(0)
    assert window.current_image().id == panel.image_ids_listed()[0]
    roles = [m.role for m in panel.overlay.marks]
    assert roles.count("pair-pred") == 3 and "miss" not in roles
    assert all(m.caption == "IoU 1.00" for m in panel.overlay.marks if m.role == "pair-pred")


def test_vs_another_project_marks_misses_and_mismatches(qtbot, setup, tmp_path) -> None:
    project, other_path, window, panel = setup
    with Project.open(other_path) as other:
        first = other.annotations(1)
        other.execute(DeleteAnnotation(first[0].id))  # annotator B missed a shape
        other.execute(UpdateAnnotation(first[1].id, {"category_id": 3 if first[1].category_id != 3 else 1}, "Relabel"))
    panel.set_kind(ReviewKind.VS_PROJECT, str(other_path))
    _run(qtbot, panel)
    assert panel.image_ids_listed()[0] == 1  # the worst image first
    panel.open_row(0)
    roles = [m.role for m in panel.overlay.marks]
    assert roles.count("miss") == 1 and roles.count("mismatch") == 2 and roles.count("pair-pred") == 1
    html = panel.export_html(tmp_path / "review.html")
    assert html is not None and html.stat().st_size > 1000


def test_bad_inputs_are_reported_in_the_panel(qtbot, setup, tmp_path) -> None:
    project, _other, window, panel = setup
    panel.set_kind(ReviewKind.VS_COCO, "")
    assert not panel.run_review() and "Choose" in panel.status_label.text()
    panel.set_kind(ReviewKind.VS_COCO, str(tmp_path / "missing.json"))
    assert not panel.run_review() and "no such file" in panel.status_label.text()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    panel.set_kind(ReviewKind.VS_COCO, str(broken))
    with qtbot.waitSignal(panel.reviewReady, timeout=60_000):
        assert panel.run_review()
    assert "broken.json" in panel.error_text and panel.status_label.text().startswith("Review failed")


def test_the_typed_view_names_only_keys_a_report_has(qtbot, setup) -> None:
    """app/assist/review_json.py describes the report's JSON: every key it names for the
    sections the dashboard reads is one a real report (model vs final) carries, so a renamed
    key in annotations.metrics.report_json shows up here, not as an empty cell."""
    from typing import get_type_hints

    from app.assist import review_json as view

    _project, _other, _window, panel = setup
    panel.set_kind(ReviewKind.MODEL_VS_FINAL)
    _run(qtbot, panel)
    data = panel.report_json
    kind_specific = {"model_version_id", "stuff_only", "saliency", "semantic"}  # present for some reviews only
    sections = [(view.ReviewJson, data), (view.SummaryJson, data["summary"]), (view.CocoJson, data["coco"]),
                (view.ImageRowJson, data["per_image"][0]), (view.ClassRowJson, data["per_class"][0]),
                (view.PrCurvesJson, data["pr_curves"]), (view.PrCurveJson, data["pr_curves"]["curves"][0]),
                (view.ConfusionJson, data["confusion"]), (view.HistogramJson, data["iou_histogram"]),
                (view.OutcomeTotalsJson, data["model_outcomes"]["totals"])]
    for typed, section in sections:
        missing = set(get_type_hints(typed)) - set(section) - kind_specific
        assert not missing, f"{typed.__name__} names keys the report lacks: {sorted(missing)}"
