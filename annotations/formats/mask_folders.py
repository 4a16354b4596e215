"""Per-object mask folders (``mask-folders``): the nuclei-challenge (Data Science Bowl 2018)
layout, one folder per image with one binary PNG per object::

    SRC/<id>/images/<id>.png          the image
    SRC/<id>/masks/<object>.png       one object: nonzero pixels are the object

Import: every object gets the class ``class_name`` (default ``nucleus``); its mask file's stem
is kept in the annotation's attributes (``mask_file``) so the export writes the same names. A
mask of another size than its image, an empty mask, or a folder without exactly one image is an
error naming the file. An optional ``ignore/`` folder beside ``masks/`` holds ignore regions
(class-agnostic), read the same way.

Export: the same layout (masks as 8-bit 0/255 PNGs; objects whose name was not imported are
``<annotation id>.png``); ignore regions go to ``<id>/ignore/``. Boxes and polygons are
rasterized (pycocotools). Overlaps are kept (one file per object).

Loses: class names (one class per import; the export writes every class), attributes, z-order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from annotations.errors import FormatError
from annotations.formats.atomic import atomic_directory
from annotations.formats.common import (
    ExportOptions,
    ExportReport,
    ImportOptions,
    ImportReport,
    place_image,
    report_progress,
)
from annotations.formats.mask_common import MASK_FILE_KEY, planned_image_for, read_label_png, region, save_label_png, start_export
from annotations.formats.paths import UniqueNames, safe_stem
from annotations.formats.plan import ImportPlan, PlannedCategory, commit_plan
from annotations.formats.raster import dense_mask
from annotations.store import Project
from annotations.store.image_files import IMAGE_SUFFIXES

DEFAULT_CLASS = "nucleus"
MASKS_FOLDER = "masks"
IGNORE_FOLDER = "ignore"
IMAGES_FOLDER = "images"


def _image_of(folder: Path) -> Path:
    files = sorted(p for p in (folder / IMAGES_FOLDER).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) != 1:
        raise FormatError(f"expected one image in {IMAGES_FOLDER}/, found {len(files)}", path=str(folder))
    return files[0]


def sample_folders(source: Path) -> list[Path]:
    """The per-image folders of ``source`` (those holding ``images/``); ``source`` itself when it
    is one. Raises :class:`FormatError` when there is none."""
    if not source.is_dir():
        raise FormatError("mask folder tree not found", path=str(source))
    if (source / IMAGES_FOLDER).is_dir():
        return [source]
    folders = sorted(p.parent for p in source.rglob(IMAGES_FOLDER) if p.is_dir() and (p.parent / MASKS_FOLDER).is_dir())
    if not folders:
        raise FormatError(f"no <id>/{IMAGES_FOLDER}/ + <id>/{MASKS_FOLDER}/ folders found", path=str(source))
    return folders


def read_mask_folders(source: Path, *, class_name: str = DEFAULT_CLASS) -> ImportPlan:
    """Read and check every per-object mask (see the module docstring); nothing is stored."""
    plan = ImportPlan(source=source, categories=[PlannedCategory(class_name)])
    for folder in sample_folders(source):
        image_file = _image_of(folder)
        planned = None
        for sub, ignore in ((MASKS_FOLDER, False), (IGNORE_FOLDER, True)):
            if not (folder / sub).is_dir():
                continue
            for mask_path in sorted((folder / sub).glob("*.png")):
                pixels = read_label_png(mask_path) != 0
                if planned is None:
                    planned = planned_image_for(image_file, pixels, mask_path)
                elif pixels.shape != (planned.height, planned.width):
                    raise FormatError(f"mask is {pixels.shape[1]}x{pixels.shape[0]} (width x height), its image "
                                      f"{planned.width}x{planned.height}", path=str(mask_path))
                if not pixels.any():
                    raise FormatError("empty object mask (no nonzero pixel)", path=str(mask_path))
                planned.annotations.append(region(pixels, "" if ignore else class_name, f"{folder.name}/{sub}/{mask_path.name}",
                                                  ignore=ignore, attributes={MASK_FILE_KEY: mask_path.stem}))
        if planned is None:
            from annotations.imageio import read_header

            header = read_header(image_file)
            from annotations.formats.plan import PlannedImage

            planned = PlannedImage(image_file, header.width, header.height, source=str(folder))
        plan.images.append(planned)
    return plan


def import_mask_folders(project: Project, source: str | os.PathLike[str], options: ImportOptions | None = None,
                        *, class_name: str = DEFAULT_CLASS) -> ImportReport:
    """Import a per-object mask tree in one transaction (see the module docstring)."""
    options = options if options is not None else ImportOptions()
    return commit_plan(project, read_mask_folders(Path(source), class_name=class_name), options)


def export_mask_folders(project: Project, out: str | os.PathLike[str], options: ExportOptions | None = None) -> ExportReport:
    """Write the per-object mask layout (see the module docstring)."""
    options = options if options is not None else ExportOptions()
    start = start_export(project, out, options)
    images, files, stems, report = start.images, start.files, start.stems, start.report
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for done, image in enumerate(images, 1):
            stem = stems.take(safe_stem(Path(image.path).stem))
            folder = tmp / stem
            place_image(files[image.id], folder / IMAGES_FOLDER / f"{stem}{files[image.id].suffix.lower()}")
            (folder / MASKS_FOLDER).mkdir(parents=True, exist_ok=True)
            names = UniqueNames()
            for ann in project.annotations(image.id):
                kept = ann.attributes.get(MASK_FILE_KEY)
                name = names.take(safe_stem(kept) if isinstance(kept, str) and kept else str(ann.id))
                pixels = dense_mask(ann, image.size_hw)
                sub = IGNORE_FOLDER if ann.is_ignore else MASKS_FOLDER
                save_label_png(pixels.astype(np.int64) * 255, folder / sub / f"{name}.png")
                report.annotations += 1
            report_progress(options.progress, done, len(images))
    report.images["train"] = len(images)
    return report
