"""The interactive segmenter against a scripted client (the real worker is in test_assist_real_worker)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from annotations.geometry import Mask, Polygon, rle
from app.assist.bridge import EngineBridge
from app.assist.context import AssistContext
from app.assist.segmenter import InteractiveSegmenter
from engine.protocol import Failed, Segment, SegmentMethod, SegmentResult, Succeeded
from tests.app.assist.fakes import FakeClient, make_fake_window


def _result(y0: int, y1: int, x0: int, x1: int) -> SegmentResult:
    mask_hw = np.zeros((80, 100), dtype=np.uint8)
    mask_hw[y0:y1, x0:x1] = 1
    mask = rle.encode(mask_hw)
    return SegmentResult(mask.size, mask.counts, SegmentMethod.GRABCUT, 12.0)


@pytest.fixture
def setup(qtbot, new_project):
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    context = AssistContext(window, bridge)
    segmenter = InteractiveSegmenter(context, SegmentMethod.GRABCUT)
    window.open_image(1)
    yield client, window, segmenter
    bridge.shutdown()


def test_box_then_clicks_refine_and_coalesce(qtbot, setup) -> None:
    client, window, segmenter = setup
    segmenter.set_box(40, 30, 10, 10)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    first = client.submitted[0]
    assert isinstance(first, Segment) and first.box_xyxy == (10, 10, 40, 30) and first.method == SegmentMethod.GRABCUT
    segmenter.add_point(20, 20, positive=True)
    segmenter.add_point(35, 25, positive=False)
    assert segmenter.busy and len(client.submitted) == 1  # coalesced while the first is in flight
    with qtbot.waitSignal(segmenter.maskChanged, timeout=3000):
        client.emit(Succeeded(first.job_id, _result(10, 30, 10, 40)))
    assert rle.area(segmenter.mask) == 20 * 30
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    second = client.submitted[1]
    assert second.positive_points == ((20.0, 20.0),) and second.negative_points == ((35.0, 25.0),)
    with qtbot.waitSignal(segmenter.maskChanged, timeout=3000):
        client.emit(Succeeded(second.job_id, _result(10, 30, 10, 30)))
    assert rle.area(segmenter.mask) == 20 * 20 and not segmenter.busy
    assert not segmenter.overlay.outline.isEmpty()


def test_accept_as_polygon_and_as_mask(qtbot, setup) -> None:
    client, window, segmenter = setup
    project = window.project
    segmenter.set_box(10, 10, 40, 30)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    client.emit(Succeeded(client.submitted[0].job_id, _result(10, 30, 10, 40)))
    qtbot.waitUntil(lambda: segmenter.mask is not None, timeout=3000)
    annotation_id = segmenter.accept(as_polygon=True)
    stored = project.get_annotation(annotation_id)
    assert isinstance(stored.geometry, Polygon) and stored.geometry.parts[0].area == pytest.approx(600)
    assert segmenter.prompt is None and segmenter.mask is None
    segmenter.add_point(50, 50)
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    client.emit(Succeeded(client.submitted[1].job_id, _result(40, 60, 40, 60)))
    qtbot.waitUntil(lambda: segmenter.mask is not None, timeout=3000)
    mask_id = segmenter.accept(as_polygon=False, category_id=2)
    stored = project.get_annotation(mask_id)
    assert isinstance(stored.geometry, Mask) and rle.area(stored.geometry) == 400 and stored.category_id == 2


def test_failure_is_reported_and_image_change_clears(qtbot, setup) -> None:
    client, window, segmenter = setup
    segmenter.set_box(10, 10, 40, 30)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    with qtbot.waitSignal(segmenter.failed, timeout=3000) as blocker:
        client.emit(Failed(client.submitted[0].job_id, "EngineInputError", "box outside the image"))
    assert blocker.args == ["box outside the image"]
    window.open_image(1)
    assert segmenter.prompt is None
