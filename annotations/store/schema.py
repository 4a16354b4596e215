"""The SQLite schema of a ``*.segproj`` project file and its migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 4
APPLICATION_ID = 0x53454753  # "SEGS" in the SQLite header: marks the file as a SegStudio project

SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE categories (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    supercategory TEXT NOT NULL DEFAULT '',
    is_thing INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    status TEXT NOT NULL DEFAULT 'new',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    architecture TEXT NOT NULL,
    classes TEXT NOT NULL,
    trained_on TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    weights_path TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    parent_id INTEGER REFERENCES model_versions(id),
    promoted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    geometry TEXT NOT NULL,
    score REAL NOT NULL,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id),
    state TEXT NOT NULL DEFAULT 'proposed',
    created TEXT NOT NULL
);
CREATE INDEX predictions_image ON predictions(image_id);
CREATE TABLE annotations (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    geometry TEXT NOT NULL,
    z_order INTEGER NOT NULL DEFAULT 0,
    iscrowd INTEGER NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT 'human',
    origin_prediction_id INTEGER REFERENCES predictions(id) ON DELETE SET NULL,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    author TEXT NOT NULL DEFAULT ''
);
CREATE INDEX annotations_image ON annotations(image_id);
CREATE INDEX annotations_category ON annotations(category_id);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    forward TEXT NOT NULL,
    inverse TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
"""

# Schema 2 (a full load of 200,000 polygons went from ~1.8 s to under 1 s):
# - geometries are compact binary blobs (annotations/store/geometry_blob.py), not JSON text;
# - annotation columns holding their default are NULL (attributes {} , source 'human',
#   author '', modified == created): NULL costs nothing to read;
# - annotations are indexed in display order, predictions by category, the history by state.
SCHEMA_V2 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE categories (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    name TEXT NOT NULL UNIQUE,
    color TEXT NOT NULL,
    supercategory TEXT NOT NULL DEFAULT '',
    is_thing INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL DEFAULT '{}',
    position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    path TEXT NOT NULL UNIQUE,
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    status TEXT NOT NULL DEFAULT 'new',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX images_status ON images(status);
CREATE TABLE model_versions (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    architecture TEXT NOT NULL,
    classes TEXT NOT NULL,
    trained_on TEXT NOT NULL DEFAULT '{}',
    metrics TEXT NOT NULL DEFAULT '{}',
    weights_path TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    parent_id INTEGER REFERENCES model_versions(id),
    promoted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE predictions (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    geometry BLOB NOT NULL,
    score REAL NOT NULL,
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id),
    state TEXT NOT NULL DEFAULT 'proposed',
    created TEXT NOT NULL
);
CREATE INDEX predictions_image_score ON predictions(image_id, score DESC, id);
CREATE INDEX predictions_category ON predictions(category_id);
CREATE INDEX predictions_version ON predictions(model_version_id);
CREATE TABLE annotations (
    id INTEGER PRIMARY KEY CHECK (id >= 1),
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    geometry BLOB NOT NULL,
    z_order INTEGER NOT NULL DEFAULT 0,
    iscrowd INTEGER NOT NULL DEFAULT 0,
    attributes TEXT,
    source TEXT,
    origin_prediction_id INTEGER REFERENCES predictions(id) ON DELETE SET NULL,
    created TEXT NOT NULL,
    modified TEXT,
    author TEXT
);
CREATE INDEX annotations_image_order ON annotations(image_id, z_order, id);
CREATE INDEX annotations_category ON annotations(category_id);
CREATE INDEX annotations_origin ON annotations(origin_prediction_id);
CREATE TABLE history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    label TEXT NOT NULL,
    forward TEXT NOT NULL,
    inverse TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE INDEX history_undone ON history(undone, seq);
"""
# Schema 3: ignore regions (annotations/model/entities.py AnnotationRole). ``role`` is NULL for
# an object and 'ignore' for an ignore region; ``category_id`` may be NULL (class-agnostic void).
SCHEMA_V3 = SCHEMA_V2.replace(
    "    category_id INTEGER NOT NULL REFERENCES categories(id),\n    geometry BLOB NOT NULL,\n    z_order",
    "    category_id INTEGER REFERENCES categories(id),\n    geometry BLOB NOT NULL,\n    z_order",
    1,
).replace("    author TEXT\n);", "    author TEXT,\n    role TEXT CHECK (role IS NULL OR role = 'ignore')\n);", 1)
# Schema 4: which images each model version pre-labelled (annotations/store/prelabel_log.py),
# one row per (version, image) instead of a JSON list rewritten whole in a project setting.
PRELABELLED_DDL = """
CREATE TABLE prelabelled_images (
    model_version_id INTEGER NOT NULL REFERENCES model_versions(id) ON DELETE CASCADE,
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    UNIQUE (model_version_id, image_id)
);
CREATE INDEX prelabelled_images_image ON prelabelled_images(image_id);
"""
SCHEMA_V4 = SCHEMA_V3 + PRELABELLED_DDL
PRELABELLED_SETTING = "setting:prelabelled_images"
"""Where schema 3 kept the log: a meta row, JSON ``{"<model version id>": [image id, ...]}``."""
# Which images have a shape of a class, from an index alone (the images panel's class filter: one
# range scan, no table row read; Project.image_ids_with_category). An index is no change of the
# file format, so no new schema version (an older SegStudio opens the file as before): a file
# made before it gets it when opened for writing (Project.open, ADDED_INDEXES).
CATEGORY_IMAGE_INDEX = "annotations_category_image"
CATEGORY_IMAGE_DDL = f"""
CREATE INDEX IF NOT EXISTS {CATEGORY_IMAGE_INDEX} ON annotations(category_id, image_id);
"""
ADDED_INDEXES = {CATEGORY_IMAGE_INDEX: CATEGORY_IMAGE_DDL}
"""Indexes added after schema 4 (name -> DDL): created on a writable open where missing."""
SCHEMA_LATEST = SCHEMA_V4 + CATEGORY_IMAGE_DDL
"""The DDL of a new project file (schema :data:`SCHEMA_VERSION`)."""


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """Rebuild annotations (blob geometry, NULL defaults) and predictions (blob geometry);
    add the new indexes. Runs inside the caller's transaction."""
    from annotations.store.geometry_blob import decode_geometry, encode_geometry

    def blob(text: str | bytes) -> bytes:
        return text if isinstance(text, bytes) else encode_geometry(decode_geometry(text))

    db.create_function("segstudio_geometry_blob", 1, blob, deterministic=True)
    v2 = dict(_statements(SCHEMA_V2))
    for table in ("annotations", "predictions"):
        db.execute(v2[f"table {table}"].replace(f"CREATE TABLE {table}", f"CREATE TABLE {table}_v2", 1))
    db.execute(
        "INSERT INTO annotations_v2 SELECT id, image_id, category_id, segstudio_geometry_blob(geometry), z_order, "
        "iscrowd, nullif(attributes, '{}'), nullif(source, 'human'), origin_prediction_id, created, "
        "nullif(modified, created), nullif(author, '') FROM annotations"
    )
    db.execute(
        "INSERT INTO predictions_v2 SELECT id, image_id, category_id, segstudio_geometry_blob(geometry), score, "
        "model_version_id, state, created FROM predictions"
    )
    # annotations references predictions: drop it first, then predictions.
    db.execute("DROP TABLE annotations")
    db.execute("DROP TABLE predictions")
    db.execute("ALTER TABLE predictions_v2 RENAME TO predictions")
    db.execute("ALTER TABLE annotations_v2 RENAME TO annotations")
    for name, ddl in _statements(SCHEMA_V2):
        if name.startswith("index "):
            db.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """Rebuild annotations with a nullable ``category_id`` and the ``role`` column (every
    existing shape stays an object). Runs inside the caller's transaction."""
    v3 = dict(_statements(SCHEMA_V3))
    db.execute(v3["table annotations"].replace("CREATE TABLE annotations", "CREATE TABLE annotations_v3", 1))
    db.execute(
        "INSERT INTO annotations_v3 SELECT id, image_id, category_id, geometry, z_order, iscrowd, attributes, source, "
        "origin_prediction_id, created, modified, author, NULL FROM annotations"
    )
    db.execute("DROP TABLE annotations")
    db.execute("ALTER TABLE annotations_v3 RENAME TO annotations")
    for name, ddl in _statements(SCHEMA_V3):
        if name.startswith("index annotations"):
            db.execute(ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))


