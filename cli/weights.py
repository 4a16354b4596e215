"""``python main.py weights list`` and ``python main.py weights fetch NAME [--from URL|FILE]
[--mirror URL]``: which pretrained weights each model can start from, and fetching them into
torchvision's cache (the only command that touches the network, and only when asked).

``fetch`` prints machine-readable progress lines on stdout when ``--progress-lines`` is given
(``progress BYTES_DONE BYTES_TOTAL|-``), which the GUI's weights dialog parses.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``weights`` parser with its ``list`` and ``fetch`` actions."""
    parser = subparsers.add_parser("weights", help="list or fetch pretrained weights (torchvision's cache)")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each model: what it can start from, on disk or not, size, licence")
    listing.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    listing.add_argument("--project", type=Path, default=None,
                         help="also say which of this project's classes each model can propose before training")
    listing.set_defaults(func=run_list)
    fetch = actions.add_parser("fetch", help="download (or copy) a weight file into torchvision's cache")
    fetch.add_argument("name", help="a weight name from `weights list` (or a model name: its pretrained weights)")
    fetch.add_argument("--from", dest="source", default=None, metavar="URL|FILE",
                       help="fetch from this URL or copy this local file instead of the official URL")
    fetch.add_argument("--mirror", default=None, metavar="URL",
                       help="base URL of a mirror (default: $SEGSTUDIO_WEIGHTS_MIRROR; else the official host)")
    fetch.add_argument("--progress-lines", action="store_true",
                       help="print 'progress DONE TOTAL' lines on stdout (for the GUI) instead of a bar")
    fetch.set_defaults(func=run_fetch)


def _size(size_bytes: int | None) -> str:
    return "?" if size_bytes is None else f"{size_bytes / 1e6:.0f} MB"


def listing(project_classes: list[str] | None = None) -> dict[str, Any]:
    """The ``weights list --json`` object: ``weights`` (per file: name, file, on_disk, path,
    size_bytes, licence, description) and ``models`` (per registry model: name, starts_from
    (weight names it can start from, best first), on_disk (the first of those on disk or
    None), classes_before_training (the names it can propose with no training), and with
    ``project_classes``: project_classes_before_training (those of the project's classes))."""
    from engine.models import weight_files as F
    from engine.models.registry import get_spec, names
    from engine.models.weights import weight_categories

    files = F.catalogue()
    weights = [
        {"name": f.name, "file": f.filename, "on_disk": F.is_cached(f), "path": str(F.cache_path(f)),
         "size_bytes": f.size_bytes, "licence": f.licence, "description": f.description}
        for f in files
    ]
    by_name = {f.name: f for f in files}
    models = []
    for model in names():
        spec = get_spec(model)
        starts: list[str] = []
        if spec.weights:
            starts.append(F.model_weight_name(model))
        if spec.backbone_weights and spec.backbone_prefixes:
            starts.append(F.backbone_weight_name(spec.backbone_weights))
        on_disk = next((s for s in starts if s in by_name and F.is_cached(by_name[s])), None)
        classes = [c for c in weight_categories(spec.weights)[1:] if c and c != "N/A"] if spec.weights else []
        row: dict[str, Any] = {"name": model, "starts_from": starts, "on_disk": on_disk,
                               "classes_before_training": classes}
        if project_classes is not None:
            known = {c.lower().replace("_", " ") for c in classes}
            row["project_classes_before_training"] = [c for c in project_classes
                                                      if c.lower().replace("_", " ") in known]
        models.append(row)
    return {"weights": weights, "models": models}


def run_list(args: argparse.Namespace) -> int:
    """Print the listing."""
    names = None
    if args.project is not None:
        from annotations.store import Project

        with Project.open(args.project, readonly=True) as project:
            names = [c.name for c in project.categories()]
    data = listing(names)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print("models (what each can start from; * = on disk):")
    for m in data["models"]:
        starts = ", ".join(f"{s}{'*' if s == m['on_disk'] else ''}" for s in m["starts_from"]) or "scratch only"
        known = m.get("project_classes_before_training")
        extra = f"  proposes before training: {', '.join(known)}" if known else ""
        print(f"  {m['name']:<40} {starts}{extra}")
    print("\nweight files:")
    width = max(len(w["name"]) for w in data["weights"])
    for w in data["weights"]:
        state = "on disk " if w["on_disk"] else "not here"
        print(f"  {w['name']:<{width}}  {state}  {_size(w['size_bytes']):>7}  {w['licence']:<13} {w['description']}")
    print("\nfetch one with: python main.py weights fetch NAME   (mirror: --mirror URL or $SEGSTUDIO_WEIGHTS_MIRROR)")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch one file; print where it went."""
    from engine.console import ProgressBar
    from engine.models import weight_files as F

    # A terminated fetch (the GUI's cancel sends SIGTERM) unwinds, so no partial file is left.
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    spec = F.find(args.name)
    origin = args.source or F.mirror_url(spec, args.mirror)
    print(f"fetching {spec.name} ({_size(spec.size_bytes)}, licence {spec.licence}) from {origin}",
          file=sys.stderr)
    if args.progress_lines:
        def report(done: int, total: int | None) -> None:
            print(f"progress {done} {total if total is not None else '-'}", flush=True)

        path = F.fetch(spec, args.source, mirror=args.mirror, progress=report)
    else:
        bar = ProgressBar(label="fetch ")
        try:
            path = F.fetch(spec, args.source, mirror=args.mirror,
                           progress=lambda d, t: bar.update(d, t or 0, f"{d / 1e6:.1f} MB"))
        finally:
            bar.close()
    print(f"stored {spec.name} at {path}")
    return 0


def _exit_on_terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"terminated by signal {signum}; nothing was stored")
