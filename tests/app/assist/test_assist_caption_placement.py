"""Review and pre-label captions never cover each other (issue 14 item 8: "review labels
overlap"), and the pre-label captions step aside while the review's marks caption the same shapes."""

from __future__ import annotations

import itertools
import random

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QColor, QFont, QTransform

from annotations.geometry import Box
from app.assist.label_placement import Rect, candidates, place_captions
from app.assist.review_overlay import Mark, ReviewOverlay


def _no_two_overlap(rects: list[Rect]) -> bool:
    return not any(a.overlaps(b) for a, b in itertools.combinations(rects, 2))


def test_captions_of_the_same_shape_go_to_different_places() -> None:
    shape = Rect(100, 100, 40, 30)
    placed = place_captions([shape] * 4, [(60, 14)] * 4)
    assert all(p is not None for p in placed) and _no_two_overlap([p for p in placed if p is not None])
    assert placed[0] == Rect(100, 86, 60, 14)  # the first one above the top-left corner


def test_random_dense_shapes_get_non_overlapping_captions_or_none() -> None:
    rng = random.Random(0)
    shapes = [Rect(rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(10, 60), rng.uniform(10, 60)) for _ in range(80)]
    sizes = [(rng.uniform(40, 120), 14.0) for _ in shapes]
    taken = [Rect(0, 0, 50, 50)]
    placed = place_captions(shapes, sizes, taken)
    kept = [p for p in placed if p is not None]
    assert _no_two_overlap(kept + taken)
    assert 10 < len(kept) < len(shapes)  # crowded: some are left out, many are shown
    for shape, size, place in zip(shapes, sizes, placed, strict=True):
        assert place is None or place in candidates(shape, *size)  # always next to its own shape


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 shapes but 1"):
        place_captions([Rect(0, 0, 1, 1)] * 2, [(1, 1)])


def test_the_review_overlay_places_captions_of_touching_shapes_apart(qtbot) -> None:
    overlay = ReviewOverlay()
    shown: list[bool] = []
    overlay.shown.connect(shown.append)
    red = QColor("#d62728")
    marks = [Mark(Box(10, 10, 40, 40), "pair-pred", "IoU 0.81", red), Mark(Box(12, 10, 42, 40), "pair-pred", "IoU 0.77", red),
             Mark(Box(11, 12, 41, 42), "miss", "missed nucleus", red), Mark(Box(12, 12, 20, 20), "pair-gt", "", red)]
    overlay.set_marks(1, marks)
    font = QFont()
    font.setPointSizeF(8.0)
    placed = overlay.caption_rects(QTransform.fromScale(3.0, 3.0), font)
    assert [m.caption for m, _ in placed][0] == "missed nucleus"  # misses first: they matter most
    assert len(placed) == 3 and _no_two_overlap([r for _, r in placed])
    overlay.clear()
    assert shown == [True, False]


def test_pre_label_captions_step_aside_while_review_marks_are_shown(qtbot, new_project) -> None:
    from annotations.model import ModelVersion, Prediction
    from app.assist.bridge import EngineBridge
    from app.assist.context import AssistContext
    from app.assist.prelabel_layer import PredictionLayer
    from app.assist.review_panel import ReviewPanel
    from tests.app.assist.fakes import FakeClient, make_fake_window

    version = new_project.add_model_version(ModelVersion(0, "unet", (1,)))
    new_project.add_predictions([Prediction(0, 1, 1, Box(10, 10, 40, 40), 0.9, version.id),
                                 Prediction(0, 1, 1, Box(11, 10, 41, 40), 0.8, version.id)])
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    context = AssistContext(window, EngineBridge(lambda: FakeClient()))
    layer = PredictionLayer(context)
    panel = ReviewPanel(context)
    window.open_image(1)
    # two proposals on nearly the same box: two captions, side by side, the best one first
    placed = layer.captions.placed(QTransform.fromScale(3.0, 3.0))
    assert [text for text, _, _ in placed] == ["cell 0.90 · v1", "cell 0.80 · v1"]
    assert _no_two_overlap([rect for _, _, rect in placed])
    assert layer.captions.isVisible()
    panel.overlay.set_marks(1, [Mark(Box(10, 10, 40, 40), "miss", "missed cell", QColor("#d62728"))])
    assert not layer.captions.isVisible() and not layer.captions_visible
    window.open_image(1)  # the layer rebuilds its items: still no captions while the marks are on
    assert not layer.captions.isVisible()
    panel.overlay.clear()
    assert layer.captions.isVisible()
    window.close()
