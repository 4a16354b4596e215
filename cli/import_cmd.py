"""``python main.py import PROJECT --format FORMAT SRC [--status done]``.

Formats (SRC in brackets):

- ``coco`` (a COCO JSON file), ``voc`` (a VOC folder), ``cityscapes`` (a folder with
  ``gtFine/``), ``labelme`` (a labelme JSON file or folder);
- ``label-png`` (a folder of label-index PNGs: one class per pixel value; ``--class-table``,
  ``--ignore-value``, ``--background-value``);
- ``instance-png`` (a folder of instance-id PNGs or one PNG: value k = object k, 0 = background;
  ``--class NAME`` or ``--class-masks FOLDER`` of class PNGs with ``--class-table``);
- ``mask-folders`` (the nuclei layout ``SRC/<id>/images/<id>.png`` + ``SRC/<id>/masks/*.png``;
  ``--class NAME``);
- ``palette-png`` (a folder of colour PNGs; ``--color-table`` required, ``--ignore-color``);
- ``rle-csv`` (a Kaggle ``ImageId,EncodedPixels[,ClassId]`` CSV; ``--rle-order``).

Mask images are paired with images of the same stem (a ``_mask``-like suffix stripped) under
``--images DIR`` (default: beside SRC). Images the project already has are matched by path,
then resolved path, then relative file name (the summary says how many each way). The project
is created when it does not exist. Everything is checked before anything is stored; a bad file
changes nothing (exit code 2 with the file and item).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

FORMATS = ("coco", "voc", "cityscapes", "labelme", "label-png", "instance-png", "mask-folders", "palette-png", "rle-csv")
MASK_FORMATS = ("label-png", "instance-png", "palette-png", "rle-csv")
SETTABLE_STATUS = ("new", "in_progress", "done", "reviewed")


def _color(text: str) -> tuple[int, int, int]:
    from cli.errors import UsageError

    value = text.strip()
    parts = value.replace(",", " ").split()
    if len(parts) == 3 and all(p.isdigit() and int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    if value.startswith("#") and len(value) == 7:
        try:
            return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
        except ValueError:
            pass
    raise UsageError(f"bad colour {text!r}: expected #rrggbb or R,G,B")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import", help="import annotations (COCO, VOC, Cityscapes, labelme, mask PNGs, mask folders, RLE CSV) into a project",
        description="\n\n".join(__doc__.split("\n\n")[1:]) if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, help="a .segproj file (created if missing)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="format_name",
                        help="coco, voc, cityscapes, labelme; label-png (label-index PNGs), instance-png (instance-id "
                             "PNGs), mask-folders (one PNG per object, nuclei layout), palette-png (colour PNGs + "
                             "colour table), rle-csv (Kaggle run-length CSV)")
    parser.add_argument("source", type=Path, help="the file or folder to import")
    parser.add_argument("--images", type=Path, default=None,
                        help="COCO: the folder file_name is relative to; mask formats: the images folder (default: beside SRC)")
    parser.add_argument("--add-labels", action="store_true",
                        help="add labels the project does not have (default: only into a project without categories)")
    parser.add_argument("--allow-missing-images", action="store_true",
                        help="record images whose file is absent (sizes must be in the annotations)")
    parser.add_argument("--allow-duplicates", action="store_true",
                        help="store shapes an image already has (same class and geometry); "
                             "by default importing the same source twice is refused")
    parser.add_argument("--status", choices=SETTABLE_STATUS, default=None,
                        help="set this status on every imported image (e.g. done: the labels are final)")
    masks = parser.add_argument_group("mask formats")
    masks.add_argument("--class-table", type=Path, default=None,
                       help="label-png/instance-png: VALUE NAME lines (or JSON {value: name}, or one name per line)")
    masks.add_argument("--ignore-value", type=int, action="append", default=None,
                       help="label-png/instance-png: pixel value stored as an ignore region (repeatable; e.g. 255)")
    masks.add_argument("--background-value", type=int, default=0, help="label-png: pixel value stored as nothing (default 0)")
    masks.add_argument("--class", dest="class_name", default=None,
                       help="instance-png/mask-folders/rle-csv: the class of every object (default object / nucleus)")
    masks.add_argument("--class-masks", type=Path, default=None,
                       help="instance-png: folder of label-index PNGs (same stems) giving each object's class")
    masks.add_argument("--color-table", type=Path, default=None, help="palette-png: R G B NAME lines (or #rrggbb NAME, or JSON)")
    masks.add_argument("--ignore-color", type=_color, action="append", default=None,
                       help="palette-png: colour stored as an ignore region (#rrggbb or R,G,B; repeatable)")
    masks.add_argument("--background-color", type=_color, default=(0, 0, 0),
                       help="palette-png: colour stored as nothing (default black)")
    masks.add_argument("--rle-order", choices=("column", "row"), default="column",
                       help="rle-csv: pixel order of the runs (Kaggle: column, the default)")
    parser.set_defaults(func=run)


def format_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword options of the importer of ``args.format_name``; a :class:`UsageError` for an
    option the format does not take."""
    from cli.errors import UsageError

    fmt = args.format_name
    allowed = {
        "coco": {"images"}, "label-png": {"images", "class_table", "ignore_value", "background_value"},
        "instance-png": {"images", "class_name", "class_masks", "class_table", "ignore_value"},
        "mask-folders": {"class_name"}, "palette-png": {"images", "color_table", "ignore_color", "background_color"},
        "rle-csv": {"images", "class_name", "rle_order"},
    }.get(fmt, set())
    given = {name for name, default in (("images", None), ("class_table", None), ("ignore_value", None),
                                        ("background_value", 0), ("class_name", None), ("class_masks", None),
                                        ("color_table", None), ("ignore_color", None), ("background_color", (0, 0, 0)),
                                        ("rle_order", "column")) if getattr(args, name) != default}
    extra = sorted(given - allowed)
    if extra:
        flags = ", ".join("--" + name.replace("_", "-").replace("class-name", "class") for name in extra)
        raise UsageError(f"{flags}: not an option of --format {fmt}")
    options: dict[str, Any] = {}
    if args.images is not None:
        options["images_root"] = args.images
    for path_option in ("class_table", "class_masks", "color_table"):
        value = getattr(args, path_option)
        if value is not None and not value.exists():
            raise UsageError(f"--{path_option.replace('_', '-')} {value}: file not found")
    if fmt == "label-png":
        options.update(class_table=args.class_table, ignore_values=tuple(args.ignore_value or ()),
                       background_value=args.background_value)
    elif fmt == "instance-png":
        options.update(class_table=args.class_table, class_masks=args.class_masks,
                       ignore_values=tuple(args.ignore_value or ()))
        if args.class_name:
            options["class_name"] = args.class_name
    elif fmt == "mask-folders" and args.class_name:
        options["class_name"] = args.class_name
    elif fmt == "palette-png":
        if args.color_table is None:
            raise UsageError("--format palette-png needs --color-table FILE")
        options.update(color_table=args.color_table, ignore_colors=tuple(args.ignore_color or ()),
                       background_color=args.background_color)
    elif fmt == "rle-csv":
        options["order"] = args.rle_order
        if args.class_name:
            options["class_name"] = args.class_name
    return options


def run(args: argparse.Namespace) -> int:
    from annotations.formats import ImportOptions, import_into
    from annotations.model import ImageStatus
    from annotations.store import Project
    from cli.errors import UsageError

    if not args.source.exists():
        raise UsageError(f"{args.source}: no such file or folder")
    kwargs = format_options(args)
    options = ImportOptions(
        add_labels=True if args.add_labels else None,
        allow_missing_images=args.allow_missing_images,
        allow_duplicates=args.allow_duplicates,
        status=ImageStatus(args.status) if args.status else None,
    )
    created = not args.project.exists()
    project = Project.create(args.project) if created else Project.open(args.project)
    try:
        report = import_into(project, args.format_name, args.source, options, **kwargs)
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
    if args.status:
        print(f"marked {report.images_added + report.images_reused} images {args.status}")
    for line in report.skipped[:20]:
        print(f"  skipped: {line}")
    if len(report.skipped) > 20:
        print(f"  ... and {len(report.skipped) - 20} more")
    return 0
