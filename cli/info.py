"""``python main.py info PROJECT [--json]``: counts, classes and model versions of a project."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from annotations.store import Project
from cli.assist_info import assist_lines, assist_summary


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``info`` parser."""
    parser = subparsers.add_parser("info", help="print counts, classes and model versions of a project")
    parser.add_argument("project", type=Path, help="a project file (*.segproj)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def project_summary(project: Project) -> dict[str, Any]:
    """The ``info --json`` object.

    Keys: ``path``, ``images``, ``annotations``, ``predictions``, ``categories``,
    ``model_versions`` (counts), ``status`` ({status: image count}), ``revision``,
    ``missing_images`` (count of image files not on disk), ``classes`` (per category: id, name,
    color, annotations), ``kinds`` ({box|polygon|mask: annotation count}) and ``versions``
    (per model version: id, architecture, created, promoted, parent_id, classes, metrics) and
    ``promoted_versions`` ({architecture: id of its newest promoted version}).
    """
    summary: dict[str, Any] = {"path": str(project.path)}
    summary.update(project.counts())
    summary["revision"] = project.revision
    summary["missing_images"] = len(project.missing_images())
    per_category = project.annotation_counts_by_category()
    summary["classes"] = [
        {"id": c.id, "name": c.name, "color": c.color, "annotations": per_category.get(c.id, 0)}
        for c in project.categories()
    ]
    summary["kinds"] = project.annotation_counts_by_kind()
    summary["versions"] = [
        {
            "id": v.id,
            "architecture": v.architecture,
            "created": v.created,
            "promoted": v.promoted,
            "parent_id": v.parent_id,
            "classes": list(v.classes),
            "metrics": v.metrics,
        }
        for v in project.model_versions()
    ]
    summary["promoted_versions"] = promoted_versions(summary["versions"])
    summary.update(assist_summary(project))  # model assistance: classes before training, review order
    return summary


def promoted_versions(versions: list[dict[str, Any]]) -> dict[str, int]:
    """Architecture -> id of its newest promoted version (the one pre-label and train use)."""
    out: dict[str, int] = {}
    for v in sorted(versions, key=lambda v: v["id"]):
        if v["promoted"]:
            out[str(v["architecture"])] = int(v["id"])
    return out


def format_summary(summary: dict[str, Any]) -> str:
    """The human-readable form of :func:`project_summary`."""
    lines = [
        f"project      {summary['path']}",
        f"images       {summary['images']}"
        + (f"  ({summary['missing_images']} missing on disk)" if summary["missing_images"] else ""),
        "status       " + ", ".join(f"{name} {n}" for name, n in summary["status"].items()),
        f"annotations  {summary['annotations']}  ("
        + ", ".join(f"{kind} {n}" for kind, n in summary["kinds"].items())
        + ")",
        f"predictions  {summary['predictions']}",
        f"revision     {summary['revision']}",
        f"classes      {summary['categories']}",
    ]
    width = max((len(c["name"]) for c in summary["classes"]), default=0)
    for c in summary["classes"]:
        lines.append(f"  {c['id']:>4}  {c['name']:<{width}}  {c['color']}  {c['annotations']} annotations")
    lines.append(f"model versions {summary['model_versions']}")
    in_use = summary.get("promoted_versions") or {}
    lines.append("promoted     " + (", ".join(f"v{vid} ({arch})" for arch, vid in in_use.items())
                                  if in_use else "none (pre-label and train use the pretrained weights)"))
    for v in summary["versions"]:
        mark = "  (promoted)" if v["promoted"] else ""
        parent = f", from v{v['parent_id']}" if v["parent_id"] else ""
        lines.append(f"  v{v['id']}  {v['architecture']}  {v['created']}{parent}{mark}")
    lines += assist_lines(summary)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the summary; an unreadable project raises (exit code 2)."""
    with Project.open(args.project, readonly=True) as project:
        summary = project_summary(project)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
