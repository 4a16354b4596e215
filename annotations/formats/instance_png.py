"""Instance-id PNGs (``instance-png``): pixel value k is object k, 0 is background (Penn-Fudan
``*_mask.png``, VOC ``SegmentationObject`` with ``ignore_values=(255,)``).

Import: SRC is a folder of instance PNGs (or one PNG), paired with images by stem like
``label-png`` (a ``_mask`` suffix is stripped). Every object gets the class ``class_name``
(default ``object``), or, with ``class_masks`` (a folder of label-index PNGs of the same stems,
e.g. VOC ``SegmentationClass``) and an optional class table, the class value most of its
pixels carry in the class PNG. ``ignore_values`` pixels become one class-agnostic ignore
region per image. The object's value is kept in its attributes (``instance_id``).

Export: ``OUT/images/<stem>.<ext>``, ``OUT/instances/<stem>.png`` (object k of the image, back
to front, written as its imported ``instance_id`` when those are unique, else k; 16-bit above
255 objects), ignore regions as ``ignore_value`` (default 255, so at most 254 objects then),
and ``OUT/classes.csv`` (``image,instance_id,class``).

Loses: overlaps (the front object wins each pixel), boxes become their pixels, attributes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
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
from annotations.formats.mask_common import (
    DEFAULT_MASK_SUFFIXES,
    ClassTable,
    find_images,
    mask_sources,
    pair_image,
    planned_image_for,
    read_class_table,
    read_label_png,
    region,
    save_label_png,
    start_export,
    strip_mask_suffix,
)
from annotations.formats.paths import safe_stem
from annotations.formats.plan import ImportPlan, PlannedCategory, commit_plan
from annotations.formats.raster import dense_mask
from annotations.store import Project

INSTANCE_ID_KEY = "instance_id"
"""``Annotation.attributes`` key holding the object's value in the imported instance PNG."""

DEFAULT_CLASS = "object"


def _class_png_for(mask_path: Path, class_masks: Path, suffixes: Sequence[str]) -> Path:
    stem = strip_mask_suffix(mask_path.stem, suffixes)
    for candidate in sorted(class_masks.glob("*.png")):
        if candidate.stem in (mask_path.stem, stem) or strip_mask_suffix(candidate.stem, suffixes) == stem:
            return candidate
    raise FormatError(f"no class PNG for {mask_path.name} in {class_masks}", path=str(mask_path))


def read_instance_pngs(
    source: Path,
    *,
    images_root: Path | None = None,
    class_name: str = DEFAULT_CLASS,
    class_masks: Path | None = None,
    class_table: ClassTable | None = None,
    ignore_values: Sequence[int] = (),
    mask_suffixes: Sequence[str] = DEFAULT_MASK_SUFFIXES,
) -> ImportPlan:
    """Read and check every instance PNG of ``source`` (see the module docstring)."""
    masks = mask_sources(source)
    if class_masks is not None and not class_masks.is_dir():
        raise FormatError("class PNG folder not found", path=str(class_masks))
    extra = list(class_masks.rglob("*.png")) if class_masks else []
    images = find_images(masks + extra, source, images_root)
    plan = ImportPlan(source=source)
    names_used: dict[str, PlannedCategory] = {}
    for mask_path in masks:
        ids_hw = read_label_png(mask_path)
        planned = planned_image_for(pair_image(mask_path, images, mask_suffixes), ids_hw, mask_path)
        classes_hw = None
        if class_masks is not None:
            class_path = _class_png_for(mask_path, class_masks, mask_suffixes)
            classes_hw = read_label_png(class_path)
            if classes_hw.shape != ids_hw.shape:
                raise FormatError(f"class PNG size {classes_hw.shape} differs from the instance PNG's {ids_hw.shape}",
                                  path=str(class_path))
        for value in (int(v) for v in np.unique(ids_hw)):
            if value == 0 or value in ignore_values:
                continue
            pixels = ids_hw == value
            label = class_name
            if classes_hw is not None:
                inside = classes_hw[pixels]
                inside = inside[~np.isin(inside, list(ignore_values) + [0])] if inside.size else inside
                if inside.size == 0:
                    raise FormatError(f"object {value} has no class pixels in the class PNG", path=str(mask_path))
                class_value = int(np.bincount(inside).argmax())
                if class_table is not None:
                    if class_value not in class_table.names:
                        raise FormatError(f"object {value}: class value {class_value} is not in the class table",
                                          path=str(mask_path))
                    label = class_table.names[class_value]
                else:
                    label = f"value_{class_value}"
                names_used.setdefault(label, PlannedCategory(label, attributes={"label_value": class_value}))
            planned.annotations.append(region(pixels, label, f"{mask_path.name} object {value}",
                                              attributes={INSTANCE_ID_KEY: value}))
        ignored = np.isin(ids_hw, list(ignore_values)) if ignore_values else None
        if ignored is not None and ignored.any():
            planned.annotations.append(region(ignored, "", f"{mask_path.name} ignore", ignore=True))
        plan.images.append(planned)
    if class_masks is None:
        plan.categories = [PlannedCategory(class_name)]
    else:
        order = list(class_table.names.values()) if class_table is not None else []
        plan.categories = sorted(names_used.values(), key=lambda c: (order.index(c.name) if c.name in order else len(order),
                                                                     c.name))
    return plan


