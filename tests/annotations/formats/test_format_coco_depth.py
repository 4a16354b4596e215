"""Depth order on COCO import: COCO has none, so foreign files stack the largest shape at the
back; SegStudio's own exports keep their back-to-front order exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from annotations.formats import ExportOptions
from annotations.formats.coco.instances import DEPTH_ORDER_KEY, export_coco, import_coco
from annotations.geometry import Box, Polygon
from annotations.model import Annotation, Category, Image
from annotations.store import Project


def square(x: float, y: float, side: float) -> list[float]:
    return [x, y, x + side, y, x + side, y + side, x, y + side]


def foreign_coco(tmp_path: Path) -> Path:
    """A COCO file listing a small dog inside a large boat, the boat last (as coco128 does)."""
    PILImage.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "a.png")
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}],
        "categories": [{"id": 18, "name": "dog"}, {"id": 9, "name": "boat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 18, "segmentation": [square(40, 40, 10)], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 9, "segmentation": [square(10, 10, 80)], "iscrowd": 0},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(data))
    return path


def test_foreign_coco_stacks_the_largest_shape_at_the_back(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj") as project:
        import_coco(project, foreign_coco(tmp_path))
        names = {c.id: c.name for c in project.categories()}
        back_to_front = [names[a.category_id] for a in project.annotations(1)]
    assert back_to_front == ["boat", "dog"]  # the dog stays visible in VOC/Cityscapes/panoptic


def test_segstudio_export_keeps_a_deliberate_order_on_reimport(tmp_path: Path) -> None:
    PILImage.fromarray(np.zeros((100, 100, 3), np.uint8)).save(tmp_path / "a.png")
    with Project.create(tmp_path / "src.segproj", [Category(1, "small"), Category(2, "large")]) as source:
        source.add_images([Image(0, "a.png", 100, 100)])
        source.add_annotations([  # the small shape is deliberately behind the large one
            Annotation(0, 1, 1, Box(40, 40, 50, 50), z_order=0),
            Annotation(0, 1, 2, Polygon.from_coco([square(10, 10, 80)]), z_order=1),
        ])
        export_coco(source, tmp_path / "out", ExportOptions())
    exported = json.loads((tmp_path / "out" / "annotations" / "instances_train.json").read_text())
    assert exported["info"][DEPTH_ORDER_KEY] == "file"
    with Project.create(tmp_path / "dst.segproj") as target:
        import_coco(target, tmp_path / "out" / "annotations" / "instances_train.json",
                    images_root=exported["info"]["image_root"])  # the user names the image folder
        names = {c.id: c.name for c in target.categories()}
        assert [names[a.category_id] for a in target.annotations(1)] == ["small", "large"]
