"""The project store: persistence, undo/redo across reopen, errors, migrations."""

from __future__ import annotations

import copy
import json
import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from test_store_helpers import build_full_project, sample_geometries, snapshot

from annotations.errors import CorruptProjectError, NotFoundError, SchemaVersionError, StoreError
from annotations.geometry import Box, Polygon
from annotations.model import (
    AddAnnotation,
    AddCategory,
    Annotation,
    Batch,
    Category,
    DeleteAnnotation,
    DeleteCategory,
    Image,
    ImageStatus,
    SetImageStatus,
    UpdateAnnotation,
    UpdateCategory,
)
from annotations.model.codec import geometry_to_json
from annotations.store import SCHEMA_VERSION, Project
from annotations.store.geometry_blob import decode_geometries, decode_geometry, encode_geometry
from annotations.store.schema import APPLICATION_ID, SCHEMA_V1

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


# ------------------------------------------------------------------------------ persistence
def test_reopen_gives_identical_content(tmp_path: Path) -> None:
    path = tmp_path / "p.segproj"
    with build_full_project(path) as project:
        project.execute(AddAnnotation(Annotation(0, 1, 5, Box(0, 0, 5, 5))))
        before = snapshot(project)
    assert before["counts"]["annotations"] == 6
    with Project.open(path) as project:
        assert snapshot(project) == before
    with Project.open(path, readonly=True) as project:
        assert snapshot(project) == before


def test_every_field_survives(tmp_path: Path) -> None:
    with build_full_project(tmp_path / "p.segproj") as project:
        anns = project.annotations()
        by_kind = {type(a.geometry).__name__ + str(len(getattr(a.geometry, "parts", ()))): a for a in anns}
        crowd = next(a for a in anns if a.iscrowd)
        assert crowd.attributes == {"occluded": True} and crowd.z_order == 1
        linked = next(a for a in anns if a.origin_prediction_id is not None)
        assert linked.source == "model:1" and linked.origin_prediction_id == 1
        dated = next(a for a in anns if a.created.startswith("2020"))
        assert dated.modified.startswith("2021")
        assert next(a for a in anns if a.author == "ann").geometry == sample_geometries()["holed"]
        assert len(by_kind) == 4
        image = project.get_image(2)
        assert image.path == "images/sub dir/b é.png" and image.status is ImageStatus.DONE
        assert image.attributes == {"exif_orientation": 6}
        assert project.get_category(9).attributes == {"trainId": 255} and not project.get_category(9).is_thing


def test_bulk_load_equals_row_by_row_reads(tmp_path: Path) -> None:
    with build_full_project(tmp_path / "p.segproj") as project:
        bulk = project.annotations()
        per_image = [a for image in project.images() for a in project.annotations(image.id)]
        assert bulk == per_image
        assert [project.get_annotation(a.id) for a in bulk] == bulk
        assert pickle.loads(pickle.dumps(bulk)) == bulk  # rings are views of one buffer: still picklable
        assert copy.deepcopy(bulk) == bulk and bulk[0].with_changes(z_order=9).z_order == 9
        grouped = project.annotations_by_image()
        assert sorted(grouped) == [1, 2] and sum(len(v) for v in grouped.values()) == len(bulk)
        assert [a.z_order for a in grouped[1]] == sorted(a.z_order for a in grouped[1])


def test_geometry_blob_round_trip() -> None:
    geometries = list(sample_geometries().values())
    blobs = [encode_geometry(g) for g in geometries]
    assert [decode_geometry(b) for b in blobs] == geometries
    assert decode_geometries(blobs + blobs[1:2]) == geometries + geometries[1:2]
    assert decode_geometry(json.dumps(geometry_to_json(geometries[2]))) == geometries[2]  # schema 1 text
    ring = decode_geometries([blobs[1]])[0].parts[0].exterior
    assert ring.dtype == np.float64 and not ring.flags.writeable
    with pytest.raises(CorruptProjectError, match="damaged geometry"):
        decode_geometry(b"\x09\x01\x00\x00\x00\x00\x00\x00")


