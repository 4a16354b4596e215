"""Colour-palette PNGs (``palette-png``): one class per RGB colour, with a colour table (CamVid's
``label_colors.txt``, VOC's or any project's own colours).

Import: SRC is a folder of colour PNGs (RGB, or palette PNGs whose palette gives the colours),
paired with images by stem like ``label-png``. The colour table (``R G B NAME`` or ``#rrggbb
NAME`` lines, or JSON) names the colours; the class keeps its colour. ``background_color``
(default black) pixels are stored as nothing; ``ignore_colors`` pixels become one class-agnostic
ignore region per image. A colour missing from the table is an error naming the file and the
colour.

Export: ``OUT/images/<stem>.<ext>``, ``OUT/labels/<stem>.png`` (RGB, each class in its colour,
back to front), ignore regions in ``ignore_color`` (default white), and
``OUT/color_table.txt``. Two classes of the same colour are refused.

Loses: instances, attributes; a class colour equal to the background/ignore colour is refused.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats.atomic import atomic_directory
from annotations.formats.common import (
    ExportOptions,
    ExportReport,
    ImportOptions,
    ImportReport,
    hex_color,
    place_image,
    report_progress,
    rgb_of,
)
from annotations.formats.mask_common import (
    DEFAULT_MASK_SUFFIXES,
    find_images,
    mask_sources,
    pair_image,
    planned_image_for,
    read_color_table,
    read_rgb_png,
    semantic_regions,
    start_export,
)
from annotations.formats.paths import safe_stem
from annotations.formats.plan import ImportPlan, PlannedCategory, commit_plan
from annotations.formats.raster import dense_mask
from annotations.store import Project

RGB = tuple[int, int, int]
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)


def _codes(rgb_hw3: np.ndarray) -> np.ndarray:
    rgb = rgb_hw3.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _code(color: RGB) -> int:
    return (color[0] << 16) | (color[1] << 8) | color[2]


def read_palette_pngs(
    source: Path,
    colors: dict[RGB, str],
    *,
    images_root: Path | None = None,
    background_color: RGB | None = BLACK,
    ignore_colors: Sequence[RGB] = (),
    mask_suffixes: Sequence[str] = DEFAULT_MASK_SUFFIXES,
) -> ImportPlan:
    """Read and check every colour PNG of ``source`` (see the module docstring)."""
    masks = mask_sources(source)
    images = find_images(masks, source, images_root)
    names = {_code(c): name for c, name in colors.items()}
    plan = ImportPlan(source=source)
    seen: set[str] = set()
    for color, name in colors.items():
        if name not in seen and color != background_color and color not in ignore_colors:
            seen.add(name)
            plan.categories.append(PlannedCategory(name, color=hex_color(color), is_thing=False))
    background = _code(background_color) if background_color is not None else None
    ignore_codes = [_code(c) for c in ignore_colors]
    for mask_path in masks:
        codes = _codes(read_rgb_png(mask_path))
        unknown = [int(v) for v in np.unique(codes)
                   if int(v) not in names and int(v) != background and int(v) not in ignore_codes]
        if unknown:
            shown = ", ".join(f"#{v:06x}" for v in unknown[:5])
            raise FormatError(f"colour(s) {shown} are not in the colour table (add them, or pass --ignore-color)",
                              path=str(mask_path))
        planned = planned_image_for(pair_image(mask_path, images, mask_suffixes), codes, mask_path)
        planned.annotations.extend(semantic_regions(codes, names, background=background, ignore_values=ignore_codes,
                                                    path=mask_path))
        plan.images.append(planned)
    return plan


def import_palette_png(
    project: Project,
    source: str | os.PathLike[str],
    options: ImportOptions | None = None,
    *,
    color_table: str | os.PathLike[str],
    images_root: str | os.PathLike[str] | None = None,
    background_color: RGB | None = BLACK,
    ignore_colors: Sequence[RGB] = (),
) -> ImportReport:
    """Import colour-palette PNGs in one transaction (see the module docstring)."""
    options = options if options is not None else ImportOptions()
    plan = read_palette_pngs(Path(source), read_color_table(Path(color_table)),
                             images_root=Path(images_root) if images_root else None,
                             background_color=background_color, ignore_colors=tuple(ignore_colors))
    return commit_plan(project, plan, options)


def export_palette_png(
    project: Project,
    out: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    background_color: RGB = BLACK,
    ignore_color: RGB = WHITE,
) -> ExportReport:
    """Write colour PNGs in the classes' colours (see the module docstring)."""
    options = options if options is not None else ExportOptions()
    categories = project.categories()
    colors = {c.id: rgb_of(c.color) for c in categories}
    by_color: dict[RGB, str] = {}
    for c in categories:
        other = by_color.setdefault(colors[c.id], c.name)
        if other != c.name or colors[c.id] in (background_color, ignore_color):
            raise FormatError(f"class {c.name!r} has colour {c.color}, shared with "
                              f"{other if other != c.name else 'the background or ignore colour'}", path=str(project.path))
    start = start_export(project, out, options)
    images, files, stems, report = start.images, start.files, start.stems, start.report
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        (tmp / "labels").mkdir()
        for done, image in enumerate(images, 1):
            stem = stems.take(safe_stem(Path(image.path).stem))
            place_image(files[image.id], tmp / "images" / f"{stem}{files[image.id].suffix.lower()}")
            canvas = np.empty(image.size_hw + (3,), dtype=np.uint8)
            canvas[...] = background_color
            for ann in project.annotations(image.id):
                canvas[dense_mask(ann, image.size_hw)] = ignore_color if ann.is_ignore else colors[ann.category_id]
                report.annotations += 1
            PILImage.fromarray(canvas, mode="RGB").save(tmp / "labels" / f"{stem}.png")
            report_progress(options.progress, done, len(images))
        lines = [f"{r} {g} {b} {c.name}" for c in categories for (r, g, b) in [colors[c.id]]]
        (tmp / "color_table.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report.images["train"] = len(images)
    return report
