"""Pascal VOC: export a project to a VOC tree and import one.

Layout written (torchvision's ``VOCDetection``/``VOCSegmentation`` read it when it sits at
``ROOT/VOCdevkit/VOC2012``)::

    OUT/Annotations/<id>.xml              every annotation as an <object>, integer 1-based boxes
    OUT/JPEGImages/<id>.jpg               copied (JPEG) or converted (other formats, quality 95)
    OUT/SegmentationClass/<id>.png        palette PNG, value = class index (1..N), 0 = background,
                                          255 = void; only images with polygons or masks
    OUT/SegmentationObject/<id>.png       palette PNG, value = position of the <object> in the XML
    OUT/ImageSets/Main/<split>.txt        image ids (plus trainval.txt with train and val)
    OUT/ImageSets/Segmentation/<split>.txt
    OUT/labelmap.txt, OUT/class_names.txt class index -> name (and palette colour)

Class indices are the categories' positions in the project (1-based; a VOC-preset project has
the 20 VOC classes in VOC order, so index = VOC index). Shapes are painted back to front with
the project's rasterizer (pycocotools); crowd shapes are painted 255 (void) and written as
``difficult`` objects. ``difficult``, ``truncated``, ``occluded`` and ``pose`` come from the
annotation's attributes.

What VOC loses (import(export(P)) compared with P):
- polygons become masks (pixels kept, vertices lost); pixels hidden by a later shape are lost
  (one label per pixel); a shape fully hidden comes back as a box;
- boxes are rounded to whole pixels (1-based inclusive integers);
- ``iscrowd`` (a crowd shape comes back as a ``difficult`` box; its pixels are void);
- annotation attributes other than difficult/truncated/occluded/pose; ids; z-order values;
  image status; category colours and supercategories; non-JPEG image bytes (re-encoded).
Images without shapes still get an XML file (no objects).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats.atomic import atomic_directory
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
    voc_colormap,
)
from annotations.formats.paths import UniqueNames, ensure_inside, safe_join, safe_stem
from annotations.formats.plan import ImportPlan, PlannedAnnotation, PlannedCategory, PlannedImage, commit_plan
from annotations.formats.raster import dense_mask
from annotations.formats.readers import load_xml
from annotations.formats.validate import MAX_SIDE, check_geometry, check_header_size, check_size, text_lines
from annotations.geometry import Box, Mask, Polygon, rle, to_box
from annotations.imageio import decode_pil
from annotations.model import Annotation, Category, Image
from annotations.store import Project

VOID = 255
VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
FLAG_ATTRIBUTES = ("truncated", "difficult", "occluded")


# ====================================================================================== export
@dataclass(frozen=True)
class VocBox:
    """1-based inclusive integer pixel box."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int


def voc_box(box: Box, size_hw: tuple[int, int]) -> VocBox | None:
    """Continuous xyxy -> 1-based inclusive integer box clipped to the image; None if empty."""
    height, width = size_hw
    xmin = min(max(int(round(box.x1)) + 1, 1), width)
    ymin = min(max(int(round(box.y1)) + 1, 1), height)
    xmax = min(max(int(round(box.x2)), xmin), width)
    ymax = min(max(int(round(box.y2)), ymin), height)
    if box.x2 <= 0 or box.y2 <= 0 or box.x1 >= width or box.y1 >= height:
        return None
    return VocBox(xmin, ymin, xmax, ymax)


