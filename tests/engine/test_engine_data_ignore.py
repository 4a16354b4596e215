"""Ignore regions in training targets: their pixels are the loss's ignore_index (255) in
semantic targets and they are no instance in detection targets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotations.geometry import Box, rle
from annotations.model import NO_CATEGORY, Annotation, AnnotationRole, Category, Image, ImageStatus
from annotations.store import Project
from engine.data import detection_target, semantic_target, take_snapshot


def test_ignore_regions_are_void_in_semantic_targets_and_absent_from_detection_targets(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj", [Category(1, "cell", is_thing=True)]) as project:
        (image,) = project.add_images([Image(0, "a.png", 20, 10, ImageStatus.DONE)])
        void = np.zeros((10, 20), bool)
        void[8:, :] = True
        project.add_annotations([Annotation(0, image.id, 1, Box(1, 1, 5, 5)),
                                 Annotation(0, image.id, NO_CATEGORY, rle.encode(void), role=AnnotationRole.IGNORE),
                                 Annotation(0, image.id, 1, Box(10, 1, 15, 5), role=AnnotationRole.IGNORE)])
        snapshot = take_snapshot(project)
    (item,) = snapshot.images
    labels = semantic_target(item, {1: 1})
    assert (labels[8:, :] == 255).all() and (labels[1:5, 10:15] == 255).all() and (labels[1:5, 1:5] == 1).all()
    assert (labels[6, :] == 0).all()
    target = detection_target(item, {1: 1}, with_masks=False)
    assert len(target.labels) == 1  # only the object
