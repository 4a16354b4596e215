"""Which images each model version pre-labelled, including those where it found nothing.

A prediction records the images a model found something on; an image it saw and left empty
leaves no trace, so a review would leave out its missed objects (recall overstated). The
pre-label job records every image it ran on here: one row per (model version, image) in the
``prelabelled_images`` table (schema 4; a batch adds only its own rows, never rewrites the log).
The review counts those images even without predictions.

A schema-3 file kept the log as one JSON setting; opening it read-write migrates the log into
the table (``annotations/store/schema.py``), and a read-only open still reads the setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from annotations.store.project import Project
from annotations.store.schema import PRELABELLED_SETTING

BATCH_ROWS = 10_000
"""Rows per INSERT statement batch (one transaction in all)."""


def record_prelabelled(project: Project, model_version_id: int, image_ids: Iterable[int]) -> None:
    """Add ``image_ids`` to the images ``model_version_id`` pre-labelled (joins an open
    transaction; not undoable, like predictions). Ids already recorded are kept once; ids of
    images or a version deleted meanwhile are skipped."""
    version = int(model_version_id)
    rows = [(version, int(image_id)) for image_id in image_ids]
    with project._write() as db:  # the store's own transaction helper
        for start in range(0, len(rows), BATCH_ROWS):
            db.executemany(
                "INSERT OR IGNORE INTO prelabelled_images (model_version_id, image_id) SELECT ?1, ?2 WHERE EXISTS "
                "(SELECT 1 FROM model_versions WHERE id = ?1) AND EXISTS (SELECT 1 FROM images WHERE id = ?2)",
                rows[start:start + BATCH_ROWS],
            )


def prelabelled_images(project: Project) -> dict[int, set[int]]:
    """Model version id -> ids of the images it pre-labelled (empty when nothing was recorded)."""
    out: dict[int, set[int]] = {}
    if project.schema_version < 4:  # an old file opened read-only: the log is still a setting
        return _from_setting(project)
    rows = project._db.execute(  # the store's own connection
        "SELECT model_version_id, image_id FROM prelabelled_images ORDER BY model_version_id, image_id")
    for version, image_id in rows:
        out.setdefault(int(version), set()).add(int(image_id))
    return out


def _from_setting(project: Project) -> dict[int, set[int]]:
    row = project._db.execute("SELECT value FROM meta WHERE key = ?", (PRELABELLED_SETTING,)).fetchone()
    try:
        log = json.loads(row[0]) if row else {}
    except ValueError:
        return {}
    out: dict[int, set[int]] = {}
    if isinstance(log, dict):
        for key, ids in log.items():
            if str(key).isdigit() and isinstance(ids, list):
                out[int(key)] = {int(i) for i in ids if isinstance(i, int)}
    return out
