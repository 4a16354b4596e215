"""COCO panoptic export: one RGB PNG of segment ids per image plus ``segments_info``.

Layout written::

    OUT/annotations/panoptic_<split>.json
    OUT/annotations/panoptic_<split>/<image stem>.png   id = R + 256 G + 256^2 B, 0 = void
    OUT/images/<split>/<relative path>                   only with ``copy_images``

Shapes are painted back to front with the project's rasterizer (pycocotools). Each thing
annotation is one segment (``iscrowd`` kept); all annotations of one stuff category
(``is_thing`` false) on an image form one segment, as the format requires. Unlabelled pixels are
void (0). ``area`` and ``bbox`` ([x, y, w, h], tight pixel box) are computed from the written
PNG, so they always agree with it. Segment ids are 1..n per image; image ids are the project's.

What panoptic loses: every pixel has one segment, so pixels hidden by a later shape are lost and
a fully hidden shape is left out (reported); shapes become pixels (vertices, boxes); stuff
instances merge; attributes, ids, z-order values. There is no panoptic importer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage

from annotations.formats.atomic import atomic_directory
from annotations.formats.coco.instances import common_root, image_entry
from annotations.formats.common import (
    DEFAULT_EXPORT_OPTIONS,
    ExportOptions,
    ExportReport,
    guard_target,
    place_image,
    relpath_within,
    report_progress,
    require_image_files,
    rgb_of,
    select_images,
    split_images,
)
from annotations.formats.paths import UniqueNames, safe_stem
from annotations.formats.raster import dense_mask
from annotations.store import Project

VOID = 0


def id_to_rgb(ids_hw: np.ndarray) -> np.ndarray:
    """(H, W) segment ids -> (H, W, 3) uint8 with id = R + 256 G + 256^2 B."""
    ids = ids_hw.astype(np.uint32)
    return np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], axis=-1).astype(np.uint8)


def rgb_to_id(rgb_hw3: np.ndarray) -> np.ndarray:
    """(H, W, 3) colours -> (H, W) uint32 segment ids."""
    rgb = rgb_hw3.astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def segments_from_ids(ids_hw: np.ndarray) -> dict[int, tuple[int, list[int]]]:
    """Segment id -> (area in pixels, tight bbox [x, y, w, h]) for every id but void."""
    flat = ids_hw.reshape(-1)
    order = np.argsort(flat, kind="stable")
    values, starts, counts = np.unique(flat[order], return_index=True, return_counts=True)
    width = ids_hw.shape[1]
    result: dict[int, tuple[int, list[int]]] = {}
    for value, start, count in zip(values, starts, counts):
        if value == VOID:
            continue
        positions = order[start : start + count]
        rows, cols = positions // width, positions % width
        x, y = int(cols.min()), int(rows.min())
        result[int(value)] = (int(count), [x, y, int(cols.max()) - x + 1, int(rows.max()) - y + 1])
    return result


def export_coco_panoptic(
    project: Project, out: str | os.PathLike[str], options: ExportOptions = DEFAULT_EXPORT_OPTIONS,
) -> ExportReport:
    """Write a COCO panoptic data set (see the module docstring). Raises :class:`FormatError`
    for a non-empty target without ``overwrite`` or missing images with ``copy_images``."""
    categories = project.categories()
    is_thing = {c.id: c.is_thing for c in categories}
    coco_categories = [
        {"id": c.id, "name": c.name, "supercategory": c.supercategory or c.name, "isthing": int(c.is_thing),
         "color": list(rgb_of(c.color))}
        for c in categories
    ]
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    files = require_image_files(project, images) if options.copy_images else {im.id: project.image_path(im) for im in images}
    root = common_root(list(files.values()))
    guard_target(project, out, files.values())
    report = ExportReport(target=Path(out).absolute())
    done = 0
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for split, members in splits.items():
            png_folder = tmp / "annotations" / f"panoptic_{split}"
            png_folder.mkdir(parents=True)
            names = UniqueNames()
            coco_images, coco_annotations = [], []
            for image in members:
                rel = relpath_within(files[image.id], root)
                coco_images.append(image_entry(image, rel))
                canvas = np.zeros(image.size_hw, dtype=np.uint32)
                segments: list[dict[str, Any]] = []
                stuff_segment: dict[int, int] = {}
                owners: dict[int, list[int]] = {}
                for ann in project.annotations(image.id):
                    if ann.is_ignore and ann.category_id == 0:  # class-agnostic ignore region: void (0) in the PNG
                        canvas[dense_mask(ann, image.size_hw)] = 0
                        continue
                    if not is_thing.get(ann.category_id, True) and ann.category_id in stuff_segment:
                        segment_id = stuff_segment[ann.category_id]
                    else:
                        segment_id = len(segments) + 1
                        crowd = int(bool(ann.iscrowd) and is_thing.get(ann.category_id, True))
                        segments.append({"id": segment_id, "category_id": ann.category_id, "iscrowd": crowd})
                        if not is_thing.get(ann.category_id, True):
                            stuff_segment[ann.category_id] = segment_id
                    owners.setdefault(segment_id, []).append(ann.id)
                    canvas[dense_mask(ann, image.size_hw)] = segment_id
                measured = segments_from_ids(canvas)
                kept = []
                for segment in segments:
                    if segment["id"] not in measured:
                        report.skipped.append(f"annotation(s) {owners[segment['id']]} on {image.path}: hidden by later shapes")
                        continue
                    area, bbox = measured[segment["id"]]
                    kept.append({**segment, "area": area, "bbox": bbox})
                png_name = f"{names.take(safe_stem(Path(image.path).stem))}.png"
                PILImage.fromarray(id_to_rgb(canvas)).save(png_folder / png_name)
                coco_annotations.append({"image_id": image.id, "file_name": png_name, "segments_info": kept})
                report.annotations += len(kept)
                if options.copy_images:
                    place_image(files[image.id], tmp / "images" / split / rel)
                done += 1
                report_progress(options.progress, done, len(images))
            info: dict[str, Any] = {"description": f"exported by SegStudio from {project.path.name}", "version": "1.0"}
            if not options.copy_images:
                info["image_root"] = root.as_posix()
            document = {"info": info, "licenses": [], "images": coco_images, "annotations": coco_annotations,
                        "categories": coco_categories}
            (tmp / "annotations" / f"panoptic_{split}.json").write_text(json.dumps(document, separators=(",", ":")),
                                                                       encoding="utf-8")
            report.images[split] = len(members)
    return report