def test_images_are_referenced_relative_to_the_project_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    image_file = tmp_path / "data" / "x.png"
    image_file.write_bytes(b"")
    with Project.create(tmp_path / "p.segproj") as project:
        stored = project.add_images([Image(0, str(image_file), 10, 10), Image(0, "data/missing.png", 10, 10)])
        assert stored[0].path == "data/x.png"
        assert project.image_path(stored[0]) == image_file.resolve()
        assert [i.path for i in project.missing_images()] == ["data/missing.png"]
        with pytest.raises(StoreError, match="data/x.png"):
            project.add_images([Image(0, "data/x.png", 10, 10)])  # the same path twice


def test_counts_by_category_and_kind(tmp_path: Path) -> None:
    with build_full_project(tmp_path / "p.segproj") as project:
        assert project.annotation_counts_by_category() == {1: 3, 5: 1, 9: 1}
        assert project.annotation_counts_by_kind() == {"box": 1, "polygon": 3, "mask": 1}
        assert project.counts()["status"]["done"] == 1


# ------------------------------------------------------------------------------ undo / redo
def test_undo_redo_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "p.segproj"
    with build_full_project(path) as project:
        start = snapshot(project)
        added = project.execute(AddAnnotation(Annotation(0, 1, 1, Box(1, 1, 9, 9))))
        project.execute(UpdateAnnotation(added.annotation.id, {"geometry": Box(2, 2, 8, 8), "category_id": 5}, "Move box"))
        project.execute(SetImageStatus(1, ImageStatus.DONE))
        project.execute(UpdateCategory(Category(5, "dirt", "#123456")))
        after = snapshot(project)
    with Project.open(path) as project:
        assert project.undo_label() == "Edit class dirt"
        assert [project.undo() for _ in range(4)] == ["Edit class dirt", "Mark image done", "Move box", "Add box"]
        assert project.undo() is None  # the set-up used bulk writes, which are not undoable
    with Project.open(path) as project:
        assert snapshot(project)["annotations"] == start["annotations"]
        assert project.categories() == start["categories"]
        assert project.get_image(1).status is ImageStatus.NEW
        assert project.redo_label() == "Add box"
        for _ in range(4):
            project.redo()
        assert project.redo() is None
    with Project.open(path) as project:
        now = snapshot(project)
        assert now["categories"] == after["categories"] and now["images"] == after["images"]
        strip = lambda anns: [a.with_changes(modified="") for a in anns]  # noqa: E731 - redo re-stamps
        assert strip(now["annotations"]) == strip(after["annotations"])


def test_new_edit_clears_redo_tail(new_project: Project) -> None:
    new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(0, 0, 1, 1))))
    new_project.undo()
    assert new_project.redo_label() == "Add box"
    new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(0, 0, 2, 2))))
    assert new_project.redo_label() is None
    assert new_project.redo() is None


def test_undo_of_delete_category_restores_its_place(new_project: Project) -> None:
    new_project.execute(AddCategory(Category(0, "third", "#0000ff")))
    assert [c.name for c in new_project.categories()] == ["cell", "debris", "third"]
    new_project.execute(DeleteCategory(2))
    assert [c.name for c in new_project.categories()] == ["cell", "third"]
    new_project.undo()
    assert [c.name for c in new_project.categories()] == ["cell", "debris", "third"]
    assert new_project.get_category(2) == Category(2, "debris", "#3cb44b")
    new_project.redo()
    assert [c.name for c in new_project.categories()] == ["cell", "third"]


def test_delete_of_a_used_category_is_refused_and_changes_nothing(new_project: Project) -> None:
    new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(0, 0, 1, 1))))
    before = snapshot(new_project)
    with pytest.raises(StoreError, match="still used"):
        new_project.execute(DeleteCategory(1))
    assert snapshot(new_project) == before


def test_a_failing_batch_is_rolled_back_whole(new_project: Project) -> None:
    before = snapshot(new_project)
    batch = Batch((AddAnnotation(Annotation(0, 1, 1, Box(0, 0, 1, 1))), DeleteAnnotation(999)), "Broken")
    with pytest.raises(NotFoundError, match="999"):
        new_project.execute(batch)
    assert snapshot(new_project) == before


def test_undo_and_redo_of_delete_annotation_keep_the_id(new_project: Project) -> None:
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 2, Polygon.from_points([[0, 0], [4, 0], [0, 4]]))))
    original = new_project.get_annotation(done.annotation.id)
    new_project.execute(DeleteAnnotation(original.id))
    with pytest.raises(NotFoundError):
        new_project.get_annotation(original.id)
    new_project.undo()
    assert new_project.get_annotation(original.id) == original