def export_voc(project: Project, out: str | os.PathLike[str], options: ExportOptions = DEFAULT_EXPORT_OPTIONS) -> ExportReport:
    """Write a Pascal VOC tree (see the module docstring). Raises :class:`FormatError` for a
    non-empty target without ``overwrite``, missing image files, more than 254 classes or more
    than 254 segmented objects in one image; the target is unchanged then."""
    categories = project.categories()
    if len(categories) > 254:
        raise FormatError(f"VOC palette PNGs hold at most 254 classes, the project has {len(categories)}", path=str(project.path))
    index_of = {c.id: i + 1 for i, c in enumerate(categories)}
    name_of = {c.id: c.name for c in categories}
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    files = require_image_files(project, images)
    guard_target(project, out, files.values())
    names = UniqueNames()
    ids = {im.id: names.take(safe_stem(Path(im.path).stem)) for im in images}
    palette = voc_colormap(256)
    report = ExportReport(target=Path(out).absolute())
    done = 0
    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        for folder in ("Annotations", "JPEGImages", "SegmentationClass", "SegmentationObject",
                       "ImageSets/Main", "ImageSets/Segmentation"):
            (tmp / folder).mkdir(parents=True)
        segmented_ids: dict[str, list[str]] = {}
        for split, members in splits.items():
            segmented_ids[split] = []
            for image in members:
                anns = project.annotations(image.id)
                voc_id = ids[image.id]
                place_image(files[image.id], tmp / "JPEGImages" / f"{voc_id}.jpg", convert_to="jpg")
                objects, painted = [], []
                for ann in anns:
                    if ann.is_ignore and ann.category_id not in name_of:  # class-agnostic ignore: void 255, no object
                        painted.append((0, ann.with_changes(iscrowd=True)))
                        continue
                    box = voc_box(_box_of(ann, image.size_hw), image.size_hw)
                    if box is None:
                        report.skipped.append(f"annotation {ann.id} on {image.path}: outside the image")
                        continue
                    objects.append((ann, box))
                    if not isinstance(ann.geometry, Box):
                        painted.append((len(objects), ann))
                segmented = bool(painted)
                _write_xml(tmp / "Annotations" / f"{voc_id}.xml", voc_id, image, objects, name_of, segmented)
                if segmented:
                    if len(objects) > 254:
                        raise FormatError(f"{len(objects)} objects; VOC object PNGs hold at most 254",
                                          path=str(project.path), item=image.path)
                    class_map, object_map = _paint(painted, image.size_hw, index_of)
                    _save_palette_png(class_map, palette, tmp / "SegmentationClass" / f"{voc_id}.png")
                    _save_palette_png(object_map, palette, tmp / "SegmentationObject" / f"{voc_id}.png")
                    segmented_ids[split].append(voc_id)
                report.annotations += len(objects)
                done += 1
                report_progress(options.progress, done, len(images))
            report.images[split] = len(members)
            _write_list(tmp / "ImageSets" / "Main" / f"{split}.txt", [ids[im.id] for im in members])
            _write_list(tmp / "ImageSets" / "Segmentation" / f"{split}.txt", segmented_ids[split])
        if "train" in splits and "val" in splits and "trainval" not in splits:
            _write_list(tmp / "ImageSets" / "Main" / "trainval.txt", sorted(ids[im.id] for im in splits["train"] + splits["val"]))
            _write_list(tmp / "ImageSets" / "Segmentation" / "trainval.txt",
                        sorted(segmented_ids["train"] + segmented_ids["val"]))
        _write_labelmap(tmp, categories, palette)
    return report


def _box_of(ann: Annotation, size_hw: tuple[int, int]) -> Box:
    geometry = ann.geometry
    if isinstance(geometry, Polygon):
        # the pixels the polygon covers, so the box matches the painted mask
        mask = rle.encode(dense_mask(ann, size_hw))
        if rle.area(mask):
            return rle.bbox(mask)
    return to_box(geometry)


