"""The pre-label layer and the predictions panel on a real store (no worker: predictions are
written the way the engine writes them)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

from annotations.geometry import Box, Polygon, iou, rle
from annotations.model import ModelVersion, Prediction, PredictionState, UpdateAnnotation
from app.assist.bridge import EngineBridge
from app.assist.context import AssistContext
from app.assist.predictions_panel import PredictionsPanel
from app.assist.prelabel_layer import PredictionKeys, PredictionLayer
from engine.protocol import Prelabel
from tests.app.assist.fakes import FakeClient, make_fake_window


@pytest.fixture
def setup(qtbot, new_project):
    project = new_project
    version = project.add_model_version(ModelVersion(0, "unet", (1, 2), promoted=True))
    mask_hw = np.zeros((80, 100), dtype=np.uint8)
    mask_hw[50:70, 60:90] = 1
    preds = project.add_predictions([
        Prediction(0, 1, 1, Box(10, 10, 40, 30), 0.95, version.id),
        Prediction(0, 1, 2, Polygon.from_points([[50, 5], [90, 5], [90, 40], [50, 40]]), 0.80, version.id),
        Prediction(0, 1, 1, rle.encode(mask_hw), 0.70, version.id),
        Prediction(0, 1, 2, Box(2, 50, 20, 70), 0.20, version.id),
    ])
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    window = make_fake_window(project)
    qtbot.addWidget(window)
    context = AssistContext(window, bridge)
    layer = PredictionLayer(context)
    keys = PredictionKeys(layer, window)
    panel = PredictionsPanel(context, layer)
    window.add_panel("predictions", "Predictions", panel)
    window.resize(900, 600)
    window.show()
    window.open_image(1)
    yield project, window, layer, panel, client, preds
    keys.detach()
    bridge.shutdown()


def test_threshold_filters_and_items_are_drawn(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    assert [p.id for p in layer.predictions] == [preds[0].id, preds[1].id, preds[2].id]
    assert panel.list.count() == 3 and "below the threshold" in panel.count_label.text()
    assert "0.95 · v1" in panel.list.item(0).text()
    assert all(item.scene() is window.canvas.scene() for item in layer.items.values())
    panel.slider.setValue(10)
    assert len(layer.predictions) == 4 and panel.list.count() == 4
    assert project.get_setting("assist.score_threshold") == pytest.approx(0.10)
    panel.slider.setValue(75)
    assert [p.id for p in layer.predictions] == [preds[0].id, preds[1].id]


def test_accept_edit_reject_with_keys_and_buttons(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    box_pred, poly_pred, mask_pred, _ = preds
    window.canvas.setFocus()
    qtbot.waitUntil(lambda: window.canvas.hasFocus(), timeout=2000)
    layer.select(box_pred.id)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    accepted = [a for a in project.annotations(1) if a.origin_prediction_id == box_pred.id]
    assert len(accepted) == 1 and accepted[0].geometry == box_pred.geometry
    assert accepted[0].source == f"model:{box_pred.model_version_id}"
    assert project.get_prediction(box_pred.id).state == PredictionState.ACCEPTED
    assert layer.selected_id == poly_pred.id  # moved on to the next proposal

    # edit: a linked annotation, then the user moves a vertex
    panel.edit_button.click()
    edited = [a for a in project.annotations(1) if a.origin_prediction_id == poly_pred.id]
    assert len(edited) == 1
    new_shape = Polygon.from_points([[50, 5], [80, 5], [80, 40], [50, 40]])
    window.execute(UpdateAnnotation(edited[0].id, {"geometry": new_shape}, "Move vertex"))
    final = project.get_annotation(edited[0].id)
    assert final.origin_prediction_id == poly_pred.id
    assert iou(poly_pred.geometry, final.geometry, (80, 100)) == pytest.approx(30 * 35 / (40 * 35))

    # reject with Delete
    layer.select(mask_pred.id)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert project.get_prediction(mask_pred.id).state == PredictionState.REJECTED
    assert not [a for a in project.annotations(1) if a.origin_prediction_id == mask_pred.id]
    assert layer.predictions == [] and panel.list.count() == 0
    # undo goes through the store's history
    project.undo()
    layer.refresh()
    assert [p.id for p in layer.predictions] == [mask_pred.id]


def test_keys_do_nothing_without_a_selection(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert all(project.get_prediction(p.id).state == PredictionState.PROPOSED for p in preds)


def test_the_app_wide_key_filter_runs_only_while_a_proposal_is_selected(qtbot, setup) -> None:
    """The filter sees every event of the process (~4,300 while a window opened): without a
    selected proposal it is not installed at all."""
    project, window, layer, panel, client, preds = setup

    class CountingKeys(PredictionKeys):
        calls = 0

        def eventFilter(self, watched, event) -> bool:  # noqa: N802
            CountingKeys.calls += 1
            return super().eventFilter(watched, event)

    layer.select(None)
    counting = CountingKeys(layer, window)
    window.resize(880, 590)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)
    qtbot.wait(20)
    assert CountingKeys.calls == 0 and not counting.filtering
    layer.select(preds[0].id)
    assert counting.filtering
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)
    assert CountingKeys.calls > 0
    layer.select(None)
    seen = CountingKeys.calls
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)
    assert CountingKeys.calls == seen and not counting.filtering
    layer.select(preds[0].id)
    counting.detach()  # closing: off for good, whatever is selected
    assert not counting.filtering
    qtbot.keyClick(window.canvas, Qt.Key.Key_Left)
    assert CountingKeys.calls == seen


def test_accept_all_above_threshold_is_one_undo_step(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    panel.accept_all_button.click()
    assert {a.origin_prediction_id for a in project.annotations(1)} == {p.id for p in preds[:3]}
    assert project.get_prediction(preds[3].id).state == PredictionState.PROPOSED  # below the threshold
    project.undo()
    assert project.annotations(1) == []


def test_click_on_a_proposal_selects_it(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    window.canvas.fitInView(0, 0, 100, 80)
    point = window.canvas.mapFromScene(25, 20)
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert layer.selected_id == preds[0].id
    assert panel.list.selectedItems()[0].data(Qt.ItemDataRole.UserRole) == preds[0].id


def test_prelabel_buttons_submit_jobs(qtbot, setup) -> None:
    project, window, layer, panel, client, preds = setup
    panel.prelabel_image_button.click()
    panel.prelabel_all_button.click()
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    one, every = client.submitted
    assert isinstance(one, Prelabel) and one.image_ids == (1,) and one.project_path == str(project.path)
    assert every.image_ids == ()  # every unfinished image
    assert one.score_threshold <= layer.threshold


def test_a_re_prelabel_replaces_the_shown_proposals(qtbot, setup) -> None:
    """The engine supersedes an image's proposals and stores new ones; the bridge's Succeeded
    event (PrelabelResult) is the only refresh, and the layer shows just the new proposals."""
    from engine.protocol import PrelabelResult, Started, Succeeded

    project, window, layer, panel, client, preds = setup
    bridge = layer.context.bridge
    assert {p.id for p in layer.predictions} == {preds[0].id, preds[1].id, preds[2].id}
    job_id = bridge.submit(Prelabel(str(project.path), image_ids=(1,)), "Pre-label image 1")
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    version = project.add_model_version(ModelVersion(0, "unet", (1, 2), parent_id=preds[0].model_version_id))
    # What the engine's worker does (another process): supersede, then store the new proposals.
    assert project.supersede_predictions([1]) == 4
    fresh = project.add_predictions([
        Prediction(0, 1, 2, Box(60, 40, 95, 75), 0.90, version.id),
        Prediction(0, 1, 1, Box(5, 5, 25, 25), 0.60, version.id),
    ])
    assert {p.id for p in layer.predictions} == {preds[0].id, preds[1].id, preds[2].id}  # not refreshed yet
    client.emit(Started(job_id, "prelabel"), Succeeded(job_id, PrelabelResult(version.id, (1,), 2, 0.1)))
    bridge.process_events_now()
    assert [p.id for p in layer.predictions] == [fresh[0].id, fresh[1].id]  # best score first
    assert set(layer.items) == {fresh[0].id, fresh[1].id}
    assert all(item.scene() is window.canvas.scene() for item in layer.items.values())
    assert {p.model_version_id for p in layer.predictions} == {version.id}
    assert panel.list.count() == 2 and f"v{version.id}" in panel.list.item(0).text()
    old_states = {p.id: p.state for p in project.predictions(1) if p.id in {q.id for q in preds}}
    assert set(old_states.values()) == {PredictionState.SUPERSEDED}
