"""Write-time geometry checks (DESIGN §4): a degenerate shape gets a clear error naming the image
and the annotation, and nothing stored changes — bulk adds, single inserts, replaces and the
undoable commands alike; undo / redo keep working."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.errors import GeometryError
from annotations.geometry import Box, Polygon, rle
from annotations.model import AddAnnotation, Annotation, Batch, DeleteAnnotation, UpdateAnnotation
from annotations.store import Project
from annotations.store.geometry_blob import encode_geometry

# new_project: image id 1, "img.png", 100 x 80 (width x height).


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


def _snapshot(project: Project) -> tuple:
    return ([(a.id, a.category_id, encode_geometry(a.geometry), a.z_order) for a in project.annotations()],
            project.revision, project.undo_label(), project.redo_label())


BAD = {
    "two distinct vertices": (Polygon.from_points([[10, 10], [20, 20], [10, 10]]), "2 distinct vertices"),
    "collinear (zero area)": (Polygon.from_points([[10, 10], [20, 20], [30, 30]]), "zero area"),
    "second part degenerate": (Polygon(_square(5, 5, 10).parts + Polygon.from_points([[50, 50], [60, 50], [70, 50]]).parts),
                               "part 1 has zero area"),
    "mask of another size": (rle.encode(np.ones((40, 30), dtype=bool)), "mask size (40, 30)"),
    "box of zero width": (Box(10, 10, 10, 30), "zero width or height"),
    "box of zero height": (Box(10, 10, 30, 10), "zero width or height"),
    "box right of the image": (Box(100, 10, 120, 30), "entirely outside"),
    "box above the image": (Box(10, -30, 30, 0), "entirely outside"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bulk_add_with_one_bad_item_stores_nothing(new_project: Project, name: str) -> None:
    geometry, reason = BAD[name]
    new_project.add_annotations([Annotation(0, 1, 1, _square(1, 1, 5))])
    before = _snapshot(new_project)
    batch = [Annotation(0, 1, 1, _square(10, 10, 5)), Annotation(0, 1, 2, geometry), Annotation(0, 1, 1, _square(30, 30, 5))]
    with pytest.raises(GeometryError) as info:
        new_project.add_annotations(batch)
    message = str(info.value)
    assert "image 1 (img.png)" in message and "item 1 of the batch" in message and "category 2" in message
    assert reason in message and "nothing was stored" in message
    assert _snapshot(new_project) == before


@pytest.mark.parametrize("name", list(BAD))
def test_commands_refuse_bad_geometry_and_leave_history_alone(new_project: Project, name: str) -> None:
    geometry, reason = BAD[name]
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 1, _square(10, 10, 20))))
    ann_id = done.annotation.id
    before = _snapshot(new_project)
    with pytest.raises(GeometryError) as info:
        new_project.execute(AddAnnotation(Annotation(0, 1, 1, geometry)))
    assert reason in str(info.value)
    assert _snapshot(new_project) == before
    with pytest.raises(GeometryError) as info:
        new_project.execute(UpdateAnnotation(ann_id, {"geometry": geometry}, "Move vertex"))
    assert f"image 1 (img.png): annotation {ann_id} (category 1)" in str(info.value) and reason in str(info.value)
    assert _snapshot(new_project) == before
    # a batch with a bad step is undone whole
    with pytest.raises(GeometryError):
        new_project.execute(Batch((UpdateAnnotation(ann_id, {"category_id": 2}),
                                   AddAnnotation(Annotation(0, 1, 1, geometry))), "Paste"))
    assert _snapshot(new_project) == before
    # undo / redo still work afterwards
    assert new_project.undo() is not None and new_project.annotations() == []
    assert new_project.redo() is not None and [a.id for a in new_project.annotations()] == [ann_id]


def test_insert_and_replace_name_the_annotation(new_project: Project) -> None:
    stored = new_project.insert_annotation(Annotation(0, 1, 1, Box(10, 10, 30, 30)))
    with pytest.raises(GeometryError, match=r"image 1 \(img.png\): new annotation \(item 0 of the batch\)"):
        new_project.insert_annotation(Annotation(0, 1, 1, Box(10, 10, 10, 30)))
    with pytest.raises(GeometryError, match=r"annotation 77 \(category 1\)"):
        new_project.insert_annotation(Annotation(77, 1, 1, Box(10, 10, 10, 30)))
    with pytest.raises(GeometryError, match=f"annotation {stored.id} "):
        new_project.replace_annotation(stored.with_changes(geometry=Box(200, 10, 230, 30)))
    assert new_project.get_annotation(stored.id).geometry == Box(10, 10, 30, 30)
    assert [a.id for a in new_project.annotations()] == [stored.id]


def test_valid_edge_cases_are_stored(new_project: Project) -> None:
    bow_tie = Polygon.from_points([[0, 0], [20, 20], [20, 0], [0, 20]])  # lobes cancel in the shoelace sum
    empty = rle.encode(np.zeros((80, 100), dtype=bool))
    stored = new_project.add_annotations([
        Annotation(0, 1, 1, bow_tie),
        Annotation(0, 1, 1, Box(-10, -10, 1, 1)),  # mostly outside, still overlaps the image
        Annotation(0, 1, 1, Box(95, 75, 120, 90)),
        Annotation(0, 1, 1, empty),  # an empty mask of the right size (an erased shape) is allowed
        Annotation(0, 1, 1, Polygon.from_points([[200, 200], [210, 200], [210, 210]])),  # polygons may leave the image
    ])
    assert len(stored) == 5 and len(new_project.annotations()) == 5


def test_a_shape_stored_before_the_checks_can_still_be_edited_and_restored(new_project: Project) -> None:
    stored = new_project.insert_annotation(Annotation(0, 1, 1, _square(10, 10, 20)))
    legacy = Polygon.from_points([[10, 10], [20, 20], [10, 10]])
    with new_project.transaction() as p:  # as an older version could have stored it
        p._db.execute("UPDATE annotations SET geometry=? WHERE id=?", (encode_geometry(legacy), stored.id))
    new_project.execute(UpdateAnnotation(stored.id, {"category_id": 2}, "Change class"))  # geometry untouched: fine
    assert new_project.get_annotation(stored.id).category_id == 2
    new_project.execute(DeleteAnnotation(stored.id))
    assert new_project.undo() == "Delete shape"  # brings the legacy shape back unchecked
    assert encode_geometry(new_project.get_annotation(stored.id).geometry) == encode_geometry(legacy)
    assert new_project.redo() == "Delete shape" and new_project.annotations() == []
    assert new_project.undo() == "Delete shape"
    with pytest.raises(GeometryError):  # a new geometry is checked
        new_project.execute(UpdateAnnotation(stored.id, {"geometry": Box(1, 1, 1, 5)}))


def test_fast_polygon_check_agrees_with_validate_polygon() -> None:
    from annotations.geometry import validate_polygon
    from annotations.store.project import geometry_problem

    rng = np.random.default_rng(3)
    checked = rejected = 0
    for _ in range(400):
        n = int(rng.integers(3, 7))
        points = rng.integers(0, 4, size=(n, 2)).astype(float)  # a small grid: many duplicates / collinear rings
        if rng.random() < 0.3:
            points[:, 1] = points[:, 0] * 2 + 1  # all on one line
        try:
            polygon = Polygon.from_points(points)
        except GeometryError:
            continue
        try:
            validate_polygon(polygon)
            expected = None
        except GeometryError:
            expected = "bad"
        got = geometry_problem(polygon, (80, 100))
        assert (got is None) == (expected is None), (points.tolist(), got)
        checked += 1
        rejected += got is not None
    assert checked > 300 and 50 < rejected < checked - 50
