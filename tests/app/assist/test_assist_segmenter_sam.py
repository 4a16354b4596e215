"""The interactive mask tool with SAM answers (scripted client): embedding busy label, which method
answered, candidate cycling with a key, and accept as a polygon bounded by the tolerance."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from annotations.geometry import Polygon, mask_to_polygon, polygon_to_mask, rle
from app.assist.bridge import EngineBridge
from app.assist.context import AssistContext
from app.assist.mask_tool import InteractiveMaskTool
from app.assist.segmenter import InteractiveSegmenter
from engine.protocol import Progress, Segment, SegmentMethod, SegmentResult, Succeeded
from tests.app.assist.fakes import FakeClient, make_fake_window

HEIGHT, WIDTH = 80, 100  # the new_project image


def disc(cx: float, cy: float, radius: float) -> np.ndarray:
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    return (cols + 0.5 - cx) ** 2 + (rows + 0.5 - cy) ** 2 <= radius**2


def sam_result(*masks: np.ndarray) -> SegmentResult:
    encoded = [rle.encode(m) for m in masks]
    return SegmentResult(encoded[0].size, encoded[0].counts, SegmentMethod.SAM, 41.0,
                         alternatives=tuple(e.counts for e in encoded[1:]), scores=(0.9, 0.7, 0.5)[: len(masks)],
                         embedding_ms=0.0, model="sam2.1_hiera_tiny")


def key(code: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> QKeyEvent:
    return QKeyEvent(QEvent.Type.KeyPress, code, modifiers)


@pytest.fixture
def tool_setup(qtbot, new_project):
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    context = AssistContext(window, bridge)
    segmenter = InteractiveSegmenter(context, SegmentMethod.AUTO)
    tool = InteractiveMaskTool(segmenter)
    window.open_image(1)
    yield client, window, segmenter, tool
    bridge.shutdown()


def test_box_to_sam_mask_to_polygon_within_tolerance(qtbot, tool_setup) -> None:
    client, window, segmenter, tool = tool_setup
    tool.activate(window)  # the embedding of the image starts when the tool is active on it
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    prepare = client.submitted[0]
    assert isinstance(prepare, Segment) and prepare.prepare_only and prepare.image_id == 1
    assert segmenter.embedding_busy and "embedding" in segmenter.status
    assert tool.toolbar is not None and "embedding" in tool.toolbar.status.text()
    client.emit(Progress(prepare.job_id, 1, 1, "embedding ready: image 1"))
    qtbot.waitUntil(lambda: not segmenter.embedding_busy, timeout=3000)

    segmenter.set_box(15, 10, 85, 70)
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    request = client.submitted[1]
    assert request.box_xyxy == (15, 10, 85, 70) and request.method is SegmentMethod.AUTO and not request.prepare_only
    best, second, third = disc(50, 40, 28), disc(50, 40, 20), disc(45, 40, 12)
    with qtbot.waitSignal(segmenter.maskChanged, timeout=3000):
        client.emit(Succeeded(request.job_id, sam_result(best, second, third)))
    assert len(segmenter.candidates) == 3 and rle.area(segmenter.mask) == int(best.sum())
    assert segmenter.status.startswith("SAM 2.1 tiny · 41 ms") and "candidate 1/3" in segmenter.status
    assert segmenter.overlay.status_text == segmenter.status

    # C cycles the candidates (Shift+C back), claimed by the tool only when there are several.
    assert tool.claims_key(key(Qt.Key.Key_C))
    assert tool.key_press(key(Qt.Key.Key_C)) and rle.area(segmenter.mask) == int(second.sum())
    assert "candidate 2/3" in segmenter.status
    assert tool.key_press(key(Qt.Key.Key_C, Qt.KeyboardModifier.ShiftModifier))
    assert rle.area(segmenter.mask) == int(best.sum())

    # Enter accepts a polygon simplified to the tolerance (default 1 px): a handful of vertices, not hundreds.
    assert segmenter.tolerance_px == 1.0
    dense_vertices = len(mask_to_polygon(segmenter.mask).parts[0].exterior)
    assert tool.key_press(key(Qt.Key.Key_Return))
    polygon = window.project.annotations(1)[-1].geometry
    assert isinstance(polygon, Polygon) and len(polygon.parts) == 1
    vertices = len(polygon.parts[0].exterior)
    # Douglas-Peucker at tolerance t on a circle of radius r keeps about pi * sqrt(r / (2 t)) vertices
    # (12 for r = 28, t = 1); the traced outline without tolerance has one per pixel step.
    assert vertices <= 2 * np.pi * np.sqrt(28 / 2.0) and dense_vertices > 4 * vertices
    back = rle.decode(polygon_to_mask(polygon, (HEIGHT, WIDTH)))
    assert (back & best).sum() / (back | best).sum() > 0.95
    assert segmenter.prompt is None and segmenter.candidates == []


def test_grabcut_method_prepares_nothing_and_says_who_answered(qtbot, tool_setup) -> None:
    client, window, segmenter, tool = tool_setup
    tool.toolbar = None
    segmenter.set_method(SegmentMethod.GRABCUT)
    tool.activate(window)
    assert tool.toolbar is not None and tool.toolbar.method_box.currentText().startswith("GrabCut")
    segmenter.add_point(50, 40)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    assert client.submitted[0].method is SegmentMethod.GRABCUT and not client.submitted[0].prepare_only
    encoded = rle.encode(disc(50, 40, 10))
    with qtbot.waitSignal(segmenter.maskChanged, timeout=3000):
        answer = SegmentResult(encoded.size, encoded.counts, SegmentMethod.GRABCUT, 80.0)
        client.emit(Succeeded(client.submitted[0].job_id, answer))
    assert segmenter.status == "GrabCut · 80 ms" and not tool.claims_key(key(Qt.Key.Key_C))
    # Choosing SAM in the toolbar saves the choice and starts the image's embedding.
    tool.toolbar.method_box.setCurrentIndex(tool.toolbar.index_of(SegmentMethod.SAM, "sam2.1_hiera_small"))
    assert segmenter.method is SegmentMethod.SAM and segmenter.sam_model == "sam2.1_hiera_small"
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    assert client.submitted[1].prepare_only and client.submitted[1].sam_model == "sam2.1_hiera_small"
    tool.deactivate()
    assert tool.toolbar.isHidden() and not segmenter.active


def _prefetch_in_flight(qtbot, project, monkeypatch):
    """A segmenter on image 1 whose embedding is ready, prefetching image 7 while idle."""
    import app.assist.segmenter as segmenter_module

    monkeypatch.setattr(segmenter_module, "PREFETCH_IDLE_MS", 50)
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    window = make_fake_window(project)
    qtbot.addWidget(window)
    segmenter = InteractiveSegmenter(AssistContext(window, bridge), SegmentMethod.AUTO)
    window.open_image(1)
    segmenter.active = True
    segmenter.prepare(next_image_id=7)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    client.emit(Progress(client.submitted[0].job_id, 1, 1, "embedding ready: image 1"))
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)  # idle: the next image's embedding
    return client, bridge, window, segmenter


def test_next_image_is_prefetched_only_while_the_annotator_is_idle(qtbot, new_project, monkeypatch) -> None:
    client, bridge, window, segmenter = _prefetch_in_flight(qtbot, new_project, monkeypatch)
    prefetch = client.submitted[1]
    assert prefetch.prepare_only and prefetch.image_id == 7 and not segmenter.embedding_busy
    segmenter.set_box(10, 10, 40, 30)  # a prompt cancels the prefetch in flight: clicks go first
    qtbot.waitUntil(lambda: len(client.submitted) == 3, timeout=3000)
    assert prefetch.job_id in client.cancelled and client.submitted[2].box_xyxy == (10, 10, 40, 30)
    bridge.shutdown()


def test_opening_another_image_cancels_the_prefetch_in_flight(qtbot, new_project, monkeypatch) -> None:
    """The annotator jumps to an image that is not the prefetched one: its embedding goes first."""
    from annotations.model import Image

    new_project.add_images([Image(0, "second.png", 100, 80)])
    client, bridge, window, segmenter = _prefetch_in_flight(qtbot, new_project, monkeypatch)
    prefetch = client.submitted[1]
    assert prefetch.image_id == 7
    window.open_image(2)
    segmenter.prepare(next_image_id=3)
    qtbot.waitUntil(lambda: len(client.submitted) == 3, timeout=3000)
    assert prefetch.job_id in client.cancelled
    assert client.submitted[2].prepare_only and client.submitted[2].image_id == 2
    bridge.shutdown()
