"""Which images have a shape of a class (the images panel's class filter) from an index alone:
the ids equal a read of every annotation, the query never touches a table row, and a file made
before the index gets it when opened for writing (read-only: read as it is, same answers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from annotations.geometry import Box
from annotations.model import NO_CATEGORY, Annotation, AnnotationRole, Category, Image
from annotations.store import SCHEMA_VERSION, Project
from annotations.store.schema import CATEGORY_IMAGE_INDEX


def _project(path: Path) -> Project:
    project = Project.create(path, [Category(1, "cell", "#ff0000"), Category(2, "debris", "#00ff00"),
                                    Category(3, "unused", "#0000ff")])
    project.add_images([Image(0, f"{k}.png", 64, 48) for k in range(8)])
    shapes = [  # image 1: cell x2; 2: debris; 3: cell + debris; 5: an ignore region of class cell; 7: void
        (1, 1), (1, 1), (2, 2), (3, 1), (3, 2), (5, 1), (7, NO_CATEGORY)]
    project.add_annotations(
        Annotation(0, image_id, category_id, Box(1, 1, 9, 9),
                   role=AnnotationRole.IGNORE if image_id in (5, 7) else AnnotationRole.OBJECT)
        for image_id, category_id in shapes)
    return project


def _expected(project: Project) -> tuple[dict[int, list[int]], list[int]]:
    by_class: dict[int, set[int]] = {}
    for annotation in project.annotations():
        if annotation.category_id != NO_CATEGORY:  # a class-agnostic (void) ignore region
            by_class.setdefault(annotation.category_id, set()).add(annotation.image_id)
    shaped = {a.image_id for a in project.annotations()}
    bare = sorted(i.id for i in project.images() if i.id not in shaped)
    return {c: sorted(ids) for c, ids in by_class.items()}, bare


def test_ids_equal_a_read_of_every_annotation(tmp_path: Path) -> None:
    with _project(tmp_path / "p.segproj") as project:
        by_class, bare = _expected(project)
        assert by_class == {1: [1, 3, 5], 2: [2, 3]} and bare == [4, 6, 8]
        for category_id in (1, 2):
            ids = project.image_ids_with_category(category_id)
            assert ids.dtype == np.int64 and ids.tolist() == by_class[category_id]
        assert project.image_ids_with_category(3).tolist() == []
        assert project.image_ids_without_annotations().tolist() == bare


def test_the_class_query_reads_the_index_only(tmp_path: Path) -> None:
    with _project(tmp_path / "p.segproj") as project:
        plan = " ".join(str(row[-1]) for row in project._db.execute(
            "EXPLAIN QUERY PLAN SELECT DISTINCT image_id FROM annotations WHERE category_id=? ORDER BY image_id", (1,)))
    assert f"COVERING INDEX {CATEGORY_IMAGE_INDEX}" in plan and "TEMP B-TREE" not in plan


def _drop_index(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"DROP INDEX {CATEGORY_IMAGE_INDEX}")
    db.commit()
    db.close()


def _has_index(path: Path) -> bool:
    db = sqlite3.connect(path)
    try:
        found = db.execute("SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (CATEGORY_IMAGE_INDEX,))
        return found.fetchone() is not None
    finally:
        db.close()


def test_a_file_made_before_the_index_gets_it_when_opened_for_writing(tmp_path: Path) -> None:
    path = tmp_path / "old.segproj"
    _project(path).close()
    _drop_index(path)
    with Project.open(path, readonly=True) as old:  # read as it is: same answers, slower plan
        assert old.image_ids_with_category(1).tolist() == [1, 3, 5]
    assert not _has_index(path)
    with Project.open(path) as project:
        assert project.schema_version == SCHEMA_VERSION  # an index is no format change
        assert project.image_ids_with_category(2).tolist() == [2, 3]
    assert _has_index(path)
