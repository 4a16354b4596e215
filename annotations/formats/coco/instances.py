"""COCO instances: export a project to ``annotations/instances_<split>.json`` and import one.

Layout written::

    OUT/annotations/instances_<split>.json   one file per split, all sharing the categories
    OUT/images/<split>/<relative path>       only with ``copy_images``
    OUT/results/predictions_<split>.json     only with ``predictions=True`` (COCO results file)

Without ``copy_images`` the images are referenced: ``file_name`` is relative to the common
folder of the exported images, written to ``info.image_root`` (pass it as ``root`` to
torchvision's ``CocoDetection``). Ids are the project's ids (all >= 1).

What COCO loses (import(export(P)) compared with P):
- polygon holes: a polygon with holes is written as an RLE mask (pixels kept, vertices lost);
- shapes outside the image are clipped; degenerate polygon parts (< 3 vertices, no area),
  empty masks and empty boxes are left out (listed in the report);
- annotation ids, z-order values (the back-to-front order is kept: SegStudio's files say so in
  ``info.segstudio_depth_order``; other COCO files, which have no depth order, are stacked
  largest shape at the back), ``source``, authors and
  timestamps, links to predictions; image status; category colours; project settings;
- the file's ``area`` on import (recomputed from the geometry; official crowd RLEs carry an
  ``area`` that disagrees with their pixels, and is not kept).
Kept: categories (id, name, supercategory), images (id order, size, extra COCO image fields),
boxes (marked ``segstudio.geometry = box``), multi-part polygons, masks (compressed RLE),
``iscrowd`` and annotation ``attributes`` (CVAT's convention).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from annotations.errors import FormatError
from annotations.formats.atomic import atomic_directory
from annotations.formats.coco.geometry import BOX_MARK, from_coco_shape, to_coco_shape
from annotations.formats.common import (
    DEFAULT_EXPORT_OPTIONS,
    DEFAULT_IMPORT_OPTIONS,
    ExportOptions,
    ExportReport,
    ImportOptions,
    ImportReport,
    guard_target,
    image_size_hw,
    place_image,
    relpath_within,
    report_progress,
    require_image_files,
    select_images,
    split_images,
)
from annotations.formats.parallel import chunked, map_chunks
from annotations.formats.paths import safe_join
from annotations.formats.plan import ImportPlan, PlannedAnnotation, PlannedCategory, PlannedImage, commit_plan
from annotations.formats.raster import geometry_mask
from annotations.formats.readers import load_json, require
from annotations.formats.validate import check_geometry, check_header_size, check_id, check_size
from annotations.model import Image, PredictionState
from annotations.store import Project

EXTRA_IMAGE_FIELDS = ("license", "coco_url", "flickr_url", "date_captured")


# ====================================================================================== export
def export_coco(
    project: Project,
    out: str | os.PathLike[str],
    options: ExportOptions = DEFAULT_EXPORT_OPTIONS,
    *,
    predictions: bool = False,
    model_version_id: int | None = None,
) -> ExportReport:
    """Write a COCO instances data set (see the module docstring for the layout).

    ``predictions`` also writes a COCO results file per split (scores, compressed RLE) for
    ``model_version_id`` (default: the newest version with predictions). Raises
    :class:`FormatError` for a non-empty target without ``overwrite`` or missing image files
    with ``copy_images``; the target is unchanged then.
    """
    images = select_images(project, options)
    splits = split_images(images, options.split, options.seed)
    files = require_image_files(project, images) if options.copy_images else {im.id: project.image_path(im) for im in images}
    root = common_root(list(files.values()))
    guard_target(project, out, files.values())
    categories = [
        {"id": c.id, "name": c.name, "supercategory": c.supercategory or c.name} for c in project.categories()
    ]
    report = ExportReport(target=Path(out).absolute())
    total = len(images)
    done = 0

    def chunk_done(n_images: int) -> None:
        nonlocal done
        done += n_images
        report_progress(options.progress, done, total)

    with atomic_directory(out, overwrite=options.overwrite) as tmp:
        (tmp / "annotations").mkdir()
        for split, split_images_ in splits.items():
            coco_images = [image_entry(image, relpath_within(files[image.id], root)) for image in split_images_]
            chunks = chunked([im.id for im in split_images_], options.workers)
            parts = tmp / "annotations" / f".parts-{split}"
            parts.mkdir()
            fragments = map_chunks(project, partial(annotations_json_file, parts), chunks, workers=options.workers,
                                   on_chunk_done=None if options.copy_images else chunk_done)
            if options.copy_images:
                for image in split_images_:
                    place_image(files[image.id], tmp / "images" / split / relpath_within(files[image.id], root))
                    chunk_done(1)
            count = sum(n for _, n, _ in fragments)
            for _, _, skipped in fragments:
                report.skipped.extend(skipped)
            info = {"description": f"exported by SegStudio from {project.path.name}", "version": "1.0",
                    DEPTH_ORDER_KEY: "file"}
            if not options.copy_images:
                info["image_root"] = root.as_posix()
            with open(tmp / "annotations" / f"instances_{split}.json", "wb") as handle:
                handle.write(f'{{"info":{_compact(info)},"licenses":[],"images":{_compact(coco_images)},"annotations":['.encode())
                first = True
                for fragment, n, _ in fragments:
                    if n:
                        if not first:
                            handle.write(b",")
                        with open(fragment, "rb") as part:
                            shutil.copyfileobj(part, handle, 1 << 20)
                        first = False
                    os.unlink(fragment)
                handle.write(f'],"categories":{_compact(categories)}}}'.encode())
            parts.rmdir()
            report.images[split] = len(coco_images)
            report.annotations += count
            if predictions:
                results = results_entries(project, [im.id for im in split_images_], model_version_id)
                (tmp / "results").mkdir(exist_ok=True)
                _dump(results, tmp / "results" / f"predictions_{split}.json")
    return report


def annotations_json_file(folder: Path, project: Project, image_ids: Sequence[int]) -> tuple[Path, int, list[str]]:
    """Write the COCO annotation entries of these images to a file in ``folder`` as a JSON
    fragment (the inside of a list); returns its path, the entry count and notes on what was
    left out. Runs in export worker processes, so the parent only concatenates files."""
    entries: list[dict[str, Any]] = []
    skipped: list[str] = []
    for image_id in image_ids:
        image = project.get_image(image_id)
        for ann in project.annotations(image_id):
            if ann.is_ignore and ann.category_id == 0:  # NO_CATEGORY: COCO crowds need a class
                skipped.append(f"annotation {ann.id} on {image.path}: "
                               "class-agnostic ignore region (COCO has no class-free crowd)")
                continue
            entry = annotation_entry(ann, image)
            if entry is None:
                skipped.append(f"annotation {ann.id} on {image.path}: nothing left inside the image")
                continue
            entries.append(entry)
    path = folder / f"{image_ids[0]:012d}.part"
    path.write_text(_compact(entries)[1:-1], encoding="utf-8")
    return path, len(entries), skipped


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _dump(document: Any, path: Path) -> None:
    # json.dumps uses the C encoder; json.dump streams through the pure-Python one (3x slower).
    path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")


def common_root(files: Sequence[Path]) -> Path:
    """The deepest folder holding every file (the folder of a single file)."""
    if not files:
        return Path(".").absolute()
    return Path(os.path.commonpath([str(Path(f).absolute().parent) for f in files]))


def image_entry(image: Image, file_name: str) -> dict[str, Any]:
    """The COCO ``images[]`` entry of an image."""
    entry: dict[str, Any] = {"id": image.id, "file_name": file_name, "width": image.width, "height": image.height}
    found = image.attributes.get("coco")
    extra: dict[str, Any] = found if isinstance(found, dict) else {}
    entry.update({k: v for k, v in extra.items() if k in EXTRA_IMAGE_FIELDS})
    return entry


def annotation_entry(ann: Any, image: Image) -> dict[str, Any] | None:
    """The COCO ``annotations[]`` entry of an annotation, or None when nothing usable remains."""
    shape = to_coco_shape(ann.geometry, image.size_hw)
    if shape is None:
        return None
    entry: dict[str, Any] = {
        "id": ann.id, "image_id": image.id, "category_id": ann.category_id,
        "segmentation": shape.segmentation, "area": shape.area, "bbox": shape.bbox_xywh,
        "iscrowd": int(bool(ann.iscrowd)),
    }
    if ann.attributes:
        entry["attributes"] = dict(ann.attributes)
    if shape.is_box:
        entry["segstudio"] = dict(BOX_MARK)
    return entry


def results_entries(project: Project, image_ids: Sequence[int], model_version_id: int | None = None) -> list[dict[str, Any]]:
    """COCO results (``loadRes`` input) of one model version's predictions on these images:
    ``bbox`` always, ``segmentation`` as compressed RLE for polygons and masks, ``score``.
    Superseded predictions are left out."""
    if model_version_id is None:
        versions = {p.model_version_id for p in project.predictions()}
        if not versions:
            return []
        model_version_id = max(versions)
    wanted = set(image_ids)
    images = {im.id: im for im in project.images() if im.id in wanted}
    results = []
    for pred in project.predictions(model_version_id=model_version_id):
        if pred.image_id not in images or pred.state == PredictionState.SUPERSEDED:
            continue
        shape = to_coco_shape(pred.geometry, images[pred.image_id].size_hw)
        if shape is None:
            continue
        entry: dict[str, Any] = {"image_id": pred.image_id, "category_id": pred.category_id,
                                 "bbox": shape.bbox_xywh, "score": float(pred.score)}
        if not shape.is_box:
            entry["segmentation"] = geometry_mask(pred.geometry, images[pred.image_id].size_hw).to_coco()
        results.append(entry)
    return results


# ====================================================================================== import
def import_coco(
    project: Project,
    source: str | os.PathLike[str],
    options: ImportOptions = DEFAULT_IMPORT_OPTIONS,
    *,
    images_root: str | os.PathLike[str] | None = None,
) -> ImportReport:
    """Import a COCO instances JSON file into ``project`` (one transaction; nothing is stored
    when the file is bad). ``images_root`` is the folder ``file_name`` is relative to; by default
    it is searched next to the JSON (``.``, ``images/``, ``images/<split>``, ``../images/<split>``,
    ``../<split>``; never ``info.image_root``: a file does not choose its own root)."""
    plan = read_coco(source, images_root=images_root, allow_missing_images=options.allow_missing_images,
                     progress=options.progress)
    return commit_plan(project, plan, options)


def read_coco(
    source: str | os.PathLike[str],
    *,
    images_root: str | os.PathLike[str] | None = None,
    allow_missing_images: bool = False,
    progress: Any = None,
) -> ImportPlan:
    """Parse and check a COCO instances file into an :class:`ImportPlan` (nothing stored).

    Raises :class:`FormatError` naming the file and the item for: malformed JSON, no
    ``categories``, duplicate ids, an annotation on an unknown image or category, a bad
    geometry, a ``file_name`` escaping the image root, missing image files."""
    source = Path(source).absolute()
    path = str(source)
    data = load_json(source, what="COCO file")
    if not isinstance(data, dict):
        raise FormatError("a COCO file must hold a JSON object", path=path)
    if "categories" not in data:
        raise FormatError("no 'categories' list: a COCO instances file must name its categories", path=path)
    coco_images = require(data, "images", list, path=path, item="top level")
    coco_categories = require(data, "categories", list, path=path, item="top level")
    coco_annotations = data.get("annotations", [])
    if not isinstance(coco_annotations, list):
        raise FormatError("'annotations' must be a list", path=path, item="top level")

    plan = ImportPlan(source=source)
    names: dict[int, str] = {}
    for index, cat in enumerate(coco_categories):
        item = f"categories[{index}]"
        cid = check_id(require(cat, "id", int, path=path, item=item), path=path, item=item)
        name = require(cat, "name", str, path=path, item=item).strip()
        if len(name) > MAX_NAME_CHARS:
            raise FormatError(f"category name is longer than {MAX_NAME_CHARS} characters", path=path, item=item)
        if not name:
            raise FormatError("empty category name", path=path, item=item)
        if cid in names:
            raise FormatError(f"duplicate category id {cid}", path=path, item=item)
        if name in names.values():
            raise FormatError(f"duplicate category name {name!r}", path=path, item=item)
        names[cid] = name
        supercategory = cat.get("supercategory") or ""
        if not isinstance(supercategory, str):
            raise FormatError(f"supercategory must be a string, got {type(supercategory).__name__}", path=path, item=item)
        plan.categories.append(PlannedCategory(
            name, preferred_id=cid, supercategory=supercategory,
            is_thing=bool(cat.get("isthing", 1)),
            color=_category_color(cat.get("color"), path=path, item=f"{item}.color"),
        ))

    roots = _candidate_roots(source, data, images_root)
    planned: dict[int, PlannedImage] = {}
    missing: list[str] = []
    for index, im in enumerate(coco_images):
        item = f"images[{index}]"
        iid = check_id(require(im, "id", int, path=path, item=item), path=path, item=item)
        if iid in planned:
            raise FormatError(f"duplicate image id {iid}", path=path, item=item)
        file_name = require(im, "file_name", str, path=path, item=f"image {iid}")
        file = _find_image(roots, file_name, path=path, item=f"image {iid}")
        if file is None:
            missing.append(file_name)
            file = safe_join(roots[0], file_name, path=path, item=f"image {iid}")
        width, height = im.get("width"), im.get("height")
        where = f"{item} (image {iid}, {file_name})"
        if width is None and height is None:
            if not file.is_file():
                raise FormatError("image has no width/height and its file is missing", path=path, item=where)
            height, width = image_size_hw(file)
        else:
            height, width = check_size(width, height, path=path, item=where)
            if file.is_file():  # a size that disagrees with the pixels would poison every export
                check_header_size((height, width), image_size_hw(file), path=path, item=where)
        extra = {k: im[k] for k in EXTRA_IMAGE_FIELDS if k in im}
        planned[iid] = PlannedImage(file, width, height, attributes={"coco": extra} if extra else {}, source=path,
                                    preferred_id=iid)
    if missing and not allow_missing_images:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FormatError(
            f"{len(missing)} image file(s) not found (looked in {', '.join(str(r) for r in roots[:4])}): "
            f"{', '.join(missing[:5])}{more}; give the image folder or allow missing images",
            path=path,
        )

    seen_ids: set[int] = set()
    for index, ann in enumerate(coco_annotations):
        aid = ann.get("id") if isinstance(ann, dict) else None
        item = f"annotations[{index}] (annotation {aid})" if isinstance(aid, int) else f"annotations[{index}]"
        if aid is not None:
            check_id(aid, path=path, item=item)
        if isinstance(aid, int):
            if aid in seen_ids:
                raise FormatError(f"duplicate annotation id {aid}", path=path, item=item)
            seen_ids.add(aid)
        image_id = check_id(require(ann, "image_id", int, path=path, item=item), path=path, item=item, field="image_id")
        if image_id not in planned:
            raise FormatError(f"image_id {image_id} is not in 'images'", path=path, item=item)
        category_id = check_id(require(ann, "category_id", int, path=path, item=item), path=path, item=item,
                               field="category_id")
        if category_id not in names:
            raise FormatError(f"category_id {category_id} is not in 'categories'", path=path, item=item)
        image = planned[image_id]
        mark = ann.get("segstudio")
        is_box = isinstance(mark, dict) and mark.get("geometry") == "box"
        if "segmentation" not in ann and "bbox" not in ann:
            raise FormatError("annotation has neither 'segmentation' nor 'bbox'", path=path, item=item)
        geometry, notes = from_coco_shape(ann.get("segmentation"), ann.get("bbox"), (image.height, image.width),
                                          is_box=is_box, path=path,
                                          item=f"{item}.{'segmentation' if ann.get('segmentation') and not is_box else 'bbox'}")
        check_geometry(geometry, (image.height, image.width), path=path, item=item)
        plan.skipped.extend(notes)
        iscrowd = ann.get("iscrowd", 0)
        if iscrowd not in (0, 1, True, False):
            raise FormatError(f"iscrowd must be 0 or 1, got {iscrowd!r}", path=path, item=item)
        attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        image.annotations.append(PlannedAnnotation(names[category_id], geometry, bool(iscrowd), dict(attributes), item,
                                                   preferred_id=aid if isinstance(aid, int) else None))
        if progress is not None and index % 256 == 0:
            progress(index, len(coco_annotations))
    info = data.get("info")
    if not (isinstance(info, dict) and info.get(DEPTH_ORDER_KEY) == "file"):
        for image in planned.values():
            image.annotations.sort(key=_depth_key)
    plan.images = list(planned.values())
    return plan


# COCO has no depth order. SegStudio's own exports list each image's shapes back to front and say
# so under this ``info`` key; any other file is stacked largest shape at the back (a stable sort
# by decreasing area), so a small object inside a large one stays visible in VOC, Cityscapes and
# panoptic exports instead of being painted over.
DEPTH_ORDER_KEY = "segstudio_depth_order"


def _depth_key(planned: PlannedAnnotation) -> float:
    return -float(planned.geometry.area)


MAX_NAME_CHARS = 1000


def _category_color(color: Any, *, path: str, item: str) -> str | None:
    """``#rrggbb`` from a COCO ``color`` [r, g, b] of integers 0..255; None when absent."""
    if color is None:
        return None
    if (not isinstance(color, list) or len(color) < 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color[:3])):
        raise FormatError(f"color must be [r, g, b] integers in 0..255, got {color!r}"[:200], path=path, item=item)
    red, green, blue = color[:3]
    return f"#{red:02x}{green:02x}{blue:02x}"


def _candidate_roots(source: Path, data: dict[str, Any], images_root: str | os.PathLike[str] | None) -> list[Path]:
    if images_root is not None:
        return [Path(images_root).absolute()]
    folder = source.parent
    split = re.sub(r"^(instances|panoptic|annotations?)_", "", source.stem)
    roots: list[Path] = []
    # ``info.image_root`` (written by our own export) is never used: a file cannot choose the
    # folder its images are read from; pass that folder as ``images_root`` (``--images``).
    roots += [folder, folder / "images", folder / "images" / split, folder / split,
              folder.parent / "images" / split, folder.parent / split, folder.parent / "images", folder.parent,
              folder / "JPEGImages", folder.parent / "JPEGImages"]
    return list(dict.fromkeys(roots))


def _find_image(roots: list[Path], file_name: str, *, path: str, item: str) -> Path | None:
    for root in roots:
        candidate = safe_join(root, file_name, path=path, item=item)
        if candidate.is_file():
            return candidate
    return None

