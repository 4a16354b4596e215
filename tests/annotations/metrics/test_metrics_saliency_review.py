"""The saliency section of reviews: binary-project detection, per-image + overall plumbing
(against direct calls of the measures, which test_metrics_saliency checks against pysodmetrics),
JSON, and the stuff-only flag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from annotations.geometry import rle
from annotations.metrics.report_html import render_html
from annotations.metrics.review import project_vs_project
from annotations.metrics.saliency import saliency_summary
from annotations.metrics.saliency_review import detection_measures_apply, foreground_category
from annotations.model import Annotation, Category, Image
from annotations.store import Project

N_IMAGES = 3
SHIFTS = (0, 2, 6)  # pixels the compared masks are shifted by, per image


def _labels(shared_data: Path) -> list[tuple[Path, np.ndarray]]:
    folder = shared_data / "isbi2012_membrane"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    return [(folder / "train_image" / f"{i}.png", np.array(PILImage.open(folder / "train_label" / f"{i}.png")) == 0)
            for i in range(N_IMAGES)]


def _project(path: Path, categories: list[Category], images: list[tuple[Path, list[tuple[int, np.ndarray]]]]) -> Project:
    path.parent.mkdir(parents=True, exist_ok=True)
    project = Project.create(path, categories)
    stored = project.add_images([Image(0, str(file), masks[0][1].shape[1], masks[0][1].shape[0]) for file, masks in images])
    project.add_annotations([Annotation(0, image.id, category_id, rle.encode(mask), z_order=k)
                             for image, (_, masks) in zip(stored, images) for k, (category_id, mask) in enumerate(masks)])
    return project


def test_binary_stuff_review_has_saliency_per_image_and_overall(shared_data: Path, tmp_path: Path) -> None:
    labels = _labels(shared_data)
    membrane = [Category(1, "membrane", "#ff0000", is_thing=False)]
    compared_masks = [np.roll(mask, shift, axis=1) for (_, mask), shift in zip(labels, SHIFTS)]
    with _project(tmp_path / "a" / "a.segproj", membrane, [(f, [(1, m)]) for f, m in labels]) as a, \
         _project(tmp_path / "b" / "b.segproj", membrane, [(f, [(1, m)]) for (f, _), m in zip(labels, compared_masks)]) as b:
        report = project_vs_project(a, b)
    data = json.loads(json.dumps(report.to_json(), allow_nan=False))  # strict JSON
    section = data["saliency"]
    assert section["foreground"] == "membrane" and section["images"] == N_IMAGES and section["soft"] is False
    assert data["summary"]["stuff_only"] is True and not detection_measures_apply(data)
    direct = saliency_summary(compared_masks, [m for _, m in labels])
    for key in ("precision", "recall", "fbeta", "mae", "weighted_fbeta", "s_measure", "e_measure"):
        assert section[key] == pytest.approx(getattr(direct, key), abs=1e-12), key
    assert section["fbeta_max"] is None and section["fbeta_adaptive"] is None  # hard masks: no soft variants
    rows = {Path(r["image"]).name: r for r in section["per_image"]}
    for i, row in enumerate(direct.per_image):
        assert rows[f"{i}.png"]["s_measure"] == pytest.approx(row.s_measure, abs=1e-12)
        assert rows[f"{i}.png"]["mae"] == pytest.approx(row.mae, abs=1e-12)
    assert rows["0.png"]["mae"] == 0 and rows["0.png"]["s_measure"] == pytest.approx(1.0)  # unshifted: perfect
    s_values = [r["s_measure"] for r in section["per_image"]]
    assert s_values == sorted(s_values) and Path(section["per_image"][0]["image"]).name == "2.png"  # worst first
    page = render_html(report)
    assert "S-measure" in page and "weighted F-beta" in page and "mIoU" in page
    assert "AP50" not in page and "<h2>COCO</h2>" not in page and "Precision-recall" not in page  # stuff: no AP
    assert page.index("S-measure") < page.index("mIoU")  # saliency first


def test_foreground_of_fg_bg_and_multi_class_reviews(shared_data: Path, tmp_path: Path) -> None:
    labels = _labels(shared_data)[:1]
    two = [Category(1, "Background", "#000000", is_thing=False), Category(2, "membrane", "#ff0000", is_thing=False)]
    file, mask = labels[0]
    images = [(file, [(1, ~mask), (2, mask)])]
    with _project(tmp_path / "a" / "a.segproj", two, images) as a, _project(tmp_path / "b" / "b.segproj", two, images) as b:
        data = project_vs_project(a, b).to_json()
    assert data["saliency"]["foreground"] == "membrane" and data["saliency"]["fbeta"] == pytest.approx(1.0)
    three = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "background"}]
    assert foreground_category(three) is None
    assert foreground_category([{"id": 4, "name": "cell"}]) == {"id": 4, "name": "cell"}


def test_thing_classes_keep_detection_measures(shared_data: Path, tmp_path: Path) -> None:
    file, mask = _labels(shared_data)[0]
    cells = [Category(1, "cell", "#00ff00", is_thing=True)]
    with _project(tmp_path / "a" / "a.segproj", cells, [(file, [(1, ~mask)])]) as a, \
         _project(tmp_path / "b" / "b.segproj", cells, [(file, [(1, ~mask)])]) as b:
        report = project_vs_project(a, b, semantic=False)
    data = report.to_json()
    assert data["summary"]["stuff_only"] is False and detection_measures_apply(data)
    assert data["saliency"] is None  # semantic=False: no pixel-level sections
    page = render_html(report)
    assert "<h2>COCO</h2>" in page and "S-measure" not in page
