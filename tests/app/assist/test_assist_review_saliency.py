"""The review dashboard of a binary stuff project (membranes): foreground/background measures
shown, instance measures hidden; a thing project keeps its instance tabs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PIL import Image as PILImage

from annotations.geometry import rle
from annotations.model import Annotation, Category, Image, ImageStatus, ModelVersion, Prediction
from annotations.store import Project
from app.assist.bridge import EngineBridge
from app.assist.context import AssistContext
from app.assist.review_overlay import ReviewKind
from app.assist.review_panel import ReviewPanel
from tests.app.assist.fakes import FakeClient, make_fake_window, make_shapes_project

N_IMAGES = 3


def membrane_project(shared_data: Path, path: Path) -> Path:
    """Real membrane labels (0 = membrane) as the final masks of a one-class stuff project; the
    "model" predictions threshold the image intensity (membranes are dark)."""
    folder = shared_data / "isbi2012_membrane"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    with Project.create(path, [Category(1, "membrane", "#e6194b", is_thing=False)]) as project:
        images = project.add_images([Image(0, str(folder / "train_image" / f"{i}.png"), 512, 512, ImageStatus.DONE)
                                     for i in range(N_IMAGES)])
        labels = [np.array(PILImage.open(folder / "train_label" / f"{i}.png")) == 0 for i in range(N_IMAGES)]
        project.add_annotations([Annotation(0, im.id, 1, rle.encode(mask)) for im, mask in zip(images, labels)])
        version = project.add_model_version(ModelVersion(0, "unet", (1,)))
        project.add_predictions([
            Prediction(0, im.id, 1, rle.encode(np.array(PILImage.open(folder / "train_image" / f"{i}.png").convert("L")) < 100),
                       0.9, version.id) for i, im in enumerate(images)])
    return path


def _panel(qtbot, path: Path) -> tuple[Project, ReviewPanel]:
    project = Project.open(path)
    window = make_fake_window(project)
    qtbot.addWidget(window)
    panel = ReviewPanel(AssistContext(window, EngineBridge(lambda: FakeClient())))
    window.add_panel("review", "Review", panel)
    panel.set_kind(ReviewKind.MODEL_VS_FINAL)
    with qtbot.waitSignal(panel.reviewReady, timeout=120_000):
        assert panel.run_review()
    assert panel.error_text == "", panel.error_text
    return project, panel


def test_binary_stuff_project_shows_saliency_not_ap(qtbot, shared_data: Path, tmp_path: Path) -> None:
    project, panel = _panel(qtbot, membrane_project(shared_data, tmp_path / "m.segproj"))
    try:
        shown = panel.sections_shown()
        assert {"Foreground / background", "Pixels per class", "Per image", "Pixel confusion"} <= set(shown)
        assert not {"Worst images", "Per class", "PR curves", "Confusion", "IoU histogram"} & set(shown)
        text = panel.summary_label.text()
        assert "S-measure" in text and "weighted Fβ" in text and "AP50" not in text and "missed" not in text
        assert panel.saliency_table.rowCount() == N_IMAGES
        section = panel.report_json["saliency"]
        first = section["per_image"][0]
        assert panel.saliency_table.item(0, 1).text() == f"{first['s_measure']:.3f}"  # lowest S-measure first
        page = panel.export_html(tmp_path / "review.html").read_text(encoding="utf-8")
        assert "S-measure" in page and "<h2>COCO</h2>" not in page
    finally:
        project.close()


def test_thing_project_keeps_instance_tabs(qtbot, tmp_path: Path) -> None:
    project, panel = _panel(qtbot, make_shapes_project(tmp_path / "a", images=2, finished=2))
    try:
        shown = panel.sections_shown()
        assert {"Worst images", "Per class", "PR curves"} <= set(shown)
        assert "AP50" in panel.summary_label.text()
    finally:
        project.close()
