"""YOLO export (Ultralytics layout): detection boxes or segmentation polygons, plus data.yaml.

Layout written::

    OUT/data.yaml                       train/val folders (relative to the yaml), nc, names
    OUT/images/<split>/<name>.<ext>     copied image files
    OUT/labels/<split>/<name>.txt       one line per object, coordinates normalized to [0, 1]

``task="detect"``: ``class cx cy w h``; ``task="segment"``: ``class x1 y1 x2 y2 ...`` (polygon
vertices). Classes are 0-based positions in the project's category order. An image without
objects gets an empty label file (a background image). Without a ``val`` split, ``val`` points
at the training images (Ultralytics requires one).

What YOLO loses (there is no importer): crowd shapes (no ignore regions; reported); polygon
holes; a multi-part shape becomes one object per part; masks become traced polygons; boxes
and polygons are clipped to the image; coordinates are written with 10 significant digits; attributes, ids,
z-order (overlaps are not resolved), category colours and supercategories.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from annotations.errors import FormatError, GeometryError
from annotations.geometry import Box, Mask, Polygon, mask_to_polygon, to_box
from annotations.model import Annotation, Image
from annotations.store import Project
from annotations.formats.atomic import atomic_directory
from annotations.formats.common import (
    guard_target,
    ExportOptions,
    ExportReport,
    place_image,
    report_progress,
    require_image_files,
    select_images,
    split_images,
)
from annotations.formats.paths import UniqueNames, safe_stem
from annotations.geometry import clip_to_image

TASKS = ("detect", "segment")


def _fmt(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.10g}"


def detection_line(class_index: int, box: Box, size_hw: tuple[int, int]) -> str:
    """``class cx cy w h`` normalized by the image (height, width)."""
    height, width = size_hw
    return " ".join([str(class_index), _fmt((box.x1 + box.x2) / 2 / width), _fmt((box.y1 + box.y2) / 2 / height),
                     _fmt(box.width / width), _fmt(box.height / height)])


def segment_lines(class_index: int, annotation: Annotation, size_hw: tuple[int, int]) -> list[str]:
    """``class x1 y1 ...`` lines (one per polygon part) normalized by the image (height, width)."""
    height, width = size_hw
    geometry = annotation.geometry
    if isinstance(geometry, Box):
        rings = [np.array([[geometry.x1, geometry.y1], [geometry.x2, geometry.y1], [geometry.x2, geometry.y2], [geometry.x1, geometry.y2]])]
    else:
        polygon = geometry if isinstance(geometry, Polygon) else mask_to_polygon(geometry)
        rings = [part.exterior for part in polygon.parts]
    lines = []
    for ring in rings:
        if len(ring) < 3:
            continue
        coords = []
        for x, y in ring:
            coords += [_fmt(x / width), _fmt(y / height)]
        lines.append(" ".join([str(class_index), *coords]))
    return lines


def export_yolo(project: Project, out: "str | os.PathLike[str]", options: ExportOptions = ExportOptions(), *, task: str = "segment") -> ExportReport:
    """Write a YOLO data set (see the module docstring). Raises :class:`FormatError` for an
    unknown task, missing images, or a non-empty target without ``overwrite``."""
    if task not in TASKS:
        raise FormatError(f"unknown YOLO task {task!r} (expected one of {', '.join(TASKS)})")
    categories = project.categories()
    index_of = {c.id: i for i, c in enumerate(categories)}
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    files = require_image_files(project, images)
    guard_target(project, out, files.values())
    report = ExportReport(target=Path(out).absolute())
    names = UniqueNames()
    done = 0
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for split, members in splits.items():
            (tmp / "images" / split).mkdir(parents=True)
            (tmp / "labels" / split).mkdir(parents=True)
            for image in members:
                stem = names.take(safe_stem(Path(image.path).stem))
                place_image(files[image.id], tmp / "images" / split / f"{stem}{files[image.id].suffix.lower()}")
                lines = _lines(project.annotations(image.id), image, index_of, task, report)
                (tmp / "labels" / split / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
                done += 1
                report_progress(options.progress, done, len(images))
            report.images[split] = len(members)
        _write_yaml(tmp / "data.yaml", list(splits), [c.name for c in categories])
    return report


def _lines(annotations: Sequence[Annotation], image: Image, index_of: dict[int, int], task: str, report: ExportReport) -> list[str]:
    lines: list[str] = []
    for ann in annotations:
        if ann.iscrowd:
            report.skipped.append(f"annotation {ann.id} on {image.path}: crowd (YOLO has no ignore regions)")
            continue
        try:
            geometry = clip_to_image(ann.geometry, image.size_hw)
        except GeometryError:
            report.skipped.append(f"annotation {ann.id} on {image.path}: outside the image")
            continue
        if isinstance(geometry, Mask) and not geometry.area:
            report.skipped.append(f"annotation {ann.id} on {image.path}: empty mask")
            continue
        clipped = ann.with_changes(geometry=geometry)
        if task == "detect":
            lines.append(detection_line(index_of[ann.category_id], to_box(geometry), image.size_hw))
        else:
            try:
                found = segment_lines(index_of[ann.category_id], clipped, image.size_hw)
            except GeometryError:
                found = []
            if not found:
                report.skipped.append(f"annotation {ann.id} on {image.path}: no polygon with area")
            lines.extend(found)
        report.annotations += 1
    return lines


def _write_yaml(path: Path, splits: list[str], class_names: list[str]) -> None:
    val = "val" if "val" in splits else "train"
    lines = ["# YOLO data set exported by SegStudio; paths are relative to this file", "train: images/train", f"val: images/{val}"]
    if "test" in splits:
        lines.append("test: images/test")
    lines.append(f"nc: {len(class_names)}")
    lines.append("names:")
    # JSON strings are valid YAML double-quoted scalars, so any class name survives.
    lines += [f"  {i}: {json.dumps(name, ensure_ascii=False)}" for i, name in enumerate(class_names)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
