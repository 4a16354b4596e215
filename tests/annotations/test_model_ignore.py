"""Ignore regions (AnnotationRole.IGNORE): model, codec, commands, store, the 2 -> 3 migration,
and the many-images status command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from annotations.errors import GeometryError
from annotations.geometry import Box, rle
from annotations.model import (
    NO_CATEGORY,
    Annotation,
    AnnotationRole,
    Category,
    Image,
    ImageStatus,
    UpdateAnnotation,
    command_from_json,
    set_images_status,
)
from annotations.model.codec import annotation_from_json, annotation_to_json
from annotations.store import SCHEMA_VERSION, Project
from annotations.store.geometry_blob import encode_geometry
from annotations.store.schema import APPLICATION_ID, SCHEMA_V2


def _void(image_id: int = 1) -> Annotation:
    pixels = np.zeros((80, 100), bool)
    pixels[:5, :] = True
    return Annotation(0, image_id, NO_CATEGORY, rle.encode(pixels), role=AnnotationRole.IGNORE)


def test_codec_and_update_command_carry_the_role() -> None:
    void = _void()
    assert annotation_from_json(annotation_to_json(void)) == void
    plain = Annotation(1, 1, 2, Box(0, 0, 3, 3))
    assert "role" not in annotation_to_json(plain)  # objects serialize as before
    command = UpdateAnnotation(1, {"role": AnnotationRole.IGNORE})
    assert command_from_json(command.to_json()) == command


def test_store_keeps_class_agnostic_and_class_ignore_regions(new_project: Project) -> None:
    stored = new_project.add_annotations([_void(), Annotation(0, 1, 1, Box(10, 10, 20, 20), role=AnnotationRole.IGNORE),
                                          Annotation(0, 1, 2, Box(30, 30, 40, 40))])
    back = new_project.annotations(1)
    assert [(a.role, a.category_id, a.iscrowd) for a in back] == [
        (AnnotationRole.IGNORE, NO_CATEGORY, True), (AnnotationRole.IGNORE, 1, True), (AnnotationRole.OBJECT, 2, False)]
    assert [a.id for a in back] == [a.id for a in stored]
    assert new_project.annotations() == back  # the fast bulk path reads the same
    with pytest.raises(GeometryError, match="only an ignore region may have no class"):
        new_project.add_annotations([Annotation(0, 1, NO_CATEGORY, Box(0, 0, 2, 2))])


def test_role_change_is_undoable(new_project: Project) -> None:
    (shape,) = new_project.add_annotations([Annotation(0, 1, 1, Box(10, 10, 20, 20))])
    new_project.execute(UpdateAnnotation(shape.id, {"role": AnnotationRole.IGNORE}, "Make ignore region"))
    assert new_project.get_annotation(shape.id).is_ignore
    new_project.undo()
    assert not new_project.get_annotation(shape.id).is_ignore


def test_schema_2_file_is_migrated_to_3(tmp_path: Path) -> None:
    path = tmp_path / "v2.segproj"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in SCHEMA_V2.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO meta VALUES ('revision', '3'), ('created', '2026')")
    db.execute("INSERT INTO categories VALUES (1, 'cell', '#ff0000', '', 1, '{}', 1)")
    db.execute("INSERT INTO images VALUES (1, 'a.png', 100, 80, 'done', '{}')")
    db.execute("INSERT INTO annotations VALUES (5, 1, 1, ?, 2, 1, NULL, NULL, NULL, 't0', NULL, NULL)",
               (encode_geometry(Box(1, 2, 30, 40)),))
    db.close()
    with Project.open(path, readonly=True) as old:  # read as it is
        assert old.schema_version == 2
        (before,) = old.annotations()
        assert before.role is AnnotationRole.OBJECT and old.get_annotation(5) == before
    with Project.open(path) as project:
        assert project.schema_version == SCHEMA_VERSION >= 3  # migrated through 3 (and on to the newest)
        assert project.annotations() == [before]
        project.add_annotations([_void()])
    with Project.open(path) as again:
        assert [(a.id, a.role, a.category_id) for a in again.annotations()] == [  # z-order 0, then 2
            (6, AnnotationRole.IGNORE, NO_CATEGORY), (5, AnnotationRole.OBJECT, 1)]


def test_set_images_status_is_one_undo_step_and_skips_unchanged(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj", [Category(1, "a")]) as project:
        project.add_images([Image(0, f"{i}.png", 10, 10) for i in range(4)])
        project.put_image_status(2, ImageStatus.DONE)
        batch = set_images_status(project, [1, 2, 3, 3], ImageStatus.DONE)
        assert len(batch.commands) == 2 and batch.label == "Mark 2 images done"
        project.execute(batch)
        assert [im.status for im in project.images()] == [ImageStatus.DONE] * 3 + [ImageStatus.NEW]
        assert project.undo() == "Mark 2 images done"
        assert [im.status for im in project.images()] == [ImageStatus.NEW, ImageStatus.DONE, ImageStatus.NEW, ImageStatus.NEW]
