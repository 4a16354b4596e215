"""``python main.py import PROJECT --format coco|voc|cityscapes|labelme SRC``.

SRC is a COCO JSON file, a VOC folder, a Cityscapes folder (with ``gtFine/``), or a labelme
JSON file or folder. The project is created when it does not exist. Everything is checked
before anything is stored; a bad file changes nothing (exit code 2 with the file and item).
"""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("coco", "voc", "cityscapes", "labelme")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="import COCO, VOC, Cityscapes or labelme annotations into a project")
    parser.add_argument("project", type=Path, help="a .segproj file (created if missing)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="format_name")
    parser.add_argument("source", type=Path, help="the file or folder to import")
    parser.add_argument("--images", type=Path, default=None, help="COCO: the folder file_name is relative to (default: searched)")
    parser.add_argument("--add-labels", action="store_true", help="add labels the project does not have (default: only into a project without categories)")
    parser.add_argument("--allow-missing-images", action="store_true", help="record images whose file is absent (sizes must be in the annotations)")
    parser.add_argument("--allow-duplicates", action="store_true", help="store shapes an image already has (same class and geometry); by default importing the same source twice is refused")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from annotations.formats import ImportOptions, import_into
    from annotations.store import Project
    from cli.errors import UsageError

    if not args.source.exists():
        raise UsageError(f"{args.source}: no such file or folder")
    if args.images is not None and args.format_name != "coco":
        raise UsageError("--images is only for --format coco")
    options = ImportOptions(
        add_labels=True if args.add_labels else None,
        allow_missing_images=args.allow_missing_images,
        allow_duplicates=args.allow_duplicates,
    )
    format_options = {"images_root": args.images} if args.images is not None else {}
    created = not args.project.exists()
    project = Project.create(args.project) if created else Project.open(args.project)
    try:
        report = import_into(project, args.format_name, args.source, options, **format_options)
    except BaseException:
        project.close()
        if created:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.project}{suffix}").unlink(missing_ok=True)
        raise
    project.close()
    if created:
        print(f"created {args.project}")
    print(report.summary())
    for line in report.skipped[:20]:
        print(f"  skipped: {line}")
    if len(report.skipped) > 20:
        print(f"  ... and {len(report.skipped) - 20} more")
    return 0