def import_instance_png(
    project: Project,
    source: str | os.PathLike[str],
    options: ImportOptions | None = None,
    *,
    images_root: str | os.PathLike[str] | None = None,
    class_name: str = DEFAULT_CLASS,
    class_masks: str | os.PathLike[str] | None = None,
    class_table: str | os.PathLike[str] | None = None,
    ignore_values: Sequence[int] = (),
) -> ImportReport:
    """Import instance-id PNGs in one transaction (see the module docstring)."""
    options = options if options is not None else ImportOptions()
    plan = read_instance_pngs(
        Path(source), images_root=Path(images_root) if images_root else None, class_name=class_name,
        class_masks=Path(class_masks) if class_masks else None,
        class_table=read_class_table(Path(class_table)) if class_table else None, ignore_values=tuple(ignore_values),
    )
    return commit_plan(project, plan, options)


def export_instance_png(
    project: Project,
    out: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    ignore_value: int = 255,
) -> ExportReport:
    """Write instance-id PNGs (see the module docstring). Raises :class:`FormatError` when an
    image has more objects than the values left beside ``ignore_value``."""
    options = options if options is not None else ExportOptions()
    names_of = {c.id: c.name for c in project.categories()}
    start = start_export(project, out, options)
    images, files, stems, report = start.images, start.files, start.stems, start.report
    rows: list[tuple[str, int, str]] = []
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for done, image in enumerate(images, 1):
            stem = stems.take(safe_stem(Path(image.path).stem))
            place_image(files[image.id], tmp / "images" / f"{stem}{files[image.id].suffix.lower()}")
            anns = project.annotations(image.id)
            objects = [a for a in anns if not a.is_ignore]
            kept = [a.attributes.get(INSTANCE_ID_KEY) for a in objects]
            kept_ids = [k for k in kept if isinstance(k, int) and not isinstance(k, bool) and k > 0 and k != ignore_value]
            usable = len(kept_ids) == len(kept)  # every object has a valid id of its own
            ids = [int(k) for k in kept_ids] if usable and len(set(kept_ids)) == len(kept_ids) else []
            if not ids:
                ids = [k for k in range(1, len(objects) + 2) if k != ignore_value][: len(objects)]
            if len(ids) < len(objects) or (ids and max(ids) > 65535):
                raise FormatError(f"{len(objects)} objects do not fit an instance PNG beside ignore value {ignore_value}",
                                  path=str(project.path), item=image.path)
            canvas = np.zeros(image.size_hw, dtype=np.int64)
            id_of = {a.id: k for a, k in zip(objects, ids)}
            for ann in anns:
                canvas[dense_mask(ann, image.size_hw)] = ignore_value if ann.is_ignore else id_of[ann.id]
            save_label_png(canvas, tmp / "instances" / f"{stem}.png")
            rows.extend((stem, id_of[a.id], names_of.get(a.category_id, "")) for a in objects)
            report.annotations += len(anns)
            report_progress(options.progress, done, len(images))
        with open(tmp / "classes.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("image", "instance_id", "class"))
            writer.writerows(rows)
    report.images["train"] = len(images)
    return report
