"""Review reports over projects: model vs final, annotator vs annotator, project vs a COCO file.

All three build COCO ground truth and results from the projects and run the one engine
(:mod:`annotations.metrics.review_core`): same matching rules, same COCO mAP, same JSON schema
(:mod:`annotations.metrics.report_json`).

- :func:`model_vs_final`: the model's predictions against the final annotations of finished
  (done / reviewed) images, plus what became of every prediction (accepted unchanged, edited —
  with IoU(pre-label, final) —, rejected, still proposed, superseded) and the final shapes the
  model missed; per class and per model version.
- :func:`project_vs_project`: project A is the reference, B is compared (agreement per class
  and image). Images are paired by relative path (then by unique file name), classes by name.
- :func:`project_vs_coco`: a COCO instances file is the ground truth, the project is compared.

Compared shapes get score 1.0 when they have none (human shapes), so COCO AP is that of an
unranked set. Crowd shapes on the compared side are skipped (COCO results have no crowd).
``iou_type="auto"`` follows the reference (ground truth): boxes when every reference shape is a
box (a COCO file: no annotation has a ``segmentation``), masks otherwise.

Ignore regions (``Annotation.role == IGNORE``) of the reference become COCO crowd regions: a
class-scoped one for its class, a class-agnostic one for every class; detections on them are
neither true nor false positives, and their pixels are left out of the semantic section. Ignore
regions of the compared side are left out. ``max_dets`` (COCO's 100 detections per image) and
``area_rule`` (the size-bucket rule of segm results, mask area by default) are passed to the
evaluator; ``summary["warnings"]`` says when the cap cut results.
Each review also carries the pixel-level ``semantic`` section (label maps painted by z-order, then
id; :mod:`annotations.metrics.semantic_review`) unless ``semantic=False``.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from annotations.errors import MetricsError
from annotations.geometry import Box, to_box
from annotations.metrics.boundary import DEFAULT_DILATION_RATIO
from annotations.metrics.detection import DEFAULT_MAX_DETS, STAT_NAMES, AreaRule, Backend, IouType
from annotations.metrics.matching import DEFAULT_IOU_THRESHOLD, pairwise_iou, shape_rle
from annotations.metrics.report import OutcomeCounts, PredictionOutcome, ReviewReport
from annotations.metrics.report_json import outcome_counts_json
from annotations.metrics.review_core import CoreOutput, review_coco, run_core
from annotations.model import NO_CATEGORY

__all__ = ["ReviewReport", "model_vs_final", "project_vs_project", "project_vs_coco", "review_coco"]

OUTCOMES = ("accepted_unchanged", "edited", "rejected", "still_proposed", "superseded")


# ---------------------------------------------------------------------------- building COCO dicts


def _resolve_iou_type(iou_type: str, geometries: Iterable[Any]) -> IouType:
    if iou_type != "auto":
        return IouType(iou_type)
    return IouType.BBOX if all(isinstance(g, Box) for g in geometries) else IouType.SEGM


def _coco_shape(geometry: Any, size_hw: tuple[int, int], iou_type: IouType, where: str) -> dict[str, Any]:
    """``segmentation`` (compressed RLE, str counts) or ``bbox`` for one geometry."""
    if iou_type is IouType.BBOX:
        return {"bbox": [float(v) for v in to_box(geometry).xywh]}
    rle = shape_rle(geometry, size_hw, where)
    counts = rle["counts"]
    return {"segmentation": {"size": [int(size_hw[0]), int(size_hw[1])],
                             "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}}


def _gt_entry(ann: Any, image_id: int, category_id: int, size_hw: tuple[int, int], iou_type: IouType,
              where: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": int(ann.id), "image_id": image_id, "category_id": category_id,
                             "iscrowd": int(bool(getattr(ann, "iscrowd", False)) or bool(getattr(ann, "is_ignore", False))),
                             "area": float(ann.geometry.area)}
    entry.update(_coco_shape(ann.geometry, size_hw, iou_type, where))
    if "bbox" not in entry:
        entry["bbox"] = [float(v) for v in to_box(ann.geometry).xywh]
    return entry


_IGNORE_ID_BASE = 1_000_000_000  # ids of the per-class copies of class-agnostic ignore regions


def _reference_entries(img: Any, shapes: Sequence[Any], kind: IouType, category_ids: Sequence[int], *,
                       image_id: int | None = None, category_of: Any = None,
                       where: str = "") -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
    """Ground-truth entries (and their paint keys) of one image's reference shapes: an object
    as itself, a class-scoped ignore region as a crowd of its class, a class-agnostic ignore
    region as one crowd per class of ``category_ids``."""
    entries: list[dict[str, Any]] = []
    keys: list[tuple[int, int]] = []
    gid = int(img.id if image_id is None else image_id)
    for s in shapes:
        label = f"{where or img.path}: annotation {s.id}"
        agnostic = getattr(s, "is_ignore", False) and s.category_id == NO_CATEGORY
        targets = list(category_ids) if agnostic else [category_of(s.category_id) if category_of else s.category_id]
        for k, cid in enumerate(targets):
            entry = _gt_entry(s, gid, cid, img.size_hw, kind, label)
            if agnostic:
                entry["id"] = _IGNORE_ID_BASE + int(s.id) * (len(targets) + 1) + k
            entries.append(entry)
            keys.append(_paint_key(s))
    return entries, keys


def _objects(shapes: Sequence[Any]) -> list[Any]:
    """The shapes a compared side contributes: no crowds, no ignore regions."""
    return [s for s in shapes if not s.iscrowd and not getattr(s, "is_ignore", False)]


def coco_file_iou_type(iou_type: str, coco: dict[str, Any]) -> IouType:
    """``auto`` on a COCO ground-truth file: segm when any annotation has a segmentation."""
    if iou_type != "auto":
        return IouType(iou_type)
    has_masks = any(a.get("segmentation") for a in coco.get("annotations", []) if isinstance(a, dict))
    return IouType.SEGM if has_masks else IouType.BBOX


def _result_entry(shape: Any, image_id: int, category_id: int, size_hw: tuple[int, int], iou_type: IouType,
                  where: str) -> dict[str, Any]:
    entry = {"image_id": image_id, "category_id": category_id, "score": float(getattr(shape, "score", 1.0))}
    entry.update(_coco_shape(shape.geometry, size_hw, iou_type, where))
    return entry


def _paint_key(shape: Any) -> tuple[int, int]:
    """Back-to-front paint order of a project shape for the semantic section: z-order, then id."""
    return (int(getattr(shape, "z_order", 0) or 0), int(shape.id))


def _image_entry(image: Any, image_id: int | None = None) -> dict[str, Any]:
    return {"id": int(image_id if image_id is not None else image.id), "width": int(image.width),
            "height": int(image.height), "file_name": image.path}


def _category_entries(categories: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"id": int(c.id), "name": c.name, "supercategory": getattr(c, "supercategory", ""),
             "isthing": int(getattr(c, "is_thing", True))} for c in categories]


def _check_size(image_a: Any, size_b_hw: tuple[int, int], what: str) -> None:
    if (int(image_a.height), int(image_a.width)) != (int(size_b_hw[0]), int(size_b_hw[1])):
        raise MetricsError(
            f"image sizes differ for {image_a.path}: (height, width) {(image_a.height, image_a.width)} vs "
            f"{tuple(size_b_hw)} in {what}"
        )


def _pair_paths(paths_a: Sequence[str], paths_b: Sequence[str],
                files_a: Sequence[str] | None = None, files_b: Sequence[str] | None = None) -> dict[int, int]:
    """Index in A -> index in B: the same file on disk (``files_*``: absolute paths, when both
    sides have them), else the same normalized path, else the same (unique) file name."""
    out: dict[int, int] = {}
    used: set[int] = set()
    if files_a is not None and files_b is not None:
        file_b = {os.path.normcase(os.path.normpath(f)): j for j, f in enumerate(files_b)}
        for i, f in enumerate(files_a):
            j = file_b.get(os.path.normcase(os.path.normpath(f)))
            if j is not None and j not in used:
                out[i] = j
                used.add(j)
    norm_b = {str(PurePosixPath(p.replace("\\", "/"))): j for j, p in enumerate(paths_b)}
    names_b: dict[str, list[int]] = defaultdict(list)
    for j, p in enumerate(paths_b):
        names_b[PurePosixPath(p.replace("\\", "/")).name].append(j)
    names_a: dict[str, int] = defaultdict(int)
    for p in paths_a:
        names_a[PurePosixPath(p.replace("\\", "/")).name] += 1
    for i, p in enumerate(paths_a):
        if i in out:
            continue
        key = str(PurePosixPath(p.replace("\\", "/")))
        if key in norm_b and norm_b[key] not in used:
            out[i] = norm_b[key]
            used.add(out[i])
    for i, p in enumerate(paths_a):
        if i in out:
            continue
        name = PurePosixPath(p.replace("\\", "/")).name
        cands = [j for j in names_b.get(name, []) if j not in used]
        if len(cands) == 1 and names_a[name] == 1:
            out[i] = cands[0]
            used.add(cands[0])
    return out


def _image_files(project: Any, images: Sequence[Any]) -> list[str] | None:
    """The absolute file of each image (None for an object without ``image_path``)."""
    if not hasattr(project, "image_path"):
        return None
    return [os.path.abspath(project.image_path(image)) for image in images]


# ---------------------------------------------------------------------------- project vs project


def project_vs_project(project_a: Any, project_b: Any, iou_threshold: float = DEFAULT_IOU_THRESHOLD, *,
                       iou_type: str = "auto", boundary: bool = True,
                       dilation_ratio: float = DEFAULT_DILATION_RATIO,
                       backend: Backend | str = Backend.AUTO, semantic: bool = True,
                       max_dets: int = DEFAULT_MAX_DETS, area_rule: AreaRule | str = AreaRule.MASK) -> ReviewReport:
    """Agreement of annotator B (``project_b``) with annotator A (``project_a``, the reference)
    over the images both projects hold. Image sizes must agree (else :class:`MetricsError`)."""
    images_a = project_a.images()
    images_b = project_b.images()
    pairs = _pair_paths([i.path for i in images_a], [i.path for i in images_b],
                        _image_files(project_a, images_a), _image_files(project_b, images_b))
    categories = list(project_a.categories())
    by_name = {c.name: c.id for c in categories}
    next_id = max([c.id for c in categories], default=0) + 1
    b_to_a_cat: dict[int, int] = {}
    extra = []
    for c in project_b.categories():
        if c.name not in by_name:
            by_name[c.name] = next_id
            extra.append({"id": next_id, "name": c.name, "supercategory": c.supercategory})
            next_id += 1
        b_to_a_cat[c.id] = by_name[c.name]
    shapes_a, shapes_b = [], []
    for ia, jb in pairs.items():
        img_a, img_b = images_a[ia], images_b[jb]
        _check_size(img_a, img_b.size_hw, str(getattr(project_b, "path", "project B")))
        shapes_a.append((img_a, project_a.annotations(img_a.id)))
        shapes_b.append((img_a, _objects(project_b.annotations(img_b.id))))
    kind = _resolve_iou_type(iou_type, [s.geometry for _, ss in shapes_a for s in ss])
    all_ids = [c.id for c in categories] + [int(e["id"]) for e in extra]
    gt_entries: list[dict[str, Any]] = []
    gt_keys: list[tuple[int, int]] = []
    for img, ss in shapes_a:
        entries, keys = _reference_entries(img, ss, kind, all_ids)
        gt_entries.extend(entries)
        gt_keys.extend(keys)
    gt = {"images": [_image_entry(img) for img, _ in shapes_a], "annotations": gt_entries,
          "categories": _category_entries(categories) + extra}
    results, ids = [], []
    for img, ss in shapes_b:
        for s in ss:
            results.append(_result_entry(s, img.id, b_to_a_cat[s.category_id], img.size_hw, kind,
                                         f"{img.path}: annotation {s.id} of project B"))
            ids.append(s.id)
    report = review_coco(gt, results, kind, iou_threshold, backend=backend, boundary=boundary,
                         dilation_ratio=dilation_ratio, kind="project_vs_project",
                         reference=str(getattr(project_a, "path", "project A")),
                         compared=str(getattr(project_b, "path", "project B")), compared_ids=ids,
                         semantic=semantic, gt_paint_keys=gt_keys,
                         dt_paint_keys=[_paint_key(s) for _, ss in shapes_b for s in ss], max_dets=max_dets,
                         area_rule=area_rule)
    report.summary["unmatched_images"] = {"reference_only": len(images_a) - len(pairs),
                                          "compared_only": len(images_b) - len(pairs)}
    return report


# ---------------------------------------------------------------------------- project vs COCO


def project_vs_coco(project: Any, gt_json_path: str | Path, iou_threshold: float = DEFAULT_IOU_THRESHOLD, *,
                    iou_type: str = "auto", boundary: bool = True,
                    dilation_ratio: float = DEFAULT_DILATION_RATIO,
                    backend: Backend | str = Backend.AUTO, semantic: bool = True,
                    predictions: bool = False, model_version_id: int | None = None,
                    max_dets: int = DEFAULT_MAX_DETS, area_rule: AreaRule | str = AreaRule.MASK) -> ReviewReport:
    """The project's annotations — or, with ``predictions``, its model's pre-labels (of
    ``model_version_id``, default the newest version with predictions; superseded ones only when
    the version has no other) — against a COCO instances file (the ground truth). Images are
    paired by file: the same relative path, else the same (unique) file name, so a ground-truth
    file written elsewhere pairs with the project's images without ids in common. Classes are
    paired by name. ``iou_type="auto"`` follows the ground truth (segm when it has masks)."""
    gt_json_path = Path(gt_json_path)
    try:
        coco = json.loads(gt_json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetricsError(f"{gt_json_path}: cannot read COCO ground truth: {exc}") from exc
    if not isinstance(coco, dict) or not all(isinstance(coco.get(k), list) for k in ("images", "annotations", "categories")):
        raise MetricsError(f"{gt_json_path}: not a COCO instances file (images, annotations, categories)")
    images = project.images()
    gt_images = coco["images"]
    pairs = _pair_paths([i.path for i in images], [str(g.get("file_name", "")) for g in gt_images])
    gt_cats = {c["name"]: c["id"] for c in coco["categories"]}
    next_id = max([int(c["id"]) for c in coco["categories"]], default=0) + 1
    cat_map: dict[int, int] = {}
    extra = []
    for c in project.categories():
        if c.name not in gt_cats:
            gt_cats[c.name] = next_id
            extra.append({"id": next_id, "name": c.name})
            next_id += 1
        cat_map[c.id] = gt_cats[c.name]
    compared_name = str(getattr(project, "path", "project"))
    version = None
    if predictions:
        version, by_image = _version_predictions(project, model_version_id, {images[i].id for i in pairs})
        compared_name = f"{compared_name} model version {version}"
    paired_gt_ids = {gt_images[j]["id"] for j in pairs.values()}
    shapes = []
    for i, j in pairs.items():
        g = gt_images[j]
        _check_size(images[i], (int(g.get("height", 0)), int(g.get("width", 0))), str(gt_json_path))
        own = by_image.get(images[i].id, []) if predictions else _objects(project.annotations(images[i].id))
        shapes.append((images[i], g["id"], own))
    kind = coco_file_iou_type(iou_type, {"annotations": [a for a in coco["annotations"]
                                                          if isinstance(a, dict) and a.get("image_id") in paired_gt_ids]})
    gt = {"images": [g for g in gt_images if g["id"] in paired_gt_ids],
          "annotations": [a for a in coco["annotations"] if a.get("image_id") in paired_gt_ids],
          "categories": list(coco["categories"]) + extra}
    results, ids = [], []
    for img, gt_image_id, ss in shapes:
        for s in ss:
            results.append(_result_entry(s, gt_image_id, cat_map[s.category_id], img.size_hw, kind,
                                         f"{img.path}: {'prediction' if predictions else 'annotation'} {s.id}"))
            ids.append(s.id)
    paths = {gt_id: img.path for img, gt_id, _ in shapes}
    dt_keys = [(-float(getattr(s, "score", 1.0)), int(s.id)) if predictions else _paint_key(s)
               for _, _, ss in shapes for s in ss]
    report = review_coco(gt, results, kind, iou_threshold, backend=backend, boundary=boundary,
                         dilation_ratio=dilation_ratio, kind="project_vs_coco", reference=str(gt_json_path),
                         compared=compared_name, compared_ids=ids, image_paths=paths,
                         semantic=semantic, dt_paint_keys=dt_keys, max_dets=max_dets, area_rule=area_rule)
    report.summary["unmatched_images"] = {"reference_only": len(gt_images) - len(pairs),
                                          "compared_only": len(images) - len(pairs)}
    if predictions:
        report.summary["model_version_id"] = version
    return report


def _version_predictions(project: Any, model_version_id: int | None,
                         image_ids: set[int]) -> tuple[int, dict[int, list[Any]]]:
    """(version, image id -> its predictions) over ``image_ids``: per image the version's live
    predictions, else its superseded ones (its own output, replaced later). Raises
    :class:`MetricsError` when the version does not exist or has no predictions there."""
    from annotations.model import PredictionState

    preds = [p for p in project.predictions() if p.image_id in image_ids]
    versions = sorted({p.model_version_id for p in preds})
    if model_version_id is None:
        if not versions:
            raise MetricsError(f"{getattr(project, 'path', 'the project')} has no predictions on the paired images; "
                               "run main.py prelabel first")
        model_version_id = versions[-1]
    if model_version_id not in versions:
        raise MetricsError(f"model version {model_version_id} has no predictions on the paired images "
                           f"(versions with predictions there: {versions or 'none'})")
    live: dict[int, list[Any]] = defaultdict(list)
    old: dict[int, list[Any]] = defaultdict(list)
    for p in preds:
        if p.model_version_id == model_version_id:
            (old if p.state is PredictionState.SUPERSEDED else live)[p.image_id].append(p)
    return model_version_id, {i: live.get(i) or old.get(i, []) for i in set(live) | set(old)}


# ---------------------------------------------------------------------------- model vs final


def _geometry_equal(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and a == b
    except ValueError:
        return False


def model_vs_final(project: Any, model_version_id: int | None = None,
                   iou_threshold: float = DEFAULT_IOU_THRESHOLD, *, iou_type: str = "auto", boundary: bool = True,
                   dilation_ratio: float = DEFAULT_DILATION_RATIO,
                   backend: Backend | str = Backend.AUTO, semantic: bool = True,
                   max_dets: int = DEFAULT_MAX_DETS, area_rule: AreaRule | str = AreaRule.MASK) -> ReviewReport:
    """The model's pre-labels against the final annotations of finished images.

    The matching / mAP part uses the predictions of one model version — ``model_version_id`` or
    the newest with predictions on finished images — on the finished (done / reviewed) images
    that version pre-labelled: those where it has a prediction in any state, and those the
    pre-label job recorded it ran on (:mod:`annotations.store.prelabel_log`), so an image the
    model saw and left empty counts its objects as missed. On each image the version's live
    predictions are used, else its superseded ones (its own output, replaced by a later run; the
    summary's ``notes`` say so). A version that never pre-labelled a finished image is refused
    with the reason. An image no version saw is not counted as misses. Without any prediction
    on finished images, every finished image is reported with all shapes missed.
    ``model_outcomes`` covers every prediction of every version on every image;
    ``per_model_version`` repeats the matching for each version.
    """
    from annotations.model import PredictionState

    images = project.images()
    finished = [img for img in images if img.status.is_finished]
    finished_ids = {img.id for img in finished}
    annotations = {img.id: project.annotations(img.id) for img in finished}
    predictions = project.predictions()
    categories = list(project.categories())
    cat_names = {c.id: c.name for c in categories}
    versions = {v.id: v for v in project.model_versions()}
    image_by_id = {img.id: img for img in images}

    # What became of each prediction (all images, all versions).
    linked: dict[int, Any] = {}
    for ann in project.annotations():
        if ann.origin_prediction_id is not None:
            linked[ann.origin_prediction_id] = ann
    outcomes: list[PredictionOutcome] = []
    for p in predictions:
        ann = linked.get(p.id)
        iou = math.nan
        if ann is not None:
            same = ann.category_id == p.category_id and _geometry_equal(ann.geometry, p.geometry)
            img = image_by_id[p.image_id]
            iou = float(pairwise_iou([ann.geometry], [p.geometry], img.size_hw)[0, 0])
            outcome = "accepted_unchanged" if same else "edited"
        elif p.state is PredictionState.ACCEPTED or p.state is PredictionState.REJECTED:
            outcome = "rejected"  # accepted then deleted counts as rejected
        elif p.state is PredictionState.SUPERSEDED:
            outcome = "superseded"
        else:
            outcome = "still_proposed"
        outcomes.append(PredictionOutcome(
            prediction_id=p.id, image_id=p.image_id, category_id=p.category_id, model_version_id=p.model_version_id,
            score=float(p.score), outcome=outcome, annotation_id=ann.id if ann is not None else None, iou=iou,
            final_category_id=ann.category_id if ann is not None else None))

    live_by: dict[tuple[int, int], list[Any]] = defaultdict(list)
    old_by: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for p in predictions:
        if p.image_id in finished_ids:
            (old_by if p.state is PredictionState.SUPERSEDED else live_by)[(p.model_version_id, p.image_id)].append(p)
    superseded_used: dict[int, int] = defaultdict(int)

    def evaluated(version_id: int) -> list[Any]:
        out: list[Any] = []
        for image_id in sorted(finished_ids):
            key = (version_id, image_id)
            if live_by.get(key):
                out.extend(live_by[key])
            elif old_by.get(key):
                out.extend(old_by[key])
                superseded_used[version_id] += len(old_by[key])
        return out

    # A version is judged only on the finished images it pre-labelled (it has a prediction there,
    # in any state, or the pre-label job recorded the image): a finished image it never saw
    # would otherwise count all its shapes as misses.
    seen_by_version: dict[int, set[int]] = defaultdict(set)
    for p in predictions:
        seen_by_version[p.model_version_id].add(p.image_id)
    from annotations.store.prelabel_log import prelabelled_images

    if hasattr(project, "get_setting"):
        for version_id, image_ids in prelabelled_images(project).items():
            seen_by_version[version_id] |= image_ids

    version_ids = sorted({p.model_version_id for p in predictions} | {v for v, ids in seen_by_version.items() if ids})
    with_finished = [v for v in version_ids if seen_by_version[v] & finished_ids]
    chosen = model_version_id if model_version_id is not None else (with_finished[-1] if with_finished else None)
    where = getattr(project, "path", "the project")
    if model_version_id is not None and model_version_id not in versions and model_version_id not in version_ids:
        raise MetricsError(f"model version {model_version_id} does not exist in {where}")
    if model_version_id is not None and model_version_id not in with_finished:
        seen = len(seen_by_version.get(model_version_id, set()))
        raise MetricsError(
            f"model version {model_version_id} cannot be reviewed: it pre-labelled {seen} image(s), none of them "
            f"finished (mark images done, or pre-label finished images with it: main.py prelabel --model-version)")
    kind = _resolve_iou_type(iou_type, [a.geometry for anns in annotations.values() for a in anns])
    all_category_ids = [c.id for c in categories]

    def ground_truth(version_id: int | None) -> tuple[dict[str, Any], list[tuple[int, int]]]:
        scope = [img for img in finished if version_id is None or img.id in seen_by_version[version_id]]
        entries: list[dict[str, Any]] = []
        keys: list[tuple[int, int]] = []
        for img in scope:
            e, k = _reference_entries(img, annotations[img.id], kind, all_category_ids)
            entries.extend(e)
            keys.extend(k)
        return ({"images": [_image_entry(img) for img in scope], "annotations": entries,
                 "categories": _category_entries(categories)}, keys)

    def run(version_id: int | None, with_boundary: bool, with_semantic: bool = False) -> CoreOutput:
        gt, scope_keys = ground_truth(version_id)
        preds = evaluated(version_id) if version_id is not None else []
        results = [_result_entry(p, p.image_id, p.category_id, image_by_id[p.image_id].size_hw, kind,
                                 f"{image_by_id[p.image_id].path}: prediction {p.id}") for p in preds]
        name = f"model version {version_id}" if version_id is not None else "no model predictions"
        return run_core(gt, results, kind, iou_threshold, backend=backend, boundary=with_boundary,
                        dilation_ratio=dilation_ratio, kind="model_vs_final", reference="final annotations",
                        compared=name, compared_ids=[p.id for p in preds], semantic=with_semantic,
                        gt_paint_keys=scope_keys, dt_paint_keys=[(float(p.score), int(p.id)) for p in preds],
                        max_dets=max_dets, area_rule=area_rule)

    main = run(chosen, boundary, semantic)
    report = main.report
    missed_by_version: dict[int, dict[int, int]] = {}
    per_version = []
    for v in version_ids:
        core = main if v == chosen else (run(v, False) if v in with_finished else None)
        missed = defaultdict(int)
        if core is not None:
            for row in core.report.per_class:
                missed[row.category_id] = row.fn
        missed_by_version[v] = missed
        counts = OutcomeCounts()
        for o in outcomes:
            if o.model_version_id == v:
                _tally(counts, o)
        counts.missed = sum(missed.values())
        mv = versions.get(v)
        entry = {"model_version_id": v, "architecture": mv.architecture if mv else None,
                 "created": mv.created if mv else None, **outcome_counts_json(counts)}
        if core is not None:
            s = core.report.summary
            entry.update({"images": s["images"], "tp": s["tp"], "fp": s["fp"], "fn": s["fn"],
                          "precision": s["precision"], "recall": s["recall"], "f1": s["f1"],
                          "mean_iou": s["mean_iou"], "coco": core.report.coco})
        else:
            entry.update({"images": 0, "coco": dict.fromkeys(STAT_NAMES, math.nan)})
        per_version.append(entry)

    totals = OutcomeCounts()
    per_class_counts: dict[int, OutcomeCounts] = {c.id: OutcomeCounts() for c in categories}
    for o in outcomes:
        _tally(totals, o)
        _tally(per_class_counts.setdefault(o.category_id, OutcomeCounts()), o)
    chosen_missed = missed_by_version.get(chosen, {}) if chosen is not None else {}
    for cid, n in chosen_missed.items():
        per_class_counts.setdefault(cid, OutcomeCounts()).missed = n
    totals.missed = sum(chosen_missed.values()) if chosen is not None else sum(
        row.fn for row in report.per_class)
    report.model_outcomes = {
        "totals": outcome_counts_json(totals),
        "missed_counted_for_model_version": chosen,
        "per_class": [{"category_id": cid, "name": cat_names.get(cid, str(cid)), **outcome_counts_json(c)}
                      for cid, c in sorted(per_class_counts.items())],
        "per_model_version": per_version,
    }
    report.predictions = outcomes
    report.summary["model_version_id"] = chosen
    notes: list[str] = []
    if chosen is not None and superseded_used.get(chosen):
        notes.append(f"model version {chosen}: {superseded_used[chosen]} superseded prediction(s) used on finished "
                     "images where it has no live ones (its own output, replaced by a later pre-label run)")
    if chosen is not None:
        empty = len([i for i in seen_by_version[chosen] & finished_ids
                     if not live_by.get((chosen, i)) and not old_by.get((chosen, i))])
        if empty:
            notes.append(f"model version {chosen} saw {empty} finished image(s) and predicted nothing there: "
                         "their objects count as missed")
    report.summary["notes"] = notes
    report.summary["finished_images"] = len(finished)
    report.summary["predictions"] = len(predictions)
    return report


def _tally(counts: OutcomeCounts, outcome: PredictionOutcome) -> None:
    counts.add(outcome.outcome)
    if outcome.outcome == "edited":
        if not math.isnan(outcome.iou):
            counts.edit_ious.append(outcome.iou)
        if outcome.final_category_id != outcome.category_id:
            counts.class_changed += 1

