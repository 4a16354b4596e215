"""The pre-label log as a table (schema 4): each batch adds its own rows (nothing rewritten), the
rows follow deleted images and versions, and a schema-3 file (the log as one JSON setting)
still opens: read-only as it is, read-write migrated with its log intact."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from annotations.model import Category, Image, ModelVersion
from annotations.store import SCHEMA_VERSION, Project
from annotations.store.prelabel_log import prelabelled_images, record_prelabelled
from annotations.store.schema import APPLICATION_ID, SCHEMA_V3


def _project(tmp_path: Path, images: int = 3) -> tuple[Project, list[Image], ModelVersion]:
    project = Project.create(tmp_path / "log.segproj", [Category(1, "cell", "#ff0000")])
    added = project.add_images([Image(0, f"{k}.png", 64, 48) for k in range(images)])
    version = project.add_model_version(ModelVersion(0, "unet", (1,)))
    return project, added, version


def _statement_log(project: Project) -> list[str]:
    statements: list[str] = []
    project._db.set_trace_callback(statements.append)  # watching what a batch writes
    return statements


def test_a_batch_inserts_its_own_rows_and_never_rewrites_the_log(tmp_path: Path) -> None:
    project, images, version = _project(tmp_path, images=3)
    record_prelabelled(project, version.id, [images[0].id, images[1].id])
    statements = _statement_log(project)
    record_prelabelled(project, version.id, [images[1].id, images[2].id])  # one id seen before
    project._db.set_trace_callback(None)
    assert prelabelled_images(project) == {version.id: {i.id for i in images}}
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "REPLACE"))]
    assert writes and all("prelabelled_images" in s and "meta" not in s.split("WHERE")[0] for s in writes)
    assert project.get_setting("prelabelled_images") is None  # no JSON copy
    project.close()


def test_rows_follow_deleted_images_and_versions_and_unknown_ids_are_skipped(tmp_path: Path) -> None:
    project, images, version = _project(tmp_path, images=2)
    other = project.add_model_version(ModelVersion(0, "unet", (1,)))
    record_prelabelled(project, version.id, [images[0].id, images[1].id, 999])  # 999: no such image
    record_prelabelled(project, other.id, [images[0].id])
    record_prelabelled(project, 555, [images[0].id])  # no such version
    assert prelabelled_images(project) == {version.id: {images[0].id, images[1].id}, other.id: {images[0].id}}
    project._db.execute("DELETE FROM images WHERE id = ?", (images[1].id,))  # a removal by any path
    assert prelabelled_images(project) == {version.id: {images[0].id}, other.id: {images[0].id}}
    project.close()


def _schema_3_file(path: Path, log: object) -> Path:
    db = sqlite3.connect(path, isolation_level=None)
    for statement in SCHEMA_V3.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO meta VALUES ('revision', '2'), ('created', '2026')")
    db.execute("INSERT INTO categories VALUES (1, 'cell', '#ff0000', '', 1, '{}', 1)")
    for image_id in (1, 2, 3):
        db.execute("INSERT INTO images VALUES (?, ?, 64, 48, 'new', '{}')", (image_id, f"{image_id}.png"))
    for version_id in (1, 2):
        db.execute("INSERT INTO model_versions (id, architecture, classes, trained_on, metrics, weights_path, created) "
                   "VALUES (?, 'unet', '[1]', '{}', '{}', '', 't0')", (version_id,))
    db.execute("INSERT INTO meta VALUES ('setting:prelabelled_images', ?)", (json.dumps(log),))
    db.execute("INSERT INTO meta VALUES ('setting:gui.last_image_id', '2')")
    db.close()
    return path


def test_a_schema_3_project_opens_read_only_as_it_is_and_migrates_its_log(tmp_path: Path) -> None:
    # version 9 and image 7 were deleted after they were logged: they have nothing to refer to
    path = _schema_3_file(tmp_path / "v3.segproj", {"1": [1, 2, 7], "2": [3], "9": [1]})
    with Project.open(path, readonly=True) as old:
        assert old.schema_version == 3
        assert prelabelled_images(old) == {1: {1, 2, 7}, 2: {3}, 9: {1}}
    with Project.open(path) as project:
        assert project.schema_version == SCHEMA_VERSION == 4
        assert prelabelled_images(project) == {1: {1, 2}, 2: {3}}
        assert project.get_setting("prelabelled_images") is None  # moved, not copied
        assert project.get_setting("gui.last_image_id") == 2  # other settings untouched
        record_prelabelled(project, 2, [1])
    with Project.open(path) as again:
        assert prelabelled_images(again) == {1: {1, 2}, 2: {1, 3}}


@pytest.mark.parametrize("log", [None, [], "garbage", {"x": [1], "1": "no list"}])
def test_a_malformed_schema_3_log_migrates_to_an_empty_table(tmp_path: Path, log: object) -> None:
    path = _schema_3_file(tmp_path / "v3.segproj", log)
    with Project.open(path) as project:
        assert project.schema_version == 4 and prelabelled_images(project) == {}