def test_revision_counts_annotation_changes(new_project: Project) -> None:
    start = new_project.revision
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(0, 0, 1, 1))))
    new_project.execute(UpdateAnnotation(done.annotation.id, {"z_order": 3}))
    new_project.undo()
    assert new_project.revision == start + 3
    new_project.execute(SetImageStatus(1, ImageStatus.DONE))  # not an annotation change
    assert new_project.revision == start + 3


def test_transaction_groups_bulk_writes(new_project: Project) -> None:
    def write_then_fail() -> None:
        with new_project.transaction():
            new_project.add_annotations([Annotation(0, 1, 1, Box(0, 0, 1, 1))])
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        write_then_fail()
    assert new_project.annotations() == []


def test_readonly_project_refuses_writes(new_project: Project) -> None:
    with Project.open(new_project.path, readonly=True) as readonly:
        with pytest.raises(StoreError, match="read-only"):
            readonly.execute(SetImageStatus(1, ImageStatus.DONE))
        assert readonly.images() == new_project.images()


# ------------------------------------------------------------------------------ bad files
def test_create_refuses_an_existing_file_and_a_missing_folder(tmp_path: Path) -> None:
    existing = tmp_path / "p.segproj"
    existing.write_text("x")
    with pytest.raises(StoreError, match="already exists"):
        Project.create(existing)
    with pytest.raises(StoreError, match="does not exist"):
        Project.create(tmp_path / "nope" / "p.segproj")


def test_create_with_bad_categories_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "p.segproj"
    with pytest.raises(StoreError, match="dup"):
        Project.create(path, [Category(1, "dup"), Category(2, "dup")])
    assert not path.exists()


def test_missing_project_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such project file"):
        Project.open(tmp_path / "nope.segproj")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.segproj"
    Project.create(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError, match="newer SegStudio"):
            Project.open(path, readonly=readonly)