def _migrate_3_to_4(db: sqlite3.Connection) -> None:
    """Move the pre-label log from its JSON setting into the ``prelabelled_images`` table (ids
    of versions or images deleted since are dropped: nothing refers to them). Runs inside the
    caller's transaction."""
    import json

    run_script(db, PRELABELLED_DDL)
    row = db.execute("SELECT value FROM meta WHERE key = ?", (PRELABELLED_SETTING,)).fetchone()
    try:
        log = json.loads(row[0]) if row else {}
    except ValueError:
        log = {}
    pairs = [(int(version), int(image_id))
             for version, ids in (log.items() if isinstance(log, dict) else ())
             if str(version).isdigit() and isinstance(ids, list)
             for image_id in ids if isinstance(image_id, int) and not isinstance(image_id, bool)]
    db.executemany(
        "INSERT OR IGNORE INTO prelabelled_images (model_version_id, image_id) SELECT ?1, ?2 "
        "WHERE EXISTS (SELECT 1 FROM model_versions WHERE id = ?1) AND EXISTS (SELECT 1 FROM images WHERE id = ?2)",
        pairs,
    )
    db.execute("DELETE FROM meta WHERE key = ?", (PRELABELLED_SETTING,))


def _statements(script: str) -> list[tuple[str, str]]:
    """``[("table annotations" | "index history_undone" | ..., statement)]`` of a DDL script."""
    out = []
    for statement in script.split(";"):
        words = statement.split()
        if len(words) >= 3 and words[0] == "CREATE":
            out.append((f"{words[1].lower()} {words[2]}", statement.strip()))
    return out


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements one by one (unlike ``executescript`` this does not commit
    an open transaction, so a migration stays all-or-nothing)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


TABLES = frozenset({"meta", "categories", "images", "model_versions", "predictions", "annotations", "history"})
"""The tables every project file has."""


# Migration hook: MIGRATIONS[n] upgrades a file at schema version n to n + 1 inside one
# transaction. Add an entry (and bump SCHEMA_VERSION) whenever the schema changes.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2, 2: _migrate_2_to_3, 3: _migrate_3_to_4}
