"""The SQLite schema of a ``*.segproj`` project file and its migrations."""

from __future__ import annotations

import sqlite3
from typing import Callable

SCHEMA_VERSION = 1
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

# Migration hook: MIGRATIONS[n] upgrades a file at schema version n to n + 1 inside one
# transaction. Add an entry (and bump SCHEMA_VERSION) whenever the schema changes.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}
