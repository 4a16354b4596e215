"""The assist features in the real main window with a REAL engine worker process and tiny
models on a small synthetic project: training from the panel (with the event loop's latency
recorded), pre-label → accept / edit / reject, the interactive mask tool (GrabCut), cancel,
and a killed worker reported and restarted. Screenshots of every panel go to ``screenshots/``.

The tests of this module share one window and one worker (module scope) and run in order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")  # the worker process needs it (the GUI process never imports it)

from PySide6.QtCore import Qt

from annotations.geometry import Mask, Polygon, iou, rle
from annotations.model import PredictionState, UpdateAnnotation
from app.assist.bridge import JobState, WorkerState
from app.assist.latency import EventLoopProbe
from engine.protocol import SegmentMethod
from tests.app.assist.fakes import make_shapes_project

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "screenshots"
JOB_TIMEOUT_MS = 300_000  # CPU training on a shared 2-core machine


@pytest.fixture(scope="module")
def studio(qapp, tmp_path_factory):
    from annotations.store import Project
    from app.main_window import MainWindow

    path = make_shapes_project(tmp_path_factory.mktemp("assist_real") / "shapes")
    project = Project.open(path)
    window = MainWindow(project)
    window.resize(1600, 1000)
    window.show()
    window.activateWindow()
    yield window
    window.close()
    project.close()


def _wait_job(qtbot, bridge, job_id: str, timeout_ms: int = JOB_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: bridge.job(job_id).state.is_terminal, timeout=timeout_ms)


def _screenshot(window, name: str) -> Path:
    from PySide6.QtCore import QCoreApplication

    for _ in range(3):
        QCoreApplication.processEvents()
    window.canvas.flush_rendering()
    QCoreApplication.processEvents()
    SCREENSHOTS.mkdir(exist_ok=True)
    out = SCREENSHOTS / name
    assert window.grab().save(str(out), "PNG")
    return out


def test_training_from_the_panel_adds_a_version(qtbot, studio) -> None:
    features = studio.assist
    panel, bridge = features.training_panel, features.bridge
    assert bridge.worker_state == WorkerState.NOT_STARTED  # started on first use only
    versions_before = panel.version_ids_listed()
    studio.show_panel("training")
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet_tiny"))
    panel.epochs_spin.setValue(3)
    probe = EventLoopProbe(interval_ms=10)
    probe.start()
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    job_id = panel.train_job_id
    assert job_id is not None and not panel.start_button.isEnabled()
    _wait_job(qtbot, bridge, job_id)
    stats = probe.stop()
    info = bridge.job(job_id)
    assert info.state == JobState.SUCCEEDED, f"{info.error_type}: {info.error_message}\n{info.traceback_text}"
    version_id = info.result.model_version_id
    assert version_id not in versions_before
    assert panel.version_ids_listed()[0] == version_id  # newest first
    assert panel.selected_version_id() == version_id
    assert any(len(s.ys) >= 3 for s in panel.curve.series)  # one point per epoch
    # The event loop's lateness while the worker trained (recorded, not asserted: see the bench).
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "latency_during_training.json").write_text(json.dumps({
        "what": "event-loop lateness of a 10 ms timer in the GUI process while the worker trained unet_tiny",
        "samples": stats.samples, "p50_ms": stats.p50_ms, "p99_ms": stats.p99_ms, "max_ms": stats.max_ms,
        "stalls_over_100ms": stats.stalls_over_100ms}, indent=2))
    print("\nevent loop during training:", stats.summary())
    assert stats.samples > 0


def test_prelabel_accept_edit_reject(qtbot, studio) -> None:
    features = studio.assist
    project, layer, panel, bridge = studio.project, features.layer, features.predictions_panel, features.bridge
    unfinished = [i.id for i in project.images() if not i.status.is_finished]
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(""))  # the current version
    job_id = panel.prelabel_unfinished()
    _wait_job(qtbot, bridge, job_id)
    info = bridge.job(job_id)
    assert info.state == JobState.SUCCEEDED, info.error_message
    # Measured (run_train + run_prelabel of this project, no GUI; training seeds 0-4, torch threads 1|2,
    # 3 and 6 epochs; 11 runs): 2 or 3 proposals on each unfinished image, 4-6 in all (whole classes
    # found: disc, square, triangle). Asserted with one whole proposal of margin below the lowest
    # measured count: >= 1 on each image and >= 3 in all (the accept, the edit and the reject below
    # need three, on any images).
    assert set(info.result.image_ids) == set(unfinished) and info.result.prediction_count >= 3
    panel.slider.setValue(0)  # show every proposal
    proposals = {i: project.predictions(i, state=PredictionState.PROPOSED) for i in unfinished}
    assert all(len(proposals[i]) >= 1 for i in unfinished), {i: len(p) for i, p in proposals.items()}
    assert sum(len(p) for p in proposals.values()) >= 3
    first_image = max(unfinished, key=lambda i: len(proposals[i]))
    studio.open_image(first_image)
    qtbot.waitUntil(lambda: len(layer.predictions) == len(proposals[first_image]), timeout=5000)
    for name in ("training", "review", "jobs"):  # the canvas gets the room
        features.docks[name].hide()
    studio.show_panel("predictions")
    layer.select(layer.predictions[-1].id)
    _screenshot(studio, "assist_predictions.png")

    def open_a_proposal() -> int:
        """Show an unfinished image that still has a proposal (the current one first)."""
        current = studio.current_image().id
        if not project.predictions(current, state=PredictionState.PROPOSED):
            current = next(i for i in unfinished if project.predictions(i, state=PredictionState.PROPOSED))
            studio.open_image(current)
        qtbot.waitUntil(lambda: bool(layer.predictions), timeout=5000)
        return current

    # accept one with Enter on the canvas
    open_a_proposal()
    accepted = layer.predictions[0]
    layer.select(accepted.id)
    studio.canvas.setFocus()
    qtbot.waitUntil(studio.canvas.hasFocus, timeout=3000)
    qtbot.keyClick(studio.canvas, Qt.Key.Key_Return)
    assert project.get_prediction(accepted.id).state == PredictionState.ACCEPTED
    made = [a for a in project.annotations(accepted.image_id) if a.origin_prediction_id == accepted.id]
    assert len(made) == 1 and made[0].geometry == accepted.geometry

    # edit another: a linked annotation, then its shape is changed (2 px to the right)
    edit_image = open_a_proposal()
    edited = layer.predictions[0]
    layer.select(edited.id)
    qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    linked = [a for a in project.annotations(edit_image) if a.origin_prediction_id == edited.id]
    assert len(linked) == 1
    pixels = rle.decode(edited.geometry)
    moved = np.zeros_like(pixels)
    moved[:, 2:] = pixels[:, :-2]
    studio.execute(UpdateAnnotation(linked[0].id, {"geometry": rle.encode(moved.astype(np.uint8))}, "Move shape"))
    final = project.get_annotation(linked[0].id)
    expected_iou = iou(edited.geometry, final.geometry, project.get_image(edit_image).size_hw)
    assert final.origin_prediction_id == edited.id and 0.0 < expected_iou < 1.0

    # reject a third one with Delete (on another unfinished image when this one has no more)
    open_a_proposal()
    rejected = layer.predictions[0]
    layer.select(rejected.id)
    studio.canvas.setFocus()
    qtbot.keyClick(studio.canvas, Qt.Key.Key_Delete)
    assert project.get_prediction(rejected.id).state == PredictionState.REJECTED
    assert not [a for a in project.annotations() if a.origin_prediction_id == rejected.id]

    # the review metrics see the same story, with the pre-label -> final IoU of the edit
    from annotations.metrics.review import model_vs_final

    outcomes = {p.prediction_id: p for p in model_vs_final(project).predictions}
    assert outcomes[accepted.id].outcome == "accepted_unchanged"
    assert outcomes[edited.id].outcome == "edited"
    assert outcomes[edited.id].iou == pytest.approx(expected_iou, abs=1e-6)
    assert outcomes[rejected.id].outcome == "rejected"


def test_interactive_tool_returns_a_mask_for_a_box(qtbot, studio) -> None:
    features = studio.assist
    project, segmenter = studio.project, features.segmenter
    image_id = project.images()[0].id
    studio.open_image(image_id)
    studio.set_tool("interactive_mask")
    segmenter.method = SegmentMethod.GRABCUT
    disc = next(a for a in project.annotations(image_id) if a.category_id == 1)
    box = disc.geometry.parts[0].exterior
    x1, y1 = box.min(axis=0) - 4
    x2, y2 = box.max(axis=0) + 4
    viewport = studio.canvas.viewport()
    start = studio.canvas.mapFromScene(float(x1), float(y1))
    end = studio.canvas.mapFromScene(float(x2), float(y2))
    with qtbot.waitSignal(segmenter.maskChanged, timeout=60_000):
        qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
        qtbot.mouseMove(viewport, (start + end) / 2)
        qtbot.mouseMove(viewport, end)
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert segmenter.prompt is not None and segmenter.prompt.box_xyxy is not None
    mask = segmenter.mask
    assert isinstance(mask, Mask) and segmenter.last_result.method == SegmentMethod.GRABCUT
    size_hw = project.get_image(image_id).size_hw
    # Measured (grabcut_mask on this box, this project): IoU 0.925 in every run; GrabCut is seeded and
    # gave identical masks with cv2 threads 1|2 and SIMD on|off (see tests/engine/test_engine_segment.py).
    assert iou(mask, disc.geometry, size_hw) > 0.6  # GrabCut finds the disc inside the box
    # a click refines: a negative click far outside changes nothing essential but is sent
    inside = studio.canvas.mapFromScene(float(box[:, 0].mean()), float(box[:, 1].mean()))
    with qtbot.waitSignal(segmenter.maskChanged, timeout=60_000):
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=inside)
    assert len(segmenter.prompt.positive_points) == 1
    before = len(project.annotations(image_id))
    studio.canvas.setFocus()
    qtbot.keyClick(studio.canvas, Qt.Key.Key_Return)  # accept as a polygon
    after = project.annotations(image_id)
    assert len(after) == before + 1 and isinstance(after[-1].geometry, Polygon)
    studio.set_tool("select")


def test_cancel_stops_a_training(qtbot, studio) -> None:
    features = studio.assist
    panel, bridge = features.training_panel, features.bridge
    versions_before = list(panel.version_ids_listed())
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet_tiny"))
    panel.epochs_spin.setValue(500)
    job_id = panel.start_training()
    qtbot.waitUntil(lambda: bridge.job(job_id).total > 0, timeout=JOB_TIMEOUT_MS)  # it is training
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    _wait_job(qtbot, bridge, job_id, timeout_ms=120_000)
    assert bridge.job(job_id).state == JobState.CANCELLED
    assert panel.version_ids_listed() == versions_before  # nothing half-written
    assert "stopped" in panel.status_label.text()
    assert features.jobs_panel.rows[job_id].message.text() == "cancelled"


def test_killed_worker_is_reported_and_restarted(qtbot, studio) -> None:
    features = studio.assist
    bridge, segmenter = features.bridge, features.segmenter
    client = bridge.client
    old_pid = client.pid
    with qtbot.waitSignal(bridge.workerDied, timeout=30_000) as died:
        client.kill()
    exit_code, restarted = died.args
    assert restarted and exit_code != 0
    assert "died" in features.jobs_panel.worker_label.text()
    assert bridge.client.pid != old_pid and bridge.worker_state == WorkerState.RUNNING
    # the restarted worker answers
    image_id = studio.project.images()[1].id
    studio.open_image(image_id)
    segmenter.method = SegmentMethod.GRABCUT
    with qtbot.waitSignal(segmenter.maskChanged, timeout=60_000):
        segmenter.set_box(5, 5, 60, 60)
    assert segmenter.mask is not None
    segmenter.clear()


def test_review_and_panel_screenshots(qtbot, studio) -> None:
    """Every panel with real data, written to screenshots/ (looked at by the developer)."""
    features = studio.assist
    project = studio.project
    # finish the image the pre-labels were reviewed on, so model vs final has material
    from annotations.model import ImageStatus, SetImageStatus

    for image in project.images():
        if image.status.value == "prelabeled" and project.annotations(image.id):
            studio.execute(SetImageStatus(image.id, ImageStatus.DONE))
    review = features.review_panel
    studio.show_panel("review")
    with qtbot.waitSignal(review.reviewReady, timeout=120_000):
        assert review.run_review()
    assert review.error_text == "", review.error_text
    assert review.images_table.rowCount() >= 1 and review.class_table.rowCount() == 3
    worst = review.image_ids_listed()[0]
    review.open_row(0)
    assert studio.current_image().id == worst and review.overlay.image_id == worst
    assert review.overlay.marks  # the worst image has errors to show
    # the screenshot shows an image with matched pairs (coloured by IoU) next to the misses
    rows = review.report_json["per_image"]
    shown = next((r for r, row in enumerate(rows) if row["tp"] > 0), 0)
    review.open_row(shown)
    review.charts.setCurrentWidget(review.pr_chart)
    _screenshot(studio, "assist_review.png")
    review.charts.setCurrentWidget(review.confusion_chart)
    review.tables.setCurrentWidget(review.class_table)
    _screenshot(studio, "assist_review_confusion.png")
    html = review.export_html(SCREENSHOTS / "assist_review.html")
    assert html is not None and html.is_file() and "<html" in html.read_text(encoding="utf-8").lower()
    # a second version warm-started from the first, then its pre-labels on the last new image
    panel = features.training_panel
    panel.epochs_spin.setValue(2)
    second = panel.start_training()
    _wait_job(qtbot, bridge := features.bridge, second)
    assert bridge.job(second).state == JobState.SUCCEEDED, bridge.job(second).error_message
    newest = bridge.job(second).result.model_version_id
    assert panel.version_ids_listed()[0] == newest
    assert project.get_model_version(newest).parent_id is not None  # warm start: lineage shown
    new_images = [i.id for i in project.images() if not i.status.is_finished]
    if new_images:
        studio.open_image(new_images[0])
        qtbot.waitUntil(lambda: bool(panel.on_screen_versions()), timeout=10_000)
    studio.show_panel("training")
    panel.select_version(newest)
    _screenshot(studio, "assist_training.png")
    # a job that fails in the worker: a readable line, the traceback one click away
    from engine.protocol import Prelabel

    failing = bridge.submit(Prelabel(str(project.path), model="no_such_model"), "Pre-label with no_such_model")
    _wait_job(qtbot, bridge, failing, timeout_ms=60_000)
    row = features.jobs_panel.rows[failing]
    assert bridge.job(failing).state == JobState.FAILED and row.details_button.isVisibleTo(row)
    assert "no_such_model" in row.message.text()
    box = row.show_details()
    assert "Traceback" in box.detailedText()
    box.close()
    studio.show_panel("jobs")
    _screenshot(studio, "assist_jobs.png")


def test_main_screenshot_path_opens_each_panel(studio) -> None:
    """``main.py PROJECT --screenshot OUT.png --panel jobs|training|review`` (run in-process)."""
    from PySide6.QtGui import QImage

    from app.launch import run_gui

    for panel in ("jobs", "training", "review"):
        out = SCREENSHOTS / f"main_panel_{panel}.png"
        out.unlink(missing_ok=True)
        assert run_gui(studio.project.path, screenshot=out, panel=panel) == 0
        image = QImage(str(out))
        assert not image.isNull() and image.width() >= 1000
