"""Shared builders for the store and command tests: a project holding every kind of record."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotations.geometry import Box, Polygon, PolygonPart, rle
from annotations.model import (
    Annotation,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    model_source,
)
from annotations.store import Project

SIZE_HW = (80, 100)


def sample_geometries() -> dict[str, object]:
    """One geometry of each kind and shape: box, polygon, polygon with a hole, two-part polygon,
    mask."""
    dense = np.zeros(SIZE_HW, dtype=bool)
    dense[10:30, 20:50] = True
    return {
        "box": Box(1.5, 2.25, 40.0, 30.5),
        "polygon": Polygon.from_points([[10.1, 10.2], [50.3, 12.4], [30.5, 40.6]]),
        "holed": Polygon.from_points(
            [[0, 0], [60, 0], [60, 60], [0, 60]], [[[10, 10], [20, 10], [20, 20], [10, 20]], [[30, 30], [40, 30], [35, 40]]]
        ),
        "two_parts": Polygon(
            (PolygonPart(np.array([[0, 0], [10, 0], [10, 10]])), PolygonPart(np.array([[50, 50], [70, 50], [60, 70], [55, 65]])))
        ),
        "mask": rle.encode(dense),
    }


def build_full_project(path: Path) -> Project:
    """A project with 3 categories, 2 images, annotations of every kind, predictions, a model
    version, a setting and some history."""
    project = Project.create(
        path,
        [
            Category(1, "cell", "#e6194b", "bio", True, {"note": "x"}),
            Category(5, "debris", "#3cb44b", "", True),
            Category(9, "background", "#000000", "", False, {"trainId": 255}),
        ],
    )
    project.add_images(
        [
            Image(0, "images/a.png", SIZE_HW[1], SIZE_HW[0]),
            Image(0, "images/sub dir/b é.png", SIZE_HW[1], SIZE_HW[0], ImageStatus.DONE, {"exif_orientation": 6}),
        ]
    )
    version = project.add_model_version(
        ModelVersion(0, "maskrcnn_resnet50_fpn", (1, 5), {"image_ids": [1], "revision": 3}, {"map": 0.5}, "w/v1.pt")
    )
    predictions = project.add_predictions(
        [
            Prediction(0, 1, 1, sample_geometries()["polygon"], 0.9, version.id),
            Prediction(0, 2, 5, sample_geometries()["mask"], 0.4, version.id),
        ]
    )
    geometries = sample_geometries()
    project.add_annotations(
        [
            Annotation(0, 1, 1, geometries["box"], z_order=2),
            Annotation(0, 1, 5, geometries["polygon"], z_order=1, iscrowd=True, attributes={"occluded": True}),
            Annotation(0, 1, 1, geometries["holed"], author="ann"),
            Annotation(0, 2, 1, geometries["two_parts"], source=model_source(version.id), origin_prediction_id=predictions[0].id),
            Annotation(0, 2, 9, geometries["mask"],
                       created="2020-01-01T00:00:00.000+00:00", modified="2021-01-01T00:00:00.000+00:00"),
        ]
    )
    project.set_setting("retrain_every", 5)
    return project


def snapshot(project: Project) -> dict[str, object]:
    """Everything readable from a project, for equality checks."""
    return {
        "categories": project.categories(),
        "images": project.images(),
        "annotations": project.annotations(),
        "predictions": project.predictions(),
        "model_versions": project.model_versions(),
        "revision": project.revision,
        "setting": project.get_setting("retrain_every"),
        "undo": project.undo_label(),
        "redo": project.redo_label(),
        "counts": project.counts(),
    }
