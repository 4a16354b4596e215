"""What ``main.py info`` says about model assistance (torch-free): which classes each model can
propose before any training (pretrained weights that know a project class by name), and the
unfinished pre-labeled images in review order (worst first, :mod:`engine.priority`)."""

from __future__ import annotations

from typing import Any

from annotations.store import Project
from engine.pretrained_classes import proposable
from engine.priority import read_priorities, worst_first

REVIEW_LINES = 10


def assist_summary(project: Project) -> dict[str, Any]:
    """Keys for ``info --json``: ``before_training`` (per model whose pretrained weights know
    some project classes: model, dataset, classes, weights_on_disk) and ``review_order`` (the
    unfinished pre-labeled images, highest priority first: image_id, priority)."""
    names = [c.name for c in project.categories()]
    before = [{"model": z.model, "dataset": z.dataset, "classes": list(z.classes), "weights_on_disk": z.on_disk}
              for z in proposable(names)]
    priorities = read_priorities(project)
    unfinished = [i.id for i in project.images() if not i.status.is_finished and i.id in priorities]
    order = [{"image_id": i, "priority": priorities[i]} for i in worst_first(unfinished, priorities)]
    return {"before_training": before, "review_order": order}


def assist_lines(summary: dict[str, Any]) -> list[str]:
    """The text lines of :func:`assist_summary`'s keys."""
    lines = []
    before = summary.get("before_training") or []
    if before:
        on_disk = [b for b in before if b["weights_on_disk"]]
        best = (on_disk or before)[0]
        where = "weights on disk" if best["weights_on_disk"] else f"fetch: main.py weights fetch {best['model']}"
        lines.append(f"before training {best['model']} ({best['dataset'].upper()}) can propose "
                     f"{', '.join(best['classes'])}  ({where}; {len(before)} models know these names)")
    else:
        lines.append("before training no pretrained weights know these class names; train on finished images")
    order = summary.get("review_order") or []
    if order:
        shown = ", ".join(f"{o['image_id']} ({o['priority']:.2f})" for o in order[:REVIEW_LINES])
        lines.append(f"review first {shown}" + (" ..." if len(order) > REVIEW_LINES else ""))
    return lines
