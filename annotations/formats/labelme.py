"""labelme JSON import (one file or a folder of them, searched recursively).

Shapes: ``polygon`` (also files without ``shape_type``) -> polygon; ``rectangle`` -> box;
``circle`` -> polygon (chord error <= 0.1 px, at least 12 vertices); ``oriented_rectangle`` ->
polygon; ``mask`` -> mask (the PNG patch placed at its top-left point, clipped to the image).
``point``, ``points``, ``line`` and ``linestrip`` have no area: they are skipped and reported.
Shapes with the same ``(label, group_id)`` (``group_id`` not null) form one instance: a
multi-part polygon, or a mask when a mask patch is among them. Labels ``__ignore__`` and
``_background_`` (labelme's void and background conventions) are skipped and reported.
File order is paint order (z-order). Image ``flags`` go to the image's attributes, shape
``flags`` and ``description`` to the annotation's.

The image: ``imagePath`` is relative to the JSON file (Windows ``\\`` accepted) and must stay
inside the imported folder. When it does not name an existing file but ``imageData`` is
embedded, the embedded image is written next to the project (``<project>_images/``) and used.

What is lost: point and line shapes; ``__ignore__`` regions; shape colours (``line_color``,
``fill_color``); ``otherData`` keys; circles become polygons (<= 0.1 px chord error).
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from annotations.errors import FormatError, GeometryError, ImageFileError
from annotations.formats.common import DEFAULT_IMPORT_OPTIONS, ImportOptions, ImportReport, image_size_hw
from annotations.formats.paths import ensure_inside, join_within, safe_stem
from annotations.formats.plan import ImportPlan, PlannedAnnotation, PlannedImage, commit_plan, merge_plans
from annotations.formats.raster import geometry_mask
from annotations.formats.readers import load_json
from annotations.formats.validate import MAX_SIDE, check_geometry, check_id, check_points, check_size, is_number
from annotations.geometry import Box, Geometry, Mask, Polygon, PolygonPart, rle
from annotations.imageio import decode_pil, read_header
from annotations.store import Project

SKIPPED_LABELS = ("__ignore__", "_background_")
NO_AREA = ("point", "points", "line", "linestrip")
POINT_COUNTS = {"rectangle": 2, "circle": 2, "mask": 2, "oriented_rectangle": 4, "point": 1, "line": 2}


def import_labelme(
    project: Project, source: str | os.PathLike[str], options: ImportOptions = DEFAULT_IMPORT_OPTIONS,
) -> ImportReport:
    """Import labelme JSON files (``source`` is a file or a folder) in one transaction."""
    extract_dir = project.root / f"{project.path.stem}_images"
    plan = read_labelme(source, extract_dir=extract_dir, allow_missing_images=options.allow_missing_images)
    return commit_plan(project, plan, options)


def read_labelme(source: str | os.PathLike[str], *, extract_dir: Path, allow_missing_images: bool = False) -> ImportPlan:
    """Parse labelme files into an :class:`ImportPlan`. JSON files in a folder that are not
    labelme files (no ``shapes`` list) are skipped and reported. Embedded images are written
    to ``extract_dir`` (listed in ``plan.created_files`` so a failed commit removes them)."""
    source = Path(source).absolute()
    if source.is_file():
        files, root = [source], source.parent
    elif source.is_dir():
        files, root = sorted(source.rglob("*.json")), source
        for file in files:  # a linked JSON file pointing out of the folder is not read
            ensure_inside(file, root, name=str(file.relative_to(root)), path=str(file))
    else:
        raise FormatError("no such file or folder", path=str(source))
    plans: list[ImportPlan] = []
    skipped: list[str] = []
    created: list[Path] = []
    try:
        for file in files:
            data = load_json(file, what="labelme file")
            if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
                if source.is_file():
                    raise FormatError("not a labelme file (no 'shapes' list)", path=str(file))
                skipped.append(f"{file}: not a labelme file (no 'shapes' list)")
                continue
            plans.append(_read_file(file, data, root, extract_dir, created, allow_missing_images))
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    if not plans:
        raise FormatError("no labelme JSON files found", path=str(source))
    plan = merge_plans(source, plans)
    plan.skipped = skipped + plan.skipped
    plan.created_files = created
    return plan


def _read_file(
    file: Path, data: dict[str, Any], root: Path, extract_dir: Path, created: list[Path], allow_missing: bool,
) -> ImportPlan:
    path = str(file)
    plan = ImportPlan(source=file)
    image_file: Path | None = None
    actual: tuple[int, int] | None = None
    image_path = data.get("imagePath")
    has_data = isinstance(data.get("imageData"), str) and bool(data["imageData"])
    if isinstance(image_path, str) and image_path.strip():
        candidate = join_within(file.parent, image_path, root, path=path, item="imagePath")
        if candidate.is_file():
            try:
                actual = image_size_hw(candidate)
                image_file = candidate
            except FormatError:
                if not has_data:
                    raise
    if image_file is None and has_data:
        image_file = _extract_image(data["imageData"], file, root, extract_dir, created)
        actual = image_size_hw(image_file)
    size_hw = _declared_size(data, path)
    if size_hw is not None and actual is None:
        check_size(size_hw[1], size_hw[0], path=path, item="imageHeight/imageWidth")
    if image_file is None or actual is None:
        if not allow_missing:
            raise FormatError(f"image {image_path!r} not found and no imageData embedded", path=path, item="imagePath")
        if size_hw is None:
            raise FormatError("image missing and imageHeight/imageWidth not given", path=path)
        image_file = join_within(file.parent, image_path or f"{file.stem}.jpg", root, path=path, item="imagePath")
    else:
        if size_hw is not None and size_hw != actual:
            raise FormatError(f"imageHeight/imageWidth {size_hw} differ from the image's size {actual} (height, width)",
                              path=path)
        size_hw = actual
    attributes: dict[str, Any] = {}
    flags = data.get("flags")
    if isinstance(flags, dict) and flags:
        attributes["flags"] = dict(flags)
    image = PlannedImage(image_file, size_hw[1], size_hw[0], attributes=attributes, source=path)

    groups: OrderedDict[tuple[Any, ...], list[tuple[int, dict[str, Any], Geometry]]] = OrderedDict()
    for index, shape in enumerate(data["shapes"]):
        item = f"shapes[{index}]"
        if not isinstance(shape, dict):
            raise FormatError("a shape must be an object", path=path, item=item)
        label = shape.get("label")
        if not isinstance(label, str) or not label.strip():
            raise FormatError("shape without a label", path=path, item=item)
        kind = shape.get("shape_type") or "polygon"
        if not isinstance(kind, str):
            raise FormatError(f"shape_type must be a string, got {type(kind).__name__}", path=path, item=item)
        group = shape.get("group_id")
        if group is not None and (isinstance(group, bool) or not isinstance(group, (int, str))):
            raise FormatError(f"group_id must be an integer, a string or null, got {type(group).__name__}",
                              path=path, item=item)
        if isinstance(group, int):
            check_id(group, path=path, item=item, field="group_id")
        item = f"shapes[{index}] ({label!r}, {kind})"
        if label in SKIPPED_LABELS:
            plan.skipped.append(f"{path} {item}: labelme's {label} convention, skipped")
            continue
        if kind in NO_AREA:
            plan.skipped.append(f"{path} {item}: a {kind} has no area, skipped")
            continue
        geometry = _geometry(kind, shape, size_hw, path=path, item=item)
        if geometry is not None:
            check_geometry(geometry, size_hw, path=path, item=item)
        if geometry is None:
            plan.skipped.append(f"{path} {item}: degenerate (no area), skipped")
            continue
        group_id = shape.get("group_id")
        key = (label, group_id) if group_id is not None else (label, None, index)
        groups.setdefault(key, []).append((index, shape, geometry))
    for key, members in groups.items():
        label = key[0]
        geometry = _combine([g for _, _, g in members], size_hw)
        check_geometry(geometry, size_hw, path=path, item=f"shapes[{members[0][0]}]")
        attributes = {}
        flags_are_dicts = all(isinstance(s.get("flags") or {}, dict) for _, s, _ in members)
        shape_flags = {k: v for _, s, _ in members for k, v in (s.get("flags") or {}).items()} if flags_are_dicts else {}
        if shape_flags:
            attributes["flags"] = shape_flags
        descriptions = [str(s["description"]) for _, s, _ in members
                        if isinstance(s.get("description"), str) and s["description"]]
        if descriptions:
            attributes["description"] = "\n".join(dict.fromkeys(descriptions))
        if key[1] is not None:
            attributes["group_id"] = key[1]
        image.annotations.append(PlannedAnnotation(label, geometry, False, attributes, f"{file.name} shapes[{members[0][0]}]"))
    plan.images.append(image)
    return plan


def _declared_size(data: dict[str, Any], path: str) -> tuple[int, int] | None:
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if height is None or width is None:
        return None
    if not (isinstance(height, int) and isinstance(width, int)) or isinstance(height, bool) or isinstance(width, bool) \
            or height <= 0 or width <= 0 or height > MAX_SIDE or width > MAX_SIDE:
        raise FormatError(f"imageHeight/imageWidth must be positive integers, got {height!r}/{width!r}"[:200], path=path)
    return (height, width)


def _extract_image(image_data: str, file: Path, root: Path, extract_dir: Path, created: list[Path]) -> Path:
    try:
        raw = base64.b64decode(image_data, validate=False)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"imageData is not base64: {exc}", path=str(file), item="imageData") from exc
    try:
        header = read_header(raw, name=f"{file} imageData")  # budget checked before anything is written
        decode_pil(raw, name=f"{file} imageData").close()  # the pixels decode (not only the header)
    except ImageFileError as exc:
        raise FormatError(f"imageData is not a readable image: {exc}", path=str(file), item="imageData") from exc
    fmt = (header.format or "png").lower()
    if fmt not in ("png", "jpeg", "bmp", "tiff", "webp", "gif"):
        fmt = "png"
    ext = {"jpeg": "jpg"}.get(fmt, fmt)
    rel = file.relative_to(root).with_suffix("")
    stem = safe_stem("_".join(rel.parts))
    target = extract_dir / f"{stem}.{ext}"
    if target.is_file():
        if hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(raw).digest():
            return target
        target = extract_dir / f"{stem}_{hashlib.sha256(raw).hexdigest()[:8]}.{ext}"
        if target.is_file():
            return target
    extract_dir.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw)
    created.append(target)
    return target


def _points(shape: dict[str, Any], kind: str, size_hw: tuple[int, int] | None, *, path: str, item: str) -> np.ndarray:
    points = shape.get("points")
    if not isinstance(points, list) or not all(isinstance(p, list) and all(is_number(v) for v in p) for p in points):
        raise FormatError("points must be a list of [x, y] numbers", path=path, item=item)
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FormatError(f"points must be a list of [x, y] numbers: {exc}", path=path, item=item) from exc
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
        raise FormatError(f"points must be a list of [x, y] numbers, got shape {array.shape}", path=path, item=item)
    expected = POINT_COUNTS.get(kind)
    if expected is not None and len(array) != expected:
        raise FormatError(f"a {kind} needs {expected} points, got {len(array)}", path=path, item=item)
    if size_hw is not None:
        check_points(array, size_hw, path=path, item=item)
    return array


CIRCLE_TOLERANCE_PX = 0.1


def circle_polygon(centre_xy: np.ndarray, rim_xy: np.ndarray) -> Polygon | None:
    """A circle as a polygon whose chords deviate at most 0.1 px from the circle (>= 12 vertices)."""
    radius = float(np.hypot(*(rim_xy - centre_xy)))
    if radius <= 0:
        return None
    n = 12 if radius <= CIRCLE_TOLERANCE_PX else max(12, math.ceil(math.pi / math.acos(1 - CIRCLE_TOLERANCE_PX / radius)))
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return Polygon.from_points(np.stack([centre_xy[0] + radius * np.cos(angles), centre_xy[1] + radius * np.sin(angles)], axis=1))


def _geometry(kind: str, shape: dict[str, Any], size_hw: tuple[int, int], *, path: str, item: str) -> Geometry | None:
    points = _points(shape, kind, size_hw, path=path, item=item)
    try:
        if kind in ("polygon", "oriented_rectangle"):
            if len(np.unique(points, axis=0)) < 3:
                return None
            return Polygon.from_points(points)
        if kind == "rectangle":
            box = Box.from_corners(*points[0], *points[1])
            return box if box.width > 0 and box.height > 0 else None
        if kind == "circle":
            return circle_polygon(points[0], points[1])
        if kind == "mask":
            return _mask_patch(shape, points, size_hw, path=path, item=item)
    except GeometryError as exc:
        raise FormatError(str(exc), path=path, item=item) from exc
    raise FormatError(f"unknown shape_type {kind!r}", path=path, item=item)


def _mask_patch(shape: dict[str, Any], points: np.ndarray, size_hw: tuple[int, int], *, path: str, item: str) -> Mask | None:
    encoded = shape.get("mask")
    if not isinstance(encoded, str):
        raise FormatError("a mask shape needs a base64 'mask' PNG", path=path, item=item)
    try:
        raw = base64.b64decode(encoded)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"'mask' is not base64: {exc}", path=path, item=item) from exc
    try:
        img = decode_pil(raw, name=f"{path} {item} mask", upright=False)
    except ImageFileError as exc:
        raise FormatError(f"'mask' is not a readable PNG: {exc}", path=path, item=item) from exc
    with img:
        patch = np.array(img.convert("L")) > 0 if img.mode != "1" else np.array(img)
    if patch.ndim != 2 or patch.shape[0] > size_hw[0] * 3 or patch.shape[1] > size_hw[1] * 3:
        raise FormatError(f"mask patch of shape {patch.shape} does not fit the {size_hw} (height, width) image",
                          path=path, item=item)
    x1, y1 = (int(round(v)) for v in points.min(axis=0))
    height, width = size_hw
    full = np.zeros(size_hw, dtype=bool)
    top, left = max(y1, 0), max(x1, 0)
    bottom, right = min(y1 + patch.shape[0], height), min(x1 + patch.shape[1], width)
    if bottom <= top or right <= left:
        return None
    full[top:bottom, left:right] = patch[top - y1 : bottom - y1, left - x1 : right - x1]
    return rle.encode(full) if full.any() else None


def _combine(geometries: list[Geometry], size_hw: tuple[int, int]) -> Geometry:
    if len(geometries) == 1:
        return geometries[0]
    if any(isinstance(g, Mask) for g in geometries):
        return rle.union([geometry_mask(g, size_hw) for g in geometries])
    parts: list[PolygonPart] = []
    for g in geometries:
        if isinstance(g, Box):
            parts.append(PolygonPart(np.array([[g.x1, g.y1], [g.x2, g.y1], [g.x2, g.y2], [g.x1, g.y2]])))
        elif isinstance(g, Polygon):
            parts.extend(g.parts)
    return Polygon(tuple(parts))
