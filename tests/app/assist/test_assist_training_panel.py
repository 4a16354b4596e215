"""The training panel against a scripted client and a real project store."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from annotations.geometry import Box
from annotations.model import Image, ImageStatus, ModelVersion, Prediction
from app.assist.bridge import EngineBridge, JobState
from app.assist.context import AssistContext
from app.assist.retrain_policy import RetrainSettings, decide
from app.assist.training_panel import TrainingPanel, curve_series, flatten_metrics
from engine.protocol import Cancelled, Progress, Started, Succeeded, Train, TrainResult
from tests.app.assist.fakes import FakeClient, make_fake_window


@pytest.fixture
def setup(qtbot, new_project):
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    context = AssistContext(window, bridge)
    panel = TrainingPanel(context)
    panel.auto_timer.stop()
    qtbot.addWidget(panel)
    yield client, bridge, window, panel
    bridge.shutdown()


def test_flatten_and_curve_series() -> None:
    history = [{"epoch": 1, "loss": 1.0, "val": {"miou": 0.2, "iou_per_class": {"a": 0.1}, "val_images": 2,
                                                 "per_image": {"17": 0.3, "18": 0.1}}, "baseline": 0.05},
               {"epoch": 2, "loss": 0.5, "val": {"miou": 0.4, "iou_per_class": {"a": 0.3}, "val_images": 2}, "baseline": 0.05}]
    assert flatten_metrics(history[0]) == {"epoch": 1.0, "loss": 1.0, "val.miou": 0.2, "val.iou_per_class.a": 0.1,
                                           "val.val_images": 2.0, "baseline": 0.05}
    series = {s.name: s for s in curve_series(history)}
    assert set(series) == {"loss", "val miou", "untrained"}  # per-class values and counts left out
    assert list(series["loss"].ys) == [1.0, 0.5] and not series["loss"].right_axis
    assert list(series["val miou"].ys) == [0.2, 0.4] and series["val miou"].right_axis
    assert list(series["loss"].xs) == [1.0, 2.0]


def test_settings_and_policy_decision(new_project) -> None:
    project = new_project
    project.add_images([Image(0, f"i{k}.png", 10, 10, ImageStatus.DONE) for k in range(5)])
    settings = RetrainSettings(True, 4, "unet", 3)
    settings.save(project)
    assert RetrainSettings.load(project) == settings
    assert decide(project, settings, training_running=False, last_trigger_s=None, now_s=0.0).retrain
    assert not decide(project, settings, training_running=True, last_trigger_s=None, now_s=0.0).retrain
    project.add_model_version(ModelVersion(0, "unet", (1,), trained_on={"image_ids": [2, 3]}))
    decision = decide(project, settings, training_running=False, last_trigger_s=None, now_s=0.0)
    assert not decision.retrain and "3 of 4" in decision.reason


def test_start_progress_success_lists_new_version(qtbot, setup) -> None:
    client, bridge, window, panel = setup
    project = window.project
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet"))
    panel.epochs_spin.setValue(2)
    qtbot.mouseClick(panel.start_button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    request = client.submitted[0]
    assert isinstance(request, Train) and request.model == "unet" and request.epochs == 2
    assert request.project_path == str(project.path)
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    job_id = request.job_id
    client.emit(Started(job_id, "train"), Progress(job_id, 1, 2, "epoch 1/2", {"epoch": 1, "loss": 0.9, "val": {"miou": 0.3}}))
    qtbot.waitUntil(lambda: len(panel.curve.series) == 2, timeout=3000)
    version = project.add_model_version(ModelVersion(0, "unet", (1, 2), trained_on={"image_ids": [1]},
                                                      metrics={"miou": 0.45}, promoted=True))
    result = TrainResult(version.id, True, {"miou": 0.45}, {"miou": 0.1}, 2,
                         ({"epoch": 1, "loss": 0.9, "val": {"miou": 0.3}}, {"epoch": 2, "loss": 0.6, "val": {"miou": 0.45}}))
    client.emit(Progress(job_id, 2, 2, "epoch 2/2", {"epoch": 2, "loss": 0.6}), Succeeded(job_id, result))
    qtbot.waitUntil(lambda: bridge.job(job_id).state == JobState.SUCCEEDED, timeout=3000)
    assert panel.version_ids_listed() == [version.id]
    assert panel.selected_version_id() == version.id
    assert "miou 0.450" in panel.versions_table.item(0, 4).text()
    assert "promoted" in panel.versions_table.item(0, 2).text()
    assert [s.ys[-1] for s in panel.curve.series] == [0.6, 0.45]
    assert panel.start_button.isEnabled()


def test_stop_cancels_and_on_screen_version_marked(qtbot, setup) -> None:
    client, bridge, window, panel = setup
    project = window.project
    v1 = project.add_model_version(ModelVersion(0, "unet", (1,), promoted=True))
    v2 = project.add_model_version(ModelVersion(0, "unet", (1,), parent_id=v1.id))
    project.add_predictions([Prediction(0, 1, 1, Box(1, 1, 5, 5), 0.9, v1.id)])
    window.open_image(1)
    qtbot.waitUntil(lambda: panel.version_ids_listed() == [v2.id, v1.id], timeout=3000)
    assert "on screen" in panel.versions_table.item(1, 5).text() and panel.versions_table.item(0, 5).text() == ""
    assert f"v{v1.id}" in panel.on_screen_label.text()
    job_id = panel.start_training()
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    panel.stop_button.click()
    assert client.cancelled == [job_id]
    client.emit(Cancelled(job_id))
    qtbot.waitUntil(lambda: "stopped" in panel.status_label.text(), timeout=3000)


def test_auto_retrain_starts_after_n_finished_images(qtbot, setup) -> None:
    client, bridge, window, panel = setup
    project = window.project
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet"))
    panel.auto_every.setValue(4)
    panel.auto_check.setChecked(True)
    assert RetrainSettings.load(project).enabled
    project.put_image_status(1, ImageStatus.DONE)
    project.add_images([Image(0, f"b{k}.png", 10, 10, ImageStatus.DONE) for k in range(2)])
    assert panel.check_auto_retrain(now_s=100.0) is None
    assert "need at least 4" in panel.auto_status.text()
    project.add_images([Image(0, "c.png", 10, 10, ImageStatus.DONE)])
    job_id = panel.check_auto_retrain(now_s=101.0)
    assert job_id is not None
    assert panel.check_auto_retrain(now_s=102.0) is None  # debounced while the training runs
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    assert client.submitted[0].model == "unet"
