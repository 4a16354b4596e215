"""Which images each model version pre-labelled, including those where it found nothing.

A prediction records the images a model found something on; an image it saw and left empty
leaves no trace, so a review would leave out its missed objects (recall overstated). The
pre-label job records every image it ran on here (a project setting, one list of image ids per
model version); the review counts those images even without predictions.
"""

from __future__ import annotations

from collections.abc import Iterable

from annotations.store.project import Project

SETTING_KEY = "prelabelled_images"
"""Project setting: ``{"<model version id>": [image id, ...]}``."""


def record_prelabelled(project: Project, model_version_id: int, image_ids: Iterable[int]) -> None:
    """Add ``image_ids`` to the images ``model_version_id`` pre-labelled (joins an open
    transaction; not undoable, like predictions)."""
    log = project.get_setting(SETTING_KEY, {}) or {}
    key = str(int(model_version_id))
    merged = sorted({int(i) for i in log.get(key, [])} | {int(i) for i in image_ids})
    log[key] = merged
    project.set_setting(SETTING_KEY, log)


def prelabelled_images(project: Project) -> dict[int, set[int]]:
    """Model version id -> ids of the images it pre-labelled (empty when nothing was recorded)."""
    log = project.get_setting(SETTING_KEY, {}) or {}
    out: dict[int, set[int]] = {}
    if isinstance(log, dict):
        for key, ids in log.items():
            if str(key).isdigit() and isinstance(ids, list):
                out[int(key)] = {int(i) for i in ids if isinstance(i, int)}
    return out
