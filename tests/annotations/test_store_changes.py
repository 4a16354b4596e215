"""``Project.execute_change`` / ``undo_change`` / ``redo_change`` say what changed: the ids per
kind, the image, and the step in words (the GUI's one undo truth)."""

from __future__ import annotations

from annotations.geometry import Box
from annotations.model import (
    AddAnnotation,
    AddCategory,
    Annotation,
    Batch,
    Category,
    DeleteAnnotation,
    SetImageStatus,
    UpdateAnnotation,
)
from annotations.model.entities import ImageStatus
from annotations.store import Project


def test_execute_undo_redo_report_ids_image_and_words(new_project: Project) -> None:
    image = new_project.get_image(1)
    name = image.path.rsplit("/", 1)[-1]
    added = new_project.execute_change(AddAnnotation(Annotation(0, 1, 1, Box(1, 1, 9, 9))))
    ann_id = added.annotation.id
    assert ann_id > 0 and added.annotation_ids == {ann_id} and added.image_id == 1
    assert added.description == f"Add box on {name}"
    preview = new_project.preview_undo()
    assert preview is not None and preview.image_id == 1 and new_project.annotations(1) != []  # nothing written
    undone = new_project.undo_change()
    assert undone is not None and isinstance(undone.command, DeleteAnnotation)
    assert undone.image_id == 1 and undone.annotation_ids == {ann_id} and undone.label == "Add box"
    assert undone.description == f"Undone: Add box on {name}"
    redone = new_project.redo_change()
    assert redone is not None and redone.image_id == 1 and redone.description.startswith("Redone: Add box")
    assert new_project.redo_change() is None


def test_a_delete_is_undone_on_its_image_and_status_and_class_kinds_are_named(new_project: Project) -> None:
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(1, 1, 9, 9))))
    deleted = new_project.execute_change(DeleteAnnotation(done.annotation.id))
    assert deleted.image_id == 1  # known although the shape is gone now
    both = new_project.execute_change(Batch((SetImageStatus(1, ImageStatus.DONE),), "Mark done"))
    assert both.status_image_ids == {1} and both.annotation_ids == frozenset()
    klass = new_project.execute_change(AddCategory(Category(0, "extra")))
    assert klass.category_ids == {klass.category.id} and klass.image_id is None
    new_project.undo_change()
    new_project.undo_change()
    back = new_project.undo_change()
    assert back is not None and back.image_id == 1 and back.annotation_ids == {done.annotation.id}


def test_an_update_names_its_image(new_project: Project) -> None:
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(1, 1, 9, 9))))
    moved = new_project.execute_change(UpdateAnnotation(done.annotation.id, {"geometry": Box(2, 2, 8, 8)}, "Move box"))
    assert moved.image_id == 1 and moved.label == "Move box"
