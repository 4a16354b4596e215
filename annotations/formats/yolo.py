"""YOLO export (Ultralytics layout): detection boxes or segmentation polygons, plus data.yaml.

Layout written::

    OUT/data.yaml                       path, train/val/test folders, nc, names
    OUT/classes.json                    YOLO class id -> project category id and name
    OUT/images/<split>/<name>.<ext>     copied image files
    OUT/labels/<split>/<name>.txt       one line per object, coordinates normalized to [0, 1]

``task="detect"``: ``class cx cy w h`` (one box per shape, from the whole shape: every part of a
multi-part mask or polygon); ``task="segment"``: ``class x1 y1 x2 y2 ...``, one polygon per
shape. A label line is an object for Ultralytics, so a multi-part shape is written as ONE line:
its parts (and holes) joined by zero-area bridges the way Ultralytics' converters join them
(``multipart="merge"``, the default; :mod:`annotations.formats.yolo_polygons`), or only its
largest part (``multipart="largest"``, reported as a warning). Every ring is simplified with
Douglas-Peucker at ``tolerance_px`` (default
:data:`~annotations.geometry.simplify.DEFAULT_SIMPLIFY_TOLERANCE_PX`, the editor's setting); a
written polygon whose rasterization has IoU < :data:`IOU_REPORT_THRESHOLD` with the source mask
is reported (after falling back to the unsimplified outline).

Classes are contiguous 0-based positions in the project's category order; ``classes.json``
maps them back to project category ids. ``path`` in data.yaml is the absolute export folder
(Ultralytics resolves a relative ``path`` against its own datasets folder, not the yaml's):
edit it after moving the folder. An image without objects gets an empty label file (a
background image). Without a ``val`` split, ``val`` points at the training images (Ultralytics
requires one).

What YOLO loses (there is no importer): crowd shapes (no ignore regions; reported); separate
parts (bridged into one outline); vertices within the tolerance; boxes and polygons are clipped
to the image; coordinates are written with 10 significant digits; attributes, ids, z-order
(overlaps are not resolved), category colours and supercategories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotations.errors import FormatError, GeometryError
from annotations.formats.atomic import atomic_directory
from annotations.formats.common import (
    ExportOptions,
    ExportReport,
    guard_target,
    place_image,
    report_progress,
    require_image_files,
    select_images,
    split_images,
)
from annotations.formats.paths import UniqueNames, safe_stem
from annotations.formats.yolo_polygons import (
    DEFAULT_MULTIPART,
    IOU_REPORT_THRESHOLD,
    MultipartMode,
    object_polygon,
)
from annotations.geometry import Box, Mask, clip_to_image, to_box
from annotations.geometry.simplify import DEFAULT_SIMPLIFY_TOLERANCE_PX
from annotations.model import Annotation, Category, Image
from annotations.store import Project

TASKS = ("detect", "segment")
CLASS_MAP_FILE = "classes.json"

__all__ = ["TASKS", "CLASS_MAP_FILE", "IOU_REPORT_THRESHOLD", "MultipartMode", "YoloExportReport",
           "detection_line", "segment_line", "export_yolo"]


@dataclass
class YoloExportReport(ExportReport):
    """:class:`ExportReport` plus ``warnings``: objects written with a loss worth knowing (largest
    part only; polygon IoU with the source mask below :data:`IOU_REPORT_THRESHOLD`)."""

    warnings: list[str] = field(default_factory=list)
    objects: int = 0  # label lines written

    def summary(self) -> str:
        """The terminal summary, then up to 20 warning lines."""
        text = super().summary()
        if self.warnings:
            text += f"; {len(self.warnings)} warning(s)"
            text += "".join(f"\n  warning: {w}" for w in self.warnings[:20])
            if len(self.warnings) > 20:
                text += f"\n  ... and {len(self.warnings) - 20} more warnings"
        return text


def _fmt(value: float) -> str:
    return f"{min(max(value, 0.0), 1.0):.10g}"


def detection_line(class_index: int, box: Box, size_hw: tuple[int, int]) -> str:
    """``class cx cy w h`` normalized by the image (height, width)."""
    height, width = size_hw
    return " ".join([str(class_index), _fmt((box.x1 + box.x2) / 2 / width), _fmt((box.y1 + box.y2) / 2 / height),
                     _fmt(box.width / width), _fmt(box.height / height)])


def segment_line(class_index: int, ring_xy: np.ndarray, size_hw: tuple[int, int]) -> str:
    """``class x1 y1 ...`` of one polygon (N, 2) in pixels, normalized by the image (height, width)."""
    height, width = size_hw
    coords = []
    for x, y in np.asarray(ring_xy, dtype=np.float64).reshape(-1, 2):
        coords += [_fmt(x / width), _fmt(y / height)]
    return " ".join([str(class_index), *coords])


def export_yolo(project: Project, out: str | os.PathLike[str], options: ExportOptions | None = None, *,
                task: str = "segment", multipart: MultipartMode | str = DEFAULT_MULTIPART,
                tolerance_px: float = DEFAULT_SIMPLIFY_TOLERANCE_PX) -> YoloExportReport:
    """Write a YOLO data set (see the module docstring). Raises :class:`FormatError` for an
    unknown task or multipart mode, a negative tolerance, missing images, or a non-empty target
    without ``overwrite``."""
    if task not in TASKS:
        raise FormatError(f"unknown YOLO task {task!r} (expected one of {', '.join(TASKS)})")
    options = options if options is not None else ExportOptions()
    try:
        mode = MultipartMode(multipart)
    except ValueError:
        raise FormatError(f"unknown YOLO multipart mode {multipart!r} (expected merge or largest)") from None
    if not tolerance_px >= 0:
        raise FormatError(f"YOLO polygon tolerance must be >= 0 pixels, got {tolerance_px}")
    categories = project.categories()
    index_of = {c.id: i for i, c in enumerate(categories)}
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    files = require_image_files(project, images)
    guard_target(project, out, files.values())
    report = YoloExportReport(target=Path(out).absolute())
    names = UniqueNames()
    writer = _LineWriter(index_of, task, mode, tolerance_px, report)
    done = 0
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for split, members in splits.items():
            (tmp / "images" / split).mkdir(parents=True)
            (tmp / "labels" / split).mkdir(parents=True)
            for image in members:
                stem = names.take(safe_stem(Path(image.path).stem))
                place_image(files[image.id], tmp / "images" / split / f"{stem}{files[image.id].suffix.lower()}")
                lines = writer.lines(project.annotations(image.id), image)
                (tmp / "labels" / split / f"{stem}.txt").write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
                done += 1
                report_progress(options.progress, done, len(images))
            report.images[split] = len(members)
        _write_yaml(tmp / "data.yaml", report.target, list(splits), [c.name for c in categories])
        _write_class_map(tmp / CLASS_MAP_FILE, categories)
    return report


@dataclass
class _LineWriter:
    """Label lines of one image's shapes, with skips and warnings recorded in ``report``."""

    index_of: dict[int, int]
    task: str
    multipart: MultipartMode
    tolerance_px: float
    report: YoloExportReport

    def lines(self, annotations: Sequence[Annotation], image: Image) -> list[str]:
        """One line per shape that has area inside the image."""
        lines: list[str] = []
        for ann in annotations:
            line = self._line(ann, image)
            if line is not None:
                lines.append(line)
                self.report.annotations += 1
                self.report.objects += 1
        return lines

    def _line(self, ann: Annotation, image: Image) -> str | None:
        where = f"annotation {ann.id} on {image.path}"
        if ann.iscrowd:
            self.report.skipped.append(f"{where}: crowd (YOLO has no ignore regions)")
            return None
        try:
            geometry = clip_to_image(ann.geometry, image.size_hw)
        except GeometryError:
            self.report.skipped.append(f"{where}: outside the image")
            return None
        if isinstance(geometry, Mask) and not geometry.area:
            self.report.skipped.append(f"{where}: empty mask")
            return None
        class_index = self.index_of[ann.category_id]
        if self.task == "detect":
            return detection_line(class_index, to_box(geometry), image.size_hw)
        try:
            written = object_polygon(geometry, image.size_hw, multipart=self.multipart, tolerance_px=self.tolerance_px)
        except GeometryError:
            self.report.skipped.append(f"{where}: no polygon with area")
            return None
        if written.parts_written < written.parts:
            self.report.warnings.append(f"{where}: {written.parts} parts, only the largest written")
        if written.iou < IOU_REPORT_THRESHOLD:
            self.report.warnings.append(f"{where}: written polygon has IoU {written.iou:.3f} with the shape's mask")
        return segment_line(class_index, written.ring_xy, image.size_hw)


def _write_yaml(path: Path, root: Path, splits: list[str], class_names: list[str]) -> None:
    val = "val" if "val" in splits else "train"
    lines = ["# YOLO data set exported by SegStudio. train/val/test are relative to path (the folder",
             f"# of this file when written; edit path after moving it). Class ids -> project ids: {CLASS_MAP_FILE}",
             f"path: {json.dumps(str(root), ensure_ascii=False)}",
             "train: images/train", f"val: images/{val}"]
    if "test" in splits:
        lines.append("test: images/test")
    lines.append(f"nc: {len(class_names)}")
    lines.append("names:")
    # JSON strings are valid YAML double-quoted scalars, so any class name survives.
    lines += [f"  {i}: {json.dumps(name, ensure_ascii=False)}" for i, name in enumerate(class_names)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_class_map(path: Path, categories: Sequence[Category]) -> None:
    rows = [{"yolo_class": i, "category_id": int(c.id), "name": c.name} for i, c in enumerate(categories)]
    path.write_text(json.dumps({"classes": rows}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
