"""Label-index PNGs (``label-png``): one class per pixel value, as CamVid, ADE20K, Cityscapes
``labelIds`` and most semantic-segmentation sets store them.

Import: SRC is a folder of label PNGs (or one PNG); each is paired with the image of the same
stem (a mask suffix such as ``_mask`` or ``_labelIds`` is stripped) under ``images_root`` or
next to SRC. A class table file names the values (``VALUE NAME`` lines, ``{"VALUE": "NAME"}``
JSON, or one name per line for values 0, 1, 2, ...); without one each value becomes a class
``value_<v>``. ``background_value`` (default 0) pixels are stored as nothing; ``ignore_values``
pixels become ONE class-agnostic ignore region per image (left out of training and metrics,
exported as void). Each class present in an image becomes one mask annotation; the class's
pixel value is kept in its attributes (``label_value``) so the export writes it back.

Export: ``OUT/images/<stem>.<ext>`` (the image files), ``OUT/labels/<stem>.png`` (8-bit gray,
16-bit when a value exceeds 255) and ``OUT/class_table.txt``. Shapes are painted back to front;
a class without a stored value gets its 1-based position in the class list; ignore regions
are painted ``ignore_value`` (default 255).

Loses: instances (touching objects of one class merge), boxes become their pixels, attributes.
"""

from __future__ import annotations

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
    LABEL_VALUE_KEY,
    ClassTable,
    find_images,
    mask_sources,
    pair_image,
    planned_image_for,
    read_class_table,
    read_label_png,
    save_label_png,
    semantic_regions,
    start_export,
)
from annotations.formats.paths import safe_stem
from annotations.formats.plan import ImportPlan, commit_plan
from annotations.formats.raster import dense_mask
from annotations.model import Category
from annotations.store import Project

SETTINGS_KEY = "label_png"
"""Project setting holding the imported ``background_value`` and ``ignore_value`` (the export's defaults)."""
DEFAULT_IGNORE_VALUE = 255


def read_label_pngs(
    source: Path,
    *,
    images_root: Path | None = None,
    class_table: ClassTable | None = None,
    background_value: int | None = 0,
    ignore_values: Sequence[int] = (),
    mask_suffixes: Sequence[str] = DEFAULT_MASK_SUFFIXES,
) -> ImportPlan:
    """Read and check every label PNG of ``source`` (see the module docstring); nothing is
    stored. Raises :class:`FormatError` naming the file for an unpaired mask, a size mismatch,
    a colour PNG or a value the class table lacks."""
    masks = mask_sources(source)
    images = find_images(masks, source, images_root)
    plan = ImportPlan(source=source)
    names = dict(class_table.names) if class_table is not None else {}
    seen_values: set[int] = set()
    for mask_path in masks:
        labels_hw = read_label_png(mask_path)
        if class_table is None:
            for value in np.unique(labels_hw):
                value = int(value)
                if value != background_value and value not in ignore_values:
                    names.setdefault(value, f"value_{value}")
        planned = planned_image_for(pair_image(mask_path, images, mask_suffixes), labels_hw, mask_path)
        planned.annotations.extend(semantic_regions(labels_hw, names, background=background_value,
                                                    ignore_values=ignore_values, path=mask_path))
        seen_values.update(int(v) for v in np.unique(labels_hw))
        plan.images.append(planned)
    table = class_table if class_table is not None else ClassTable(dict(sorted(names.items())))
    plan.categories = table.categories()
    plan.settings[SETTINGS_KEY] = {"background_value": background_value,
                                   "ignore_value": ignore_values[0] if ignore_values else DEFAULT_IGNORE_VALUE}
    return plan


def import_label_png(
    project: Project,
    source: str | os.PathLike[str],
    options: ImportOptions | None = None,
    *,
    images_root: str | os.PathLike[str] | None = None,
    class_table: str | os.PathLike[str] | None = None,
    background_value: int | None = 0,
    ignore_values: Sequence[int] = (),
) -> ImportReport:
    """Import label-index PNGs in one transaction (see the module docstring)."""
    options = options if options is not None else ImportOptions()
    table = read_class_table(Path(class_table)) if class_table is not None else None
    plan = read_label_pngs(Path(source), images_root=Path(images_root) if images_root else None, class_table=table,
                           background_value=background_value, ignore_values=tuple(ignore_values))
    return commit_plan(project, plan, options)


def label_values(categories: Sequence[Category]) -> dict[int, int]:
    """Category id -> pixel value: the imported ``label_value`` where stored and unique, else
    the 1-based position in the class list (never a value another class already holds)."""
    values: dict[int, int] = {}
    taken: set[int] = set()
    for c in categories:
        stored = c.attributes.get(LABEL_VALUE_KEY)
        if isinstance(stored, int) and not isinstance(stored, bool) and stored >= 0 and stored not in taken:
            values[c.id] = stored
            taken.add(stored)
    for position, c in enumerate(categories, 1):
        if c.id not in values:
            value = position
            while value in taken:
                value += 1
            values[c.id] = value
            taken.add(value)
    return values


def render_labels(project: Project, image_id: int, size_hw: tuple[int, int], values: dict[int, int], *,
                  background_value: int, ignore_value: int) -> np.ndarray:
    """The (height, width) int64 label image of one image: shapes painted back to front."""
    canvas = np.full(size_hw, background_value, dtype=np.int64)
    for ann in project.annotations(image_id):
        canvas[dense_mask(ann, size_hw)] = ignore_value if ann.is_ignore else values[ann.category_id]
    return canvas


def export_label_png(
    project: Project,
    out: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    background_value: int | None = None,
    ignore_value: int | None = None,
) -> ExportReport:
    """Write label-index PNGs (see the module docstring). ``background_value`` and
    ``ignore_value`` default to those of the last label-png import (else 0 and 255). Raises
    :class:`FormatError` when a class value collides with either, for missing images or a
    non-empty target without ``overwrite``."""
    options = options if options is not None else ExportOptions()
    stored = project.get_setting(SETTINGS_KEY, {}) or {}
    if background_value is None:
        background_value = stored.get("background_value", 0) if isinstance(stored.get("background_value", 0), int) else 0
    if ignore_value is None:
        ignore_value = stored.get("ignore_value", DEFAULT_IGNORE_VALUE)
        ignore_value = ignore_value if isinstance(ignore_value, int) else DEFAULT_IGNORE_VALUE
    categories = project.categories()
    values = label_values(categories)
    clash = [c.name for c in categories if values[c.id] in (background_value, ignore_value)]
    if clash:
        raise FormatError(f"class(es) {', '.join(clash)} use the background or ignore value "
                          f"({background_value}, {ignore_value}); choose other values", path=str(project.path))
    start = start_export(project, out, options)
    images, files, names, report = start.images, start.files, start.stems, start.report
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for done, image in enumerate(images, 1):
            stem = names.take(safe_stem(Path(image.path).stem))
            place_image(files[image.id], tmp / "images" / f"{stem}{files[image.id].suffix.lower()}")
            labels = render_labels(project, image.id, image.size_hw, values,
                                   background_value=background_value, ignore_value=ignore_value)
            save_label_png(labels, tmp / "labels" / f"{stem}.png")
            report.annotations += len(project.annotations(image.id))
            report_progress(options.progress, done, len(images))
        lines = [f"{values[c.id]} {c.name}" for c in categories]
        (tmp / "class_table.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.images["train"] = len(images)
    return report
