"""Run-length CSVs (``rle-csv``): Kaggle-style ``ImageId,EncodedPixels`` files (Data Science
Bowl 2018, Airbus ships, severstal), one row per object.

``EncodedPixels`` is ``start length start length ...`` with 1-based starts counted down each
column, then across (column-major, Kaggle's convention; ``order="row"`` for row-major files
such as Carvana's). An empty ``EncodedPixels`` row marks an image without objects. Optional
columns: ``ClassId`` (or ``class``/``Label``; a class name or number), ``Ignore`` (1: an
ignore region instead of an object). The image column may be named ``ImageId``, ``image_id``,
``img`` or ``id``; its value is a file name or a stem, looked up under ``images_root`` (default:
the CSV's folder, searched recursively).

Import: runs are checked (sorted, inside the image, not overlapping) and each row becomes one
mask of its class (``class_name`` when there is no class column). Export writes
``OUT/<name>.csv`` (same columns; ``ClassId`` holds the class name, ``Ignore`` 1 for ignore
regions) and ``OUT/images/``.

Loses: overlaps are kept but z-order and attributes are not; boxes and polygons become pixels.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
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
from annotations.formats.mask_common import image_files_by_stem, region, start_export
from annotations.formats.paths import safe_stem
from annotations.formats.plan import ImportPlan, PlannedCategory, PlannedImage, commit_plan
from annotations.formats.raster import dense_mask
from annotations.imageio import read_header
from annotations.store import Project

IMAGE_COLUMNS = ("ImageId", "image_id", "img", "id", "image")
RLE_COLUMNS = ("EncodedPixels", "rle_mask", "rle", "encoded_pixels")
CLASS_COLUMNS = ("ClassId", "class", "Label", "label", "category")
IGNORE_COLUMNS = ("Ignore", "ignore", "iscrowd")
DEFAULT_CLASS = "object"


def decode_runs(text: str, size_hw: tuple[int, int], *, order: str = "column", where: str = "") -> np.ndarray:
    """``"start length ..."`` (1-based) -> a (height, width) bool mask. Raises
    :class:`FormatError` for odd counts, non-numbers, runs outside the image or out of order."""
    height, width = size_hw
    parts = text.split()
    if len(parts) % 2:
        raise FormatError(f"{where}: odd number of values in the run-length string")
    try:
        values = [int(p) for p in parts]
    except ValueError as exc:
        raise FormatError(f"{where}: run-length values must be integers ({exc})") from exc
    pixels = height * width
    for value in values:
        if not -pixels <= value <= pixels + 1:  # also keeps every value inside int64
            raise FormatError(f"{where}: run-length value {value} is outside the {width}x{height} image")
    numbers = np.asarray(values, dtype=np.int64).reshape(-1, 2)
    flat = np.zeros(height * width, dtype=bool)
    end_before = 0
    for start, length in numbers:
        if start < 1 or length < 1 or start - 1 + length > height * width:
            raise FormatError(f"{where}: run {start} {length} is outside the {width}x{height} image")
        if start - 1 < end_before:
            raise FormatError(f"{where}: runs must be sorted and must not overlap (run starting at {start})")
        flat[start - 1 : start - 1 + length] = True
        end_before = start - 1 + length
    return flat.reshape((width, height)).T if order == "column" else flat.reshape((height, width))


def encode_runs(mask_hw: np.ndarray, *, order: str = "column") -> str:
    """Inverse of :func:`decode_runs`."""
    flat = (mask_hw.T if order == "column" else mask_hw).reshape(-1).astype(np.int8)
    padded = np.concatenate([[0], flat, [0]])
    changes = np.flatnonzero(padded[1:] != padded[:-1]) + 1
    starts, ends = changes[0::2], changes[1::2]
    return " ".join(f"{s} {e - s}" for s, e in zip(starts, ends))


def _column(header: list[str], names: Iterable[str]) -> str | None:
    return next((n for n in names if n in header), None)


def read_rle_csv(source: Path, *, images_root: Path | None = None, class_name: str = DEFAULT_CLASS,
                 order: str = "column") -> ImportPlan:
    """Read and check a run-length CSV (see the module docstring); nothing is stored."""
    if order not in ("column", "row"):
        raise FormatError(f"order must be 'column' or 'row', got {order!r}")
    try:
        handle = open(source, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FormatError(f"cannot read CSV: {exc.strerror or exc}", path=str(source)) from exc
    with handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        image_col, rle_col = _column(header, IMAGE_COLUMNS), _column(header, RLE_COLUMNS)
        if image_col is None or rle_col is None:
            raise FormatError(f"expected columns {IMAGE_COLUMNS[0]} and {RLE_COLUMNS[0]}, got {header}", path=str(source))
        class_col, ignore_col = _column(header, CLASS_COLUMNS), _column(header, IGNORE_COLUMNS)
        rows = list(reader)
    images = image_files_by_stem(images_root if images_root is not None else source.parent)
    plan = ImportPlan(source=source)
    planned: dict[str, PlannedImage] = {}
    classes: list[str] = []
    for line, row in enumerate(rows, 2):
        where = f"line {line}"
        name = (row.get(image_col) or "").strip()
        if not name:
            raise FormatError(f"empty {image_col}", path=str(source), item=where)
        stem = Path(name).stem if Path(name).suffix else name
        if stem not in images:
            raise FormatError(f"no image file for {name!r} (give the images folder with --images)", path=str(source), item=where)
        if stem not in planned:
            header_info = read_header(images[stem])
            planned[stem] = PlannedImage(images[stem], header_info.width, header_info.height, source=str(source))
            plan.images.append(planned[stem])
        image = planned[stem]
        text = (row.get(rle_col) or "").strip()
        if not text:
            continue
        pixels = decode_runs(text, (image.height, image.width), order=order, where=f"{source}, {where}")
        raw = (row.get(class_col) or "").strip() if class_col else ""
        ignore = bool(ignore_col) and (row.get(ignore_col) or "").strip().lower() in ("1", "true")
        label = raw if ignore else (raw or class_name)  # an ignore row without a class: class-agnostic
        if not ignore and label not in classes:
            classes.append(label)
        if not pixels.any():
            raise FormatError("the run-length string covers no pixel", path=str(source), item=where)
        image.annotations.append(region(pixels, label, where, ignore=ignore))
    plan.categories = [PlannedCategory(c) for c in classes] or [PlannedCategory(class_name)]
    return plan


def import_rle_csv(project: Project, source: str | os.PathLike[str], options: ImportOptions | None = None, *,
                   images_root: str | os.PathLike[str] | None = None, class_name: str = DEFAULT_CLASS,
                   order: str = "column") -> ImportReport:
    """Import a run-length CSV in one transaction (see the module docstring)."""
    options = options if options is not None else ImportOptions()
    plan = read_rle_csv(Path(source), images_root=Path(images_root) if images_root else None, class_name=class_name,
                        order=order)
    return commit_plan(project, plan, options)


def export_rle_csv(project: Project, out: str | os.PathLike[str], options: ExportOptions | None = None, *,
                   order: str = "column", name: str = "labels") -> ExportReport:
    """Write ``OUT/<name>.csv`` and ``OUT/images/`` (see the module docstring)."""
    options = options if options is not None else ExportOptions()
    names_of = {c.id: c.name for c in project.categories()}
    start = start_export(project, out, options)
    images, files, stems, report = start.images, start.files, start.stems, start.report
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        with open(tmp / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("ImageId", "EncodedPixels", "ClassId", "Ignore"))
            for done, image in enumerate(images, 1):
                stem = stems.take(safe_stem(Path(image.path).stem))
                place_image(files[image.id], tmp / "images" / f"{stem}{files[image.id].suffix.lower()}")
                anns = project.annotations(image.id)
                if not anns:
                    writer.writerow((stem, "", "", 0))
                for ann in anns:
                    runs = encode_runs(dense_mask(ann, image.size_hw), order=order)
                    if runs:
                        writer.writerow((stem, runs, names_of.get(ann.category_id, ""), int(ann.is_ignore)))
                        report.annotations += 1
                report_progress(options.progress, done, len(images))
    report.images["train"] = len(images)
    return report
