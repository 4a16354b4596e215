"""``python main.py status PROJECT --set new|in_progress|done|reviewed (--images ID... |
--files GLOB | --all | --where annotated)``.

Sets the workflow status of many images at once, as ONE undoable step (the GUI's Undo takes it
back). Without ``--set`` it only lists how many images each selector picks. ``--files`` matches
the image's stored path (relative to the project file) or its file name, ``*`` and ``?`` as in
the shell. ``--where annotated`` picks images with at least one shape (ignore regions do not
count).
"""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path, PurePosixPath

from annotations.model import ImageStatus, set_images_status
from annotations.store import Project
from cli.errors import UsageError

SETTABLE = (ImageStatus.NEW, ImageStatus.IN_PROGRESS, ImageStatus.DONE, ImageStatus.REVIEWED)
WHERE = ("annotated", "empty")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``status`` parser."""
    parser = subparsers.add_parser(
        "status", help="set the status (new, in progress, done, reviewed) of many images at once (undoable)"
    )
    parser.add_argument("project", type=Path, help="a project file (*.segproj)")
    parser.add_argument("--set", dest="status", choices=[s.value for s in SETTABLE], default=None,
                        help="the status to set (without it: print the status counts of the selection)")
    pick = parser.add_mutually_exclusive_group()
    pick.add_argument("--images", type=int, nargs="+", metavar="ID", help="image ids")
    pick.add_argument("--files", nargs="+", metavar="GLOB", help="path or file-name patterns, e.g. 'train/*.png'")
    pick.add_argument("--all", action="store_true", help="every image")
    pick.add_argument("--where", choices=WHERE, help="annotated: images with shapes; empty: images without")
    parser.set_defaults(func=run)


def select_image_ids(project: Project, args: argparse.Namespace) -> list[int]:
    """The ids (ascending) the selector of ``args`` picks. Raises :class:`UsageError` for an
    unknown id or a pattern that matches nothing (a typo should not silently do nothing)."""
    images = project.images()
    if args.all:
        return [im.id for im in images]
    if args.images:
        known = {im.id for im in images}
        unknown = [i for i in args.images if i not in known]
        if unknown:
            raise UsageError(f"{args.project}: no image with id {', '.join(map(str, unknown[:10]))}")
        return sorted(set(args.images))
    if args.files:
        chosen: list[int] = []
        for pattern in args.files:
            hits = [im.id for im in images
                    if fnmatch.fnmatchcase(im.path, pattern) or fnmatch.fnmatchcase(PurePosixPath(im.path).name, pattern)]
            if not hits:
                raise UsageError(f"{args.project}: no image path or file name matches {pattern!r}")
            chosen.extend(hits)
        return sorted(set(chosen))
    if args.where:
        annotated = {a.image_id for a in project.annotations() if not a.is_ignore}
        want = args.where == "annotated"
        return [im.id for im in images if (im.id in annotated) == want]
    raise UsageError("choose the images: --images ID..., --files GLOB..., --all or --where annotated")


def run(args: argparse.Namespace) -> int:
    """Set (or, without ``--set``, count) the status of the selected images; prints a summary."""
    if not args.project.is_file():
        raise UsageError(f"{args.project}: no such project file")
    readonly = args.status is None
    with Project.open(args.project, readonly=readonly) as project:
        if readonly and not (args.all or args.images or args.files or args.where):
            args.all = True
        ids = select_image_ids(project, args)
        if readonly:
            by_id = {im.id: im for im in project.images()}
            counts: dict[str, int] = {}
            for image_id in ids:
                counts[by_id[image_id].status.value] = counts.get(by_id[image_id].status.value, 0) + 1
            print(f"{len(ids)} images: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))
            return 0
        status = ImageStatus(args.status)
        with project.transaction():
            batch = set_images_status(project, ids, status)
            if batch.commands:
                project.execute(batch)
    unchanged = len(ids) - len(batch.commands)
    print(f"marked {len(batch.commands)} images {status.value}"
          + (f" ({unchanged} already were)" if unchanged else "") + " in one undoable step")
    return 0
