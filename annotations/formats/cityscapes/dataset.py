"""Cityscapes: export a project to ``leftImg8bit/`` + ``gtFine/`` and import ``polygons.json``.

Layout written (torchvision's ``Cityscapes(root, split, mode="fine")`` reads it)::

    OUT/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    OUT/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_polygons.json
                                                  _gtFine_labelIds.png       8-bit, label id
                                                  _gtFine_instanceIds.png    16-bit, id*1000+k
                                                  _gtFine_labelTrainIds.png  8-bit, trainId
                                                  _gtFine_color.png          RGBA, label colour

``seq`` and ``frame`` are 6 digits; ``city`` has no underscore. Images imported from
Cityscapes keep their names; others get ``--city`` (default ``segstudio``), seq 0 and a running
frame number. Project classes map to Cityscapes labels by name (a Cityscapes-preset project) or
through ``mapping``; a class in use that maps to nothing is an error.

``polygons.json`` lists objects back to front (z-order): cityscapesscripts paints them in file
order. The PNGs are painted from exactly those polygons the way cityscapesscripts does
(``json2labelImg``/``json2instanceImg``: PIL fill including the outline), so they agree with it
pixel for pixel. Cityscapes polygon coordinates are pixel centres (PIL's convention): a
SegStudio vertex (x, y) is written as (x - 0.5, y - 0.5) and read back with + 0.5. Masks are
written as their outer contours through the boundary pixel centres (OpenCV), which PIL fills
back to the same pixels for solid shapes. A crowd annotation of a class with instances is
written with the group label (``cargroup``): no instance number.

What Cityscapes loses (import(export(P)) compared with P):
- polygon holes, and holes in masks (the hole is painted with the object);
- masks become polygons (outer contours): isolated diagonal pixels may change, and our
  rasterizer (pycocotools) fills those polygons a little smaller than PIL does;
- a multi-part shape becomes one object (one instance) per part;
- boxes become 4-vertex polygons; attributes, ids, status; classes are renamed to their
  Cityscapes label; crowd shapes of classes without instances become plain shapes.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

from annotations.errors import FormatError, GeometryError
from annotations.formats.atomic import atomic_directory
from annotations.formats.cityscapes.labels import BY_NAME, UNLABELED, CsLabel, resolve
from annotations.formats.common import (
    DEFAULT_EXPORT_OPTIONS,
    DEFAULT_IMPORT_OPTIONS,
    ExportOptions,
    ExportReport,
    ImportOptions,
    ImportReport,
    guard_target,
    hex_color,
    image_size_hw,
    place_image,
    report_progress,
    require_image_files,
    select_images,
    split_images,
)
from annotations.formats.name_map import cityscapes_key_from_stem, cityscapes_rows, write_name_map
from annotations.formats.paths import ensure_inside
from annotations.formats.plan import ImportPlan, PlannedAnnotation, PlannedCategory, PlannedImage, commit_plan
from annotations.formats.readers import load_json, require
from annotations.formats.validate import check_geometry, check_header_size, check_points, check_size, is_number
from annotations.geometry import Box, Geometry, Mask, Polygon, rle
from annotations.model import Annotation, Category, Image
from annotations.store import Project

CITY_NAME = re.compile(r"^[A-Za-z0-9-]+$")
MAX_INSTANCES = 1000


@dataclass(frozen=True)
class CsObject:
    """One polygon of ``polygons.json``: its label (possibly ``<x>group``) and vertices in
    Cityscapes (pixel-centre) coordinates."""

    label: str
    polygon: tuple[tuple[float, float], ...]


# ====================================================================================== export
def label_for(category: Category, mapping: dict[str, str] | None) -> CsLabel | None:
    """The Cityscapes row a project class maps to (``mapping`` first, then the class name)."""
    name = (mapping or {}).get(category.name, category.name)
    return BY_NAME.get(name)


def _cs_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _ring_to_cs(ring_xy: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((_cs_number(x - 0.5), _cs_number(y - 0.5)) for x, y in ring_xy)


def mask_to_cs_polygons(mask: Mask) -> list[tuple[tuple[float, float], ...]]:
    """Outer contours of a mask through its boundary pixel centres (Cityscapes coordinates);
    contours of one or two points are padded to three so PIL can draw them."""
    dense = rle.decode(mask).astype(np.uint8)
    contours, _ = cv2.findContours(dense, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons: list[tuple[tuple[float, float], ...]] = []
    for contour in contours:
        points: list[tuple[float, float]] = [(int(x), int(y)) for x, y in contour.reshape(-1, 2)]
        while len(points) < 3:
            points.append(points[-1])
        polygons.append(tuple(points))
    return polygons


def objects_of(ann: Annotation, label: CsLabel, size_hw: tuple[int, int]) -> list[CsObject]:
    """The polygons.json objects of one annotation (one per polygon part or mask contour)."""
    name = f"{label.name}group" if ann.iscrowd and label.has_instances else label.name
    geometry = ann.geometry
    if isinstance(geometry, Box):
        ring = np.array([[geometry.x1, geometry.y1], [geometry.x2, geometry.y1],
                         [geometry.x2, geometry.y2], [geometry.x1, geometry.y2]])
        return [CsObject(name, _ring_to_cs(ring))]
    if isinstance(geometry, Polygon):
        return [CsObject(name, _ring_to_cs(part.exterior)) for part in geometry.parts]
    return [CsObject(name, polygon) for polygon in mask_to_cs_polygons(geometry)]


def render(objects: Sequence[CsObject], size_hw: tuple[int, int]) -> dict[str, PILImage.Image]:
    """The four PNGs of one image painted from its objects, as cityscapesscripts'
    ``createLabelImage`` (ids, trainIds, color) and ``createInstanceImage`` (ids) do.

    Returns PIL images: ``labelIds`` (L), ``labelTrainIds`` (L), ``color`` (RGBA) and
    ``instanceIds`` (I;16). Raises :class:`FormatError` for an unknown label or 1000+
    instances of one class."""
    height, width = size_hw
    ids = PILImage.new("L", (width, height), UNLABELED.id)
    train_ids = PILImage.new("L", (width, height), UNLABELED.train_id)
    color = PILImage.new("RGBA", (width, height), UNLABELED.color)
    instances = PILImage.new("I", (width, height), UNLABELED.id)
    draws = [ImageDraw.Draw(im) for im in (ids, train_ids, color, instances)]
    counters: dict[str, int] = {}
    for obj in objects:
        found = resolve(obj.label)
        if found is None:
            raise FormatError(f"label {obj.label!r} is not in the Cityscapes table")
        label, is_group = found
        points = list(obj.polygon)
        if label.id >= 0:
            draws[0].polygon(points, fill=label.id)
            draws[1].polygon(points, fill=label.train_id)
            draws[2].polygon(points, fill=label.color)
        value = label.id
        if label.has_instances and not is_group and value != 255:
            k = counters.get(label.name, 0)
            if k >= MAX_INSTANCES:
                raise FormatError(f"more than {MAX_INSTANCES} instances of {label.name!r} in one image (id*1000+k overflows)")
            counters[label.name] = k + 1
            value = value * 1000 + k
        if value >= 0:
            draws[3].polygon(points, fill=value)
    instance_16 = PILImage.fromarray(np.asarray(instances, dtype=np.int32).astype(np.uint16))
    return {"labelIds": ids, "labelTrainIds": train_ids, "color": color, "instanceIds": instance_16}


def _names(images: Sequence[Image], default_city: str) -> dict[int, tuple[str, int, int]]:
    used: set[tuple[str, int, int]] = set()
    result: dict[int, tuple[str, int, int]] = {}
    pending: list[Image] = []
    for image in images:
        info = image.attributes.get("cityscapes") or cityscapes_key_from_stem(image.path)  # keep a Cityscapes stem
        key = None
        if isinstance(info, dict):
            city, seq, frame = info.get("city"), info.get("seq"), info.get("frame")
            if (isinstance(city, str) and CITY_NAME.match(city) and isinstance(seq, int) and isinstance(frame, int)
                    and 0 <= seq < 10**6 and 0 <= frame < 10**6):
                key = (city, seq, frame)
        if key is None or key in used:
            pending.append(image)
            continue
        used.add(key)
        result[image.id] = key
    frame = 0
    for image in pending:
        while (default_city, 0, frame) in used:
            frame += 1
        if frame >= 10**6:
            raise FormatError("more than a million images for one Cityscapes city")
        used.add((default_city, 0, frame))
        result[image.id] = (default_city, 0, frame)
    return result


def export_cityscapes(
    project: Project,
    out: str | os.PathLike[str],
    options: ExportOptions = DEFAULT_EXPORT_OPTIONS,
    *,
    mapping: dict[str, str] | None = None,
    city: str = "segstudio",
) -> ExportReport:
    """Write a Cityscapes tree (see the module docstring). Raises :class:`FormatError` for a
    class in use with no Cityscapes label (name the labels with ``mapping``), a bad city name,
    a mapping to an unknown label, missing images, or a non-empty target without
    ``overwrite``; the target is unchanged then."""
    if not CITY_NAME.match(city):
        raise FormatError(f"city name {city!r} must be letters, digits or '-' (no underscore)")
    for name, target in (mapping or {}).items():
        if target not in BY_NAME:
            raise FormatError(f"mapping {name!r} -> {target!r}: {target!r} is not a Cityscapes label")
    categories = {c.id: c for c in project.categories()}
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    labels = {cid: label_for(c, mapping) for cid, c in categories.items()}
    labels[0] = BY_NAME["unlabeled"]  # NO_CATEGORY: a class-agnostic ignore region is void (trainId 255)
    annotations = {im.id: project.annotations(im.id) for im in images}
    unmapped = sorted({categories[a.category_id].name
                       for anns in annotations.values() for a in anns if labels[a.category_id] is None})
    if unmapped:
        raise FormatError(
            f"class(es) {', '.join(repr(n) for n in unmapped)} have no Cityscapes label; map them with "
            f"--mapping CLASS=LABEL (labels: {', '.join(BY_NAME)})", path=str(project.path),
        )
    files = require_image_files(project, images)
    guard_target(project, out, files.values())
    names = _names(images, city)
    report = ExportReport(target=Path(out).absolute())
    done = 0
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for split, members in splits.items():
            for image in members:
                city_name, seq, frame = names[image.id]
                prefix = f"{city_name}_{seq:06d}_{frame:06d}"
                left = tmp / "leftImg8bit" / split / city_name
                fine = tmp / "gtFine" / split / city_name
                fine.mkdir(parents=True, exist_ok=True)
                place_image(files[image.id], left / f"{prefix}_leftImg8bit.png", convert_to="png")
                objects: list[CsObject] = []
                for ann in annotations[image.id]:
                    label = labels[ann.category_id]
                    assert label is not None
                    found = objects_of(ann, label, image.size_hw)
                    if not found:
                        report.skipped.append(f"annotation {ann.id} on {image.path}: empty")
                    objects.extend(found)
                document = {
                    "imgHeight": image.height,
                    "imgWidth": image.width,
                    "objects": [{"label": o.label, "polygon": [list(p) for p in o.polygon]} for o in objects],
                }
                (fine / f"{prefix}_gtFine_polygons.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
                try:
                    pngs = render(objects, image.size_hw)
                except FormatError as exc:
                    raise FormatError(str(exc), path=str(project.path), item=image.path) from exc
                for suffix, png in pngs.items():
                    png.save(fine / f"{prefix}_gtFine_{suffix}.png")
                report.annotations += len(annotations[image.id])
                done += 1
                report_progress(options.progress, done, len(images))
            report.images[split] = len(members)
        write_name_map(tmp, cityscapes_rows(splits, names))  # exported stem -> original image path
    return report


# ====================================================================================== import
def import_cityscapes(
    project: Project, source: str | os.PathLike[str], options: ImportOptions = DEFAULT_IMPORT_OPTIONS,
) -> ImportReport:
    """Import ``gtFine/<split>/<city>/*_gtFine_polygons.json`` under ``source`` (with the
    images in ``leftImg8bit/``) in one transaction."""
    return commit_plan(project, read_cityscapes(source, allow_missing_images=options.allow_missing_images), options)


def category_of(label: CsLabel) -> PlannedCategory:
    """The project class of a Cityscapes label: id = label id where >= 1, the table's columns
    as attributes (``trainId``, ``category``, ``categoryId``, ``hasInstances``, ``ignoreInEval``)."""
    return PlannedCategory(
        label.name,
        preferred_id=label.id if label.id >= 1 else None,
        color=hex_color(label.color),
        supercategory=label.category,
        is_thing=label.has_instances,
        attributes={"cityscapesId": label.id, "trainId": label.train_id, "category": label.category,
                    "categoryId": label.category_id, "hasInstances": label.has_instances, "ignoreInEval": label.ignore_in_eval},
    )


_YES = frozenset({"1", "true", "yes", "y"})
_NO = frozenset({"0", "false", "no", "n", ""})


def _is_deleted(value: object, *, path: str, item: str) -> bool:
    """cityscapesscripts' ``deleted`` flag: true for 1/true/"yes"/"true"/"1"; false when absent or
    0/false/"no"/"false"/"0". Anything else is a :class:`FormatError` (``"no"`` is never true)."""
    if value is None or value is False or value == 0:
        return False
    if value is True or (isinstance(value, int) and value == 1):
        return True
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise FormatError(f"'deleted' must be a boolean, 0/1 or yes/no, got {value!r}"[:200], path=path, item=item)


def read_cityscapes(source: str | os.PathLike[str], *, allow_missing_images: bool = False) -> ImportPlan:
    """Parse a Cityscapes tree into an :class:`ImportPlan` (nothing stored).

    Each non-deleted object becomes a polygon (a ``<x>group`` label becomes class ``x`` with
    ``iscrowd``). Raises :class:`FormatError` naming the file and object for malformed JSON,
    an unknown label, a bad polygon, a file name that breaks the Cityscapes naming rules, or a
    missing image."""
    root = Path(source).absolute()
    if root.name == "gtFine":
        root = root.parent
    files = sorted((root / "gtFine").glob("*/*/*_gtFine_polygons.json"))
    if not files:
        raise FormatError("no gtFine/<split>/<city>/*_gtFine_polygons.json found", path=str(root))
    plan = ImportPlan(source=root)
    seen_labels: dict[str, CsLabel] = {}
    missing: list[str] = []
    for file in files:
        path = str(file)
        split, city = file.parent.parent.name, file.parent.name
        prefix = file.name[: -len("_gtFine_polygons.json")]
        parts = prefix.split("_")
        if len(parts) != 3 or parts[0] != city or not parts[1].isdigit() or not parts[2].isdigit():
            raise FormatError(f"file name must be <city>_<seq>_<frame>_gtFine_polygons.json with city {city!r}", path=path)
        ensure_inside(file, root, name=str(file.relative_to(root)), path=path)
        data = load_json(file, what="Cityscapes polygons file")
        height = require(data, "imgHeight", int, path=path, item="top level")
        width = require(data, "imgWidth", int, path=path, item="top level")
        height, width = check_size(width, height, path=path, item="imgWidth/imgHeight")
        objects = require(data, "objects", list, path=path, item="top level")
        image_file = root / "leftImg8bit" / split / city / f"{prefix}_leftImg8bit.png"
        if not image_file.is_file():
            missing.append(str(image_file.relative_to(root)))
        else:
            ensure_inside(image_file, root, name=str(image_file.relative_to(root)), path=path)
            check_header_size((height, width), image_size_hw(image_file), path=path, item="imgWidth/imgHeight")
        image = PlannedImage(image_file, width, height, source=path,
                             attributes={"cityscapes": {"city": city, "seq": int(parts[1]), "frame": int(parts[2])}})
        for index, obj in enumerate(objects):
            item = f"objects[{index}]"
            label_name = require(obj, "label", str, path=path, item=item)
            if _is_deleted(obj.get("deleted"), path=path, item=f"{item}.deleted"):
                continue
            found = resolve(label_name)
            if found is None:
                raise FormatError(f"unknown Cityscapes label {label_name!r}", path=path, item=item)
            label, is_group = found
            seen_labels.setdefault(label.name, label)
            vertices = require(obj, "polygon", list, path=path, item=item)
            if not all(isinstance(p, list) and all(is_number(v) for v in p) for p in vertices):
                raise FormatError("polygon must be a list of [x, y] numbers", path=path, item=item)
            ring = check_points(vertices, (height, width), path=path, item=item)
            if len(np.unique(ring, axis=0)) < 3:
                plan.skipped.append(f"{path} {item} ({label_name!r}): fewer than 3 distinct vertices, skipped")
                continue
            try:
                geometry: Geometry = Polygon.from_points(ring + 0.5)
            except GeometryError as exc:
                raise FormatError(str(exc), path=path, item=item) from exc
            check_geometry(geometry, (height, width), path=path, item=item)
            crowd = is_group and label.has_instances
            image.annotations.append(PlannedAnnotation(label.name, geometry, crowd, {}, f"{file.name} {item}"))
        plan.images.append(image)
    if missing and not allow_missing_images:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FormatError(f"{len(missing)} image file(s) missing: {', '.join(missing[:5])}{more}", path=str(root))
    order = {label.name: i for i, label in enumerate(BY_NAME.values())}
    plan.categories = [category_of(label) for label in sorted(seen_labels.values(), key=lambda seen: order[seen.name])]
    return plan
