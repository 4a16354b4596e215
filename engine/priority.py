"""Fix the worst first: a review priority per pre-labeled image from the model's uncertainty.

Torch-free (the CLI and the GUI's session code may read it; the app itself can read the stored
setting directly, see :data:`PRIORITY_SETTING`).

* Instance and box models: the mean ambiguity ``1 - |2 s - 1|`` of the candidate scores ``s``
  (every detection scoring at least :data:`CANDIDATE_SCORE`, stored or not): 0 when every
  candidate is near 0 or 1, 1 when all sit at 0.5. An image with no candidate at all gets
  :data:`NOTHING_FOUND` (the model may be missing everything).
* Semantic models: the share of pixels whose two most likely classes are within
  :data:`MARGIN` of each other (low-confidence area).

Stored by the pre-label job in the project setting ``prelabel_priority`` as
``{"<image id>": priority}`` (priority in [0, 1], higher = review first); an image loses its
entry when it is finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

PRIORITY_SETTING = "prelabel_priority"
CANDIDATE_SCORE = 0.1
NOTHING_FOUND = 0.5
MARGIN = 0.25


class SettingsStore(Protocol):
    """The part of ``annotations.store.Project`` used here."""

    def get_setting(self, key: str, default: object = None) -> object: ...

    def set_setting(self, key: str, value: object) -> None: ...


def detection_priority(scores: Iterable[float], *, candidate_score: float = CANDIDATE_SCORE) -> float:
    """Priority in [0, 1] of an image from its detection scores (each in [0, 1])."""
    candidates = [float(s) for s in scores if s >= candidate_score]
    if not candidates:
        return NOTHING_FOUND
    return sum(1.0 - abs(2.0 * s - 1.0) for s in candidates) / len(candidates)


def semantic_priority(uncertain_fraction: float) -> float:
    """Priority in [0, 1] of a semantic prediction: its share of low-margin pixels."""
    return min(max(float(uncertain_fraction), 0.0), 1.0)


def read_priorities(project: SettingsStore) -> dict[int, float]:
    """{image id: priority} of the pre-labeled images (empty when none was stored)."""
    raw = project.get_setting(PRIORITY_SETTING, {})
    if not isinstance(raw, Mapping):
        return {}
    out: dict[int, float] = {}
    for key, value in raw.items():
        if str(key).isdigit() and isinstance(value, (int, float)):
            out[int(key)] = float(value)
    return out


def write_priorities(project: SettingsStore, priorities: Mapping[int, float],
                     finished_ids: Iterable[int] = ()) -> None:
    """Merge ``priorities`` into the stored ones and drop the entries of ``finished_ids``."""
    merged = read_priorities(project)
    merged.update({int(k): round(float(v), 4) for k, v in priorities.items()})
    for image_id in finished_ids:
        merged.pop(int(image_id), None)
    project.set_setting(PRIORITY_SETTING, {str(k): v for k, v in sorted(merged.items())})


def worst_first(image_ids: Sequence[int], priorities: Mapping[int, float]) -> list[int]:
    """``image_ids`` ordered by priority, highest first; images without one keep their order
    after those with one."""
    ranked = sorted((i for i in image_ids if i in priorities), key=lambda i: (-priorities[i], i))
    return ranked + [i for i in image_ids if i not in priorities]
