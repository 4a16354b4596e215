"""``python main.py new PROJECT --images DIR [--labels voc|coco|cityscapes|FILE] [--exclude GLOB]``.

Creates a project file referencing every image under DIR (recursively; png, jpg, jpeg, tif,
tiff, bmp, webp). Folders named like mask or label folders (masks, labels, gt, gtFine,
annotations, SegmentationClass, ... see DEFAULT_EXCLUDES) are skipped, and so is anything
matching ``--exclude GLOB`` (a folder name, or a path relative to DIR; repeatable;
``--no-default-exclude`` keeps the mask folders). What was skipped is printed. Image sizes come
from the file headers (no pixel decoding) with the EXIF orientation applied; paths are stored
relative to the project file.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

from annotations.errors import AnnotationsError, FormatError
from annotations.model import Category, Image
from annotations.presets import load_labels, preset_names
from annotations.store import PROJECT_SUFFIX, Project
from annotations.store.image_files import IMAGE_SUFFIXES, find_image_files, read_image_info
from cli.errors import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``new`` parser."""
    parser = subparsers.add_parser(
        "new",
        help="create a project from a folder of images",
        description=" ".join(__doc__.split("\n\n")[1].split()) if __doc__ else None,
    )
    parser.add_argument("project", type=Path, help=f"the project file to create (*{PROJECT_SUFFIX})")
    parser.add_argument("--images", type=Path, required=True, help="folder of images (searched recursively)")
    parser.add_argument(
        "--labels",
        default=None,
        help=f"a label preset ({'|'.join(preset_names())}) or a label file (JSON list or one name per line)",
    )
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="skip folders or files matching GLOB (a folder name like 'masks' or a relative path like "
                             "'*/masks/*.png'; repeatable)")
    parser.add_argument("--no-default-exclude", action="store_true",
                        help=f"also take images in mask/label folders ({', '.join(DEFAULT_EXCLUDES[:6])}, ...)")
    parser.set_defaults(func=run)


DEFAULT_EXCLUDES: tuple[str, ...] = (
    "masks", "mask", "*_masks", "*_mask", "pedmasks", "labels", "label", "*_labels", "gt", "gt_*", "gtfine",
    "gtcoarse", "groundtruth", "ground_truth", "annotations", "segmentationclass*", "segmentationobject*",
    "instances", "labelids", "semantic_masks", "train_label", "test_label", "val_label",
)
"""Folder names (case-insensitive globs) that hold masks or labels, not images: skipped by ``new``."""


def excluded_by(relative: PurePosixPath, patterns: list[str], defaults: bool) -> str | None:
    """The pattern that excludes the file at ``relative`` (to the images folder), or None.
    User patterns match the relative path or any folder name; default ones any folder name."""
    folders = relative.parts[:-1]
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative.as_posix(), pattern) or any(fnmatch.fnmatchcase(f, pattern) for f in folders):
            return pattern
    if defaults:
        for folder in folders:
            for pattern in DEFAULT_EXCLUDES:
                if fnmatch.fnmatchcase(folder.lower(), pattern):
                    return folder
    return None


def run(args: argparse.Namespace) -> int:
    """Create the project; returns 0 (bad input raises, main.py maps it to exit code 2)."""
    project_path: Path = args.project
    if project_path.exists():
        raise UsageError(f"{project_path}: a file already exists there (choose another name or delete it)")
    if not project_path.absolute().parent.is_dir():
        raise UsageError(f"{project_path}: folder {project_path.absolute().parent} does not exist")
    categories: list[Category] = load_labels(args.labels) if args.labels else []

    found = find_image_files(args.images)
    files = []
    skipped_by: Counter[str] = Counter()
    for path in found:
        reason = excluded_by(PurePosixPath(path.relative_to(args.images).as_posix()), list(args.exclude),
                             not args.no_default_exclude)
        if reason is None:
            files.append(path)
        else:
            skipped_by[reason] += 1
    if skipped_by:
        print(f"skipped {sum(skipped_by.values())} image files in excluded folders: "
              + ", ".join(f"{name} ({n})" for name, n in skipped_by.most_common())
              + " (--no-default-exclude keeps mask/label folders)")
    if not files:
        raise UsageError(
            f"{args.images}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))}, recursively)"
        )
    images: list[Image] = []
    skipped: list[FormatError] = []
    for path in files:
        try:
            info = read_image_info(path)
        except FormatError as exc:
            skipped.append(exc)
            continue
        attributes = {"exif_orientation": info.orientation} if info.orientation != 1 else {}
        images.append(Image(0, str(path.absolute()), info.width, info.height, attributes=attributes))
    for error in skipped:
        print(f"warning: skipped {error}", file=sys.stderr)
    if not images:
        raise UsageError(f"{args.images}: none of the {len(files)} image files could be read")

    project = Project.create(project_path, categories)
    try:
        project.add_images(images)
        counts = project.counts()
    except (AnnotationsError, OSError):
        project.close()
        _remove_project_file(project_path)
        raise
    project.close()
    print(
        f"created {project_path}: {counts['images']} images, {counts['categories']} categories"
        + (f" ({len(skipped)} unreadable files skipped)" if skipped else "")
    )
    return 0


def _remove_project_file(project_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{project_path}{suffix}").unlink(missing_ok=True)