@pytest.mark.parametrize("content", [b"", b"hello, not a database" * 100, bytes(range(256)) * 64])
def test_random_file_is_corrupt(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "p.segproj"
    path.write_bytes(content)
    with pytest.raises(CorruptProjectError, match="p.segproj"):
        Project.open(path)
    assert path.read_bytes() == content  # nothing written to it


def test_another_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(CorruptProjectError, match="not a SegStudio project"):
        Project.open(path)
    assert path.read_bytes() == before
    assert not Path(f"{path}-wal").exists()


def test_damaged_project_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "p.segproj"
    with build_full_project(path):
        pass
    data = path.read_bytes()
    truncated = tmp_path / "truncated.segproj"
    truncated.write_bytes(data[: len(data) // 3])
    def open_and_read() -> None:
        project = Project.open(truncated)
        project.annotations()  # if the header survived, reading must still fail cleanly
        project.close()

    with pytest.raises(CorruptProjectError):
        open_and_read()
    dropped = tmp_path / "dropped.segproj"
    dropped.write_bytes(data)
    db = sqlite3.connect(dropped)
    db.execute("DROP TABLE history")
    db.commit()
    db.close()
    with pytest.raises(CorruptProjectError, match="missing tables: history"):
        Project.open(dropped)


# ------------------------------------------------------------------------------ migration
def _write_schema_1_project(path: Path) -> dict[str, object]:
    """A schema-1 file as the first release wrote it (JSON geometry text, no NULL defaults)."""
    geometries = sample_geometries()
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA_V1)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO meta VALUES ('revision', '7'), ('created', '2025-01-01')")
    db.execute("INSERT INTO categories VALUES (1, 'cell', '#ff0000', '', 1, '{}', 1)")
    db.execute("INSERT INTO images VALUES (1, 'a.png', 100, 80, 'done', '{}')")
    db.execute("INSERT INTO model_versions VALUES (1, 'unet', '[1]', '{}', '{}', '', '2025', NULL, 1)")
    db.execute(
        "INSERT INTO predictions VALUES (1, 1, 1, ?, 0.75, 1, 'accepted', '2025')",
        (json.dumps(geometry_to_json(geometries["mask"])),),
    )
    rows = [
        (1, 1, 1, json.dumps(geometry_to_json(geometries["holed"])), 0, 0, "{}", "human", None, "t0", "t0", ""),
        (2, 1, 1, json.dumps(geometry_to_json(geometries["box"])), 1, 1, '{"a": 1}', "model:1", 1, "t1", "t2", "bob"),
    ]
    db.executemany("INSERT INTO annotations VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.execute("INSERT INTO history (label, forward, inverse, undone, created) VALUES ('Mark image done', ?, ?, 0, 't')",
               (json.dumps({"command": "set_image_status", "image_id": 1, "status": "done"}),
                json.dumps({"command": "set_image_status", "image_id": 1, "status": "new"})))
    db.close()
    return geometries


def test_schema_1_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.segproj"
    geometries = _write_schema_1_project(path)
    with Project.open(path, readonly=True) as readonly:  # read as it is, not migrated
        assert readonly.schema_version == 1
        old_view = snapshot(readonly)
    with Project.open(path) as project:
        assert project.schema_version == SCHEMA_VERSION
        assert snapshot(project) == old_view
        first, second = project.annotations()
        assert first.geometry == geometries["holed"] and first.attributes == {}
        assert second.geometry == geometries["box"] and second.origin_prediction_id == 1  # link kept
        assert (second.source, second.author, second.created, second.modified, second.iscrowd) == (
            "model:1", "bob", "t1", "t2", True)
        assert project.predictions()[0].geometry == geometries["mask"]
        assert project.revision == 7
        assert project.undo() == "Mark image done"
        assert project.get_image(1).status is ImageStatus.NEW
    db = sqlite3.connect(path)
    assert db.execute("SELECT count(*) FROM annotations WHERE typeof(geometry) != 'blob'").fetchone()[0] == 0
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_readonly_open_of_an_unwritable_file(new_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without write access (file or folder) the store falls back to SQLite's ``mode=ro``."""
    new_project.close()
    monkeypatch.setattr("annotations.store.project.os.access", lambda path, mode: False)
    with Project.open(new_project.path, readonly=True) as project:
        assert [i.path for i in project.images()] == ["img.png"]
        with pytest.raises(StoreError, match="read-only"):
            project.set_setting("x", 1)


def test_readonly_open_leaves_no_side_files(new_project: Project) -> None:
    new_project.close()
    with Project.open(new_project.path, readonly=True) as project:
        project.counts()
    leftovers = sorted(p.name for p in new_project.path.parent.iterdir() if p.name != new_project.path.name)
    assert leftovers == []


def test_peek_undo_and_redo_name_the_next_commands(new_project: Project) -> None:
    assert new_project.peek_undo() is None and new_project.peek_redo() is None
    done = new_project.execute(AddAnnotation(Annotation(0, 1, 1, Box(1, 1, 5, 5))))
    peeked = new_project.peek_undo()
    assert isinstance(peeked, DeleteAnnotation) and peeked.annotation_id == done.annotation.id
    new_project.undo()
    redo = new_project.peek_redo()
    assert isinstance(redo, AddAnnotation) and redo.annotation.id == done.annotation.id
    assert new_project.peek_undo() is None


def test_image_category_ids(new_project: Project) -> None:
    (second,) = new_project.add_images([Image(0, "other.png", 10, 10)])
    new_project.add_annotations([
        Annotation(0, 1, 1, Box(1, 1, 5, 5)), Annotation(0, 1, 2, Box(2, 2, 6, 6)),
        Annotation(0, 1, 1, Box(3, 3, 7, 7)), Annotation(0, second.id, 2, Box(0, 0, 1, 1)),
    ])
    assert new_project.image_category_ids() == {1: {1, 2}, second.id: {2}}


def test_a_deleted_category_id_is_never_handed_out_again(new_project: Project) -> None:
    """Model versions map class indices to category ids: reusing a deleted class's id would give
    an old version's proposals to an unrelated new class."""
    new_project.execute(DeleteCategory(2))
    added = new_project.execute(AddCategory(Category(0, "new class"))).category
    assert added.id == 3
    new_project.close()
    reopened = Project.open(new_project.path)
    assert reopened.execute(AddCategory(Category(0, "another"))).category.id == 4
    reopened.undo()  # undo/redo of an add keeps its id
    assert reopened.redo() is not None and reopened.category_by_name("another").id == 4
    reopened.close()