def _paint(
    painted: Sequence[tuple[int, Annotation]], size_hw: tuple[int, int], index_of: dict[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    class_map = np.zeros(size_hw, dtype=np.uint8)
    object_map = np.zeros(size_hw, dtype=np.uint8)
    for object_index, ann in painted:
        pixels = dense_mask(ann, size_hw)
        class_map[pixels] = VOID if ann.iscrowd else index_of[ann.category_id]
        object_map[pixels] = VOID if ann.iscrowd else object_index
    return class_map, object_map


def _save_palette_png(values_hw: np.ndarray, palette: np.ndarray, path: Path) -> None:
    image = PILImage.frombytes("P", (values_hw.shape[1], values_hw.shape[0]), values_hw.tobytes())
    image.putpalette(palette.reshape(-1).tolist())
    image.save(path, optimize=False)


def _xml_text(parent: ET.Element, tag: str, text: Any) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(text)
    return element


def _flag(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip().lower() in ("1", "true", "yes"))
    return int(bool(value))


def _write_xml(
    path: Path, voc_id: str, image: Image, objects: list[tuple[Annotation, VocBox]], name_of: dict[int, str], segmented: bool,
) -> None:
    root = ET.Element("annotation")
    _xml_text(root, "folder", "VOC")
    _xml_text(root, "filename", f"{voc_id}.jpg")
    source = ET.SubElement(root, "source")
    _xml_text(source, "database", "SegStudio")
    size = ET.SubElement(root, "size")
    _xml_text(size, "width", image.width)
    _xml_text(size, "height", image.height)
    _xml_text(size, "depth", 3)
    _xml_text(root, "segmented", int(segmented))
    for ann, box in objects:
        obj = ET.SubElement(root, "object")
        _xml_text(obj, "name", name_of[ann.category_id])
        _xml_text(obj, "pose", str(ann.attributes.get("pose", "Unspecified")))
        _xml_text(obj, "truncated", _flag(ann.attributes.get("truncated", False)))
        _xml_text(obj, "difficult", 1 if ann.iscrowd else _flag(ann.attributes.get("difficult", False)))
        _xml_text(obj, "occluded", _flag(ann.attributes.get("occluded", False)))
        bndbox = ET.SubElement(obj, "bndbox")
        for tag in ("xmin", "ymin", "xmax", "ymax"):
            _xml_text(bndbox, tag, getattr(box, tag))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=False)


def _write_list(path: Path, ids: Sequence[str]) -> None:
    path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")


def _write_labelmap(tmp: Path, categories: Sequence[Category], palette: np.ndarray) -> None:
    lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"]
    for i, c in enumerate(categories, start=1):
        r, g, b = (int(v) for v in palette[i])
        lines.append(f"{c.name}:{r},{g},{b}::")
    (tmp / "labelmap.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp / "class_names.txt").write_text("\n".join(["_background_"] + [c.name for c in categories]) + "\n", encoding="utf-8")


# ====================================================================================== import
def import_voc(project: Project, source: str | os.PathLike[str], options: ImportOptions = DEFAULT_IMPORT_OPTIONS) -> ImportReport:
    """Import a Pascal VOC tree (the folder holding ``Annotations``/``JPEGImages``; a
    ``VOCdevkit`` folder with one year inside works too) in one transaction."""
    return commit_plan(project, read_voc(source, allow_missing_images=options.allow_missing_images), options)


def _voc_root(source: Path) -> Path:
    if (source / "JPEGImages").is_dir() or (source / "Annotations").is_dir():
        return source
    years = sorted(p for p in source.glob("VOC*") if p.is_dir()) + sorted(p for p in source.glob("VOCdevkit/VOC*") if p.is_dir())
    if len(years) == 1:
        return years[0]
    raise FormatError("not a Pascal VOC folder (no Annotations/ or JPEGImages/ inside)", path=str(source))


def class_names(root: Path) -> list[str]:
    """PNG index -> class name: ``labelmap.txt`` (CVAT), ``class_names.txt`` (labelme) or the
    20 VOC classes; index 0 is the background."""
    return [name for name, _ in _class_table(root)]


def _class_table(root: Path) -> list[tuple[str, tuple[int, int, int] | None]]:
    """PNG index -> (class name, RGB colour given by ``labelmap.txt`` or None).

    ``labelmap.txt`` lines are ``name:r,g,b:parts:actions`` (CVAT); the name may itself hold
    ``:``, so the three trailing fields are split off from the right."""
    labelmap = root / "labelmap.txt"
    if labelmap.is_file():
        table: list[tuple[str, tuple[int, int, int] | None]] = []
        for number, line in enumerate(_read_lines(labelmap, root), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rsplit(":", 3)
            name = fields[0] if len(fields) == 4 else line.split(":")[0]
            table.append((name, _labelmap_color(fields[1], labelmap, number) if len(fields) == 4 else None))
        return table
    listed = root / "class_names.txt"
    if listed.is_file():
        return [(line.strip(), None) for line in _read_lines(listed, root) if line.strip()]
    return [(name, None) for name in ["background", *VOC_CLASSES]]


def _labelmap_color(text: str, path: Path, line: int) -> tuple[int, int, int] | None:
    if not text.strip():
        return None
    try:
        r, g, b = (int(v) for v in text.split(","))
    except ValueError as exc:
        raise FormatError(f"colour {text!r} is not r,g,b", path=str(path), item=f"line {line}") from exc
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise FormatError(f"colour {text!r} has a value outside 0..255", path=str(path), item=f"line {line}")
    return (r, g, b)


def _read_lines(path: Path, root: Path) -> list[str]:
    """Lines of a class list inside the VOC root (UTF-8; :class:`FormatError` otherwise)."""
    ensure_inside(path, root, name=path.name, path=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read: {exc}", path=str(path)) from exc
    return list(text_lines(data, path=str(path)))


def _read_png(path: Path, colors: np.ndarray | None = None) -> np.ndarray:
    """The index map (H, W) uint8 of a palette or grayscale PNG, or of a colour PNG (RGB/RGBA,
    as CVAT and Datumaro write them) whose colours are looked up in ``colors`` ((256, 3) uint8,
    row = index; default the VOC colormap). An unknown colour is a :class:`FormatError`."""
    img = decode_pil(path, upright=False)  # pixel budget; ImageFileError (a FormatError) naming the file
    with img:
        if img.mode in ("P", "L"):
            return np.array(img)
        if img.mode not in ("RGB", "RGBA"):
            raise FormatError(f"expected a palette, grayscale or RGB PNG of class indices, got mode {img.mode}",
                              path=str(path))
        rgb = np.array(img.convert("RGB"))
    return _colors_to_index(rgb, voc_colormap(256) if colors is None else colors, path)


def _colors_to_index(rgb_hw3: np.ndarray, colors: np.ndarray, path: Path) -> np.ndarray:
    """Map an (H, W, 3) uint8 colour image to indices through ``colors`` (row = index; the
    first row wins for a colour listed twice)."""
    codes = (rgb_hw3[..., 0].astype(np.int64) << 16) | (rgb_hw3[..., 1].astype(np.int64) << 8) | rgb_hw3[..., 2]
    table_codes = (colors[:, 0].astype(np.int64) << 16) | (colors[:, 1].astype(np.int64) << 8) | colors[:, 2]
    lookup: dict[int, int] = {}
    for index, code in enumerate(table_codes.tolist()):
        lookup.setdefault(code, index)
    unique, inverse = np.unique(codes.reshape(-1), return_inverse=True)
    indices = np.empty(len(unique), dtype=np.uint8)
    for k, code in enumerate(unique.tolist()):
        if code not in lookup:
            row, col = (int(v) for v in np.argwhere(codes == code)[0])
            color = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
            raise FormatError(f"colour {color} at pixel (row {row}, col {col}) is not in the colour table "
                              f"(VOC colormap or labelmap.txt)", path=str(path))
        indices[k] = lookup[code]
    return indices[inverse].reshape(codes.shape)


def _int(element: ET.Element | None, tag: str, *, path: str, item: str) -> int:
    text = element.findtext(tag) if element is not None else None
    if text is None:
        raise FormatError(f"missing <{tag}>", path=path, item=item)
    try:
        value = float(text)
    except ValueError as exc:
        raise FormatError(f"<{tag}> is not a number: {text[:80]!r}", path=path, item=item) from exc
    if not math.isfinite(value) or abs(value) > MAX_SIDE:
        raise FormatError(f"<{tag}> is not a finite pixel coordinate: {text[:80]!r}", path=path, item=item)
    return int(round(value))


def read_voc(source: str | os.PathLike[str], *, allow_missing_images: bool = False) -> ImportPlan:
    """Parse a VOC tree into an :class:`ImportPlan` (nothing stored).

    Each XML ``<object>`` becomes a mask when ``SegmentationObject/<id>.png`` has pixels with
    its (1-based) position, a box otherwise. Images with a ``SegmentationClass`` PNG but no
    object PNG (semantic data sets, e.g. labelme's) get one mask per class present. Colour
    (RGB) PNGs, as CVAT and Datumaro write them, are read through the VOC colormap (class PNGs:
    the colours of ``labelmap.txt`` where it gives them). Raises
    :class:`FormatError` naming the file for malformed or hostile XML, a ``filename`` escaping
    the tree, missing images, sizes that disagree with the PNGs."""
    root = _voc_root(Path(source).absolute())
    plan = ImportPlan(source=root)
    table = _class_table(root)
    names = [name for name, _ in table]
    class_colors = voc_colormap(256)
    for index, (_, color) in enumerate(table[:256]):
        if color is not None:
            class_colors[index] = color
    stems = sorted({p.stem for p in (root / "Annotations").glob("*.xml")}
                   | {p.stem for p in (root / "SegmentationClass").glob("*.png")})
    if not stems:
        raise FormatError("no Annotations/*.xml or SegmentationClass/*.png found", path=str(root))
    missing: list[str] = []
    for stem in stems:
        xml_path = root / "Annotations" / f"{stem}.xml"
        objects: list[tuple[str, Box, dict[str, Any], str]] = []
        file_name, size_hw = f"{stem}.jpg", None
        if xml_path.is_file():
            xml_root = load_xml(xml_path)
            if xml_root.tag != "annotation":
                raise FormatError(f"root element is <{xml_root.tag}>, expected <annotation>", path=str(xml_path))
            file_name = (xml_root.findtext("filename") or file_name).strip()
            size = xml_root.find("size")
            if size is not None and size.findtext("width") and size.findtext("height"):
                size_hw = (_int(size, "height", path=str(xml_path), item="size"),
                           _int(size, "width", path=str(xml_path), item="size"))
                if min(size_hw) > 0:
                    check_size(size_hw[1], size_hw[0], path=str(xml_path), item="size")
            for k, obj in enumerate(xml_root.iter("object"), start=1):
                item = f"object {k}"
                name = (obj.findtext("name") or "").strip()
                if not name:
                    raise FormatError("object without <name>", path=str(xml_path), item=item)
                bndbox = obj.find("bndbox")
                if bndbox is None:
                    raise FormatError("object without <bndbox>", path=str(xml_path), item=item)
                xmin, ymin, xmax, ymax = (_int(bndbox, t, path=str(xml_path), item=item)
                                          for t in ("xmin", "ymin", "xmax", "ymax"))
                if xmax < xmin or ymax < ymin:
                    raise FormatError(f"box corners are not ordered: {(xmin, ymin, xmax, ymax)}", path=str(xml_path), item=item)
                attributes: dict[str, Any] = {}
                for flag in FLAG_ATTRIBUTES:
                    text = (obj.findtext(flag) or "").strip()
                    if text and _flag(text):
                        attributes[flag] = True
                pose = (obj.findtext("pose") or "").strip()
                if pose and pose != "Unspecified":
                    attributes["pose"] = pose
                objects.append((name, Box(xmin - 1.0, ymin - 1.0, float(xmax), float(ymax)), attributes, item))
        file = safe_join(root / "JPEGImages", file_name, path=str(xml_path), item="filename")
        if not file.is_file():
            fallback = root / "JPEGImages" / f"{stem}.jpg"
            if fallback.is_file():
                ensure_inside(fallback, root, name=fallback.name, path=str(xml_path), item="filename")
                file = fallback
            else:
                missing.append(file_name)
        if size_hw is None or min(size_hw) <= 0:
            if not file.is_file():
                raise FormatError("image size unknown (no <size>) and the image file is missing", path=str(xml_path))
            size_hw = image_size_hw(file)
        elif file.is_file():  # a <size> that disagrees with the pixels would poison every export
            check_header_size(size_hw, image_size_hw(file), path=str(xml_path), item="size")
        for _, box, _, item in objects:
            check_geometry(box, size_hw, path=str(xml_path), item=item)
        planned = PlannedImage(file, size_hw[1], size_hw[0], source=str(xml_path))
        object_png = root / "SegmentationObject" / f"{stem}.png"
        class_png = root / "SegmentationClass" / f"{stem}.png"
        for png in (object_png, class_png):
            if png.is_file():
                ensure_inside(png, root, name=png.name, path=str(png))
        object_map = _read_png(object_png) if object_png.is_file() else None
        for array, png in ((object_map, object_png),):
            if array is not None and array.shape != size_hw:
                raise FormatError(f"PNG size {array.shape} differs from the image size {size_hw} (height, width)", path=str(png))
        for k, (name, box, attributes, item) in enumerate(objects, start=1):
            geometry: Box | Mask = box
            if object_map is not None:
                pixels = object_map == k
                if pixels.any():
                    geometry = rle.encode(pixels)
            planned.annotations.append(PlannedAnnotation(name, geometry, False, attributes, f"{xml_path.name} {item}"))
        if object_map is None and class_png.is_file():
            class_map = _read_png(class_png, class_colors)
            if class_map.shape != size_hw:
                raise FormatError(f"PNG size {class_map.shape} differs from the image size {size_hw} (height, width)",
                                  path=str(class_png))
            for value in np.unique(class_map):
                if value == 0 or value == VOID:
                    continue
                if value >= len(names):
                    raise FormatError(f"class index {value} has no name (class list has {len(names)} entries)",
                                      path=str(class_png))
                planned.annotations.append(PlannedAnnotation(names[value], rle.encode(class_map == value), False, {},
                                                             f"{class_png.name} class {value}"))
        plan.images.append(planned)
    if missing and not allow_missing_images:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FormatError(f"{len(missing)} image file(s) missing in JPEGImages: {', '.join(missing[:5])}{more}", path=str(root))
    order = {n: i for i, n in enumerate(names)}
    used = sorted({a.label for im in plan.images for a in im.annotations}, key=lambda n: (order.get(n, len(order)), n))
    plan.categories = [PlannedCategory(n, color=hex_color(class_colors[order[n]]) if n in order and order[n] < 256 else None)
                       for n in used]
    return plan
