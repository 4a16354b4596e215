"""The review engine: COCO ground truth + COCO results -> a :class:`ReviewReport`.

Every review (files, project vs COCO, project vs project, model vs final) ends here. Per image,
one IoU matrix between all detections and all ground truth is computed on RLE (or boxes) by
``pycocotools.mask.iou``; it feeds the two-pass optimal matching *and* the COCO evaluator
(through its ``iou_provider`` hook), so masks are compared once.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import MetricsError
from annotations.metrics.boundary import DEFAULT_DILATION_RATIO, boundary_iou_rle
from annotations.metrics.detection import (
    DEFAULT_MAX_DETS,
    STAT_NAMES,
    AreaRule,
    Backend,
    CocoEvaluation,
    IouType,
    evaluate_prepared,
    prepare_gt,
    prepare_results,
    truncated_images,
)
from annotations.metrics.matching import DEFAULT_IOU_THRESHOLD, MatchResult, match_from_iou
from annotations.metrics.report import ClassRow, Confusion, ImageRow, ReviewReport
from annotations.metrics.saliency_review import attach_pixel_measures
from annotations.metrics.semantic_review import PaintKey, PaintShape, SemanticAccumulator

HISTOGRAM_EDGES = np.linspace(0.0, 1.0, 21)
PR_IOUS = (0.5, 0.75)


@dataclass
class ImageMatch:
    """The matching of one image with the ids of both sides (GT ids as given, compared ids)."""

    image_id: int
    gt_ids: list[int]
    compared_ids: list[int]
    result: MatchResult
    boundary_ious: dict[int, float] = field(default_factory=dict)  # GT index -> boundary IoU


@dataclass
class CoreOutput:
    report: ReviewReport
    matches: dict[int, ImageMatch]
    evaluation: CocoEvaluation


def _nanmean(values: Sequence[float] | np.ndarray) -> float:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(arr))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else math.nan


def _gt_rle(ann: dict[str, Any], size_hw: tuple[int, int]) -> dict[str, Any]:
    """COCO's annToRLE, with the size checked against the image."""
    h, w = size_hw
    segm: dict[str, Any] | list[Any] = ann["segmentation"]
    if isinstance(segm, list):
        merged: dict[str, Any] = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        return merged
    if [int(v) for v in segm["size"]] != [h, w]:
        raise MetricsError(
            f"ground-truth annotation id {ann['id']}: mask size {list(segm['size'])} differs from its image "
            f"{ann['image_id']} (height, width) = {[h, w]}"
        )
    if isinstance(segm["counts"], list):
        compressed: dict[str, Any] = mask_utils.frPyObjects(segm, h, w)
        return compressed
    return segm


def _paint_rle(geometry: dict[str, Any] | list[float], size_hw: tuple[int, int], iou_type: IouType) -> dict[str, Any]:
    """The RLE to paint: the shape's own RLE (segm) or its box [x, y, w, h] rasterized (bbox)."""
    if iou_type is IouType.SEGM:
        return cast(dict[str, Any], geometry)  # segm: the geometry is the shape's RLE
    h, w = size_hw
    rle: dict[str, Any] = mask_utils.frPyObjects(np.asarray([geometry], dtype=np.float64).reshape(1, 4), h, w)[0]
    return rle


def review_coco(
    gt_dict: dict[str, Any],
    results: list[dict[str, Any]],
    iou_type: IouType | str = IouType.SEGM,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    *,
    backend: Backend | str = Backend.AUTO,
    boundary: bool = True,
    dilation_ratio: float = DEFAULT_DILATION_RATIO,
    kind: str = "coco",
    reference: str = "ground truth",
    compared: str = "results",
    compared_ids: Sequence[int] | None = None,
    image_paths: dict[int, str] | None = None,
    semantic: bool = False,
    gt_paint_keys: Sequence[PaintKey] | None = None,
    dt_paint_keys: Sequence[PaintKey] | None = None,
    max_dets: int = DEFAULT_MAX_DETS,
    area_rule: AreaRule | str = AreaRule.MASK,
) -> ReviewReport:
    """Review COCO results against a COCO ground truth (dicts, see :mod:`detection`).

    ``compared_ids`` names each result in the report (default: its 1-based index);
    ``image_paths`` overrides the images' ``file_name``; ``boundary`` adds the boundary IoU of
    every same-class pair (segm only). ``semantic`` adds the pixel-level section (label maps,
    mIoU, pixel accuracy; see :mod:`annotations.metrics.semantic_review`), painting each side in
    ascending ``gt_paint_keys`` / ``dt_paint_keys`` (parallel to the annotations / results;
    default: their order). ``max_dets`` is COCO's detections-per-image cap for AP (default 100);
    when results exceed it on an image, ``summary["warnings"]`` says so (tp/fp/fn count every
    result, AP only the best ``max_dets``). ``area_rule`` picks the size bucket of a segm result
    (:class:`~annotations.metrics.detection.AreaRule`: mask area by default, as Detectron2).
    """
    return run_core(gt_dict, results, iou_type, iou_threshold, backend=backend, boundary=boundary,
                    dilation_ratio=dilation_ratio, kind=kind, reference=reference, compared=compared,
                    compared_ids=compared_ids, image_paths=image_paths, semantic=semantic,
                    gt_paint_keys=gt_paint_keys, dt_paint_keys=dt_paint_keys, max_dets=max_dets,
                    area_rule=area_rule).report


def run_core(
    gt_dict: dict[str, Any],
    results: list[dict[str, Any]],
    iou_type: IouType | str = IouType.SEGM,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    *,
    backend: Backend | str = Backend.AUTO,
    boundary: bool = True,
    dilation_ratio: float = DEFAULT_DILATION_RATIO,
    kind: str = "coco",
    reference: str = "ground truth",
    compared: str = "results",
    compared_ids: Sequence[int] | None = None,
    image_paths: dict[int, str] | None = None,
    semantic: bool = False,
    gt_paint_keys: Sequence[PaintKey] | None = None,
    dt_paint_keys: Sequence[PaintKey] | None = None,
    max_dets: int = DEFAULT_MAX_DETS,
    area_rule: AreaRule | str = AreaRule.MASK,
) -> CoreOutput:
    """:func:`review_coco` that also returns the per-image matches and the COCO evaluation."""
    iou_type = IouType(iou_type)
    if not 0.0 <= iou_threshold <= 1.0:
        raise MetricsError(f"IoU threshold must be in [0, 1], got {iou_threshold}")
    gt, renumbered = prepare_gt(gt_dict, iou_type)
    res = prepare_results(results, gt, iou_type, area_rule=area_rule)
    if compared_ids is not None and len(compared_ids) != len(res):
        raise MetricsError(f"{len(compared_ids)} compared ids for {len(res)} results")
    original_gt_ids = [a["id"] for a in gt_dict["annotations"]]
    images = {img["id"]: img for img in gt["images"]}
    sizes: dict[int, tuple[int, int]] = {}
    for img in gt["images"]:
        if iou_type is IouType.SEGM and ("height" not in img or "width" not in img):
            raise MetricsError(f"ground-truth image {img['id']} has no height/width")
        sizes[img["id"]] = (int(img.get("height", 0)), int(img.get("width", 0)))

    # Geometry per shape: RLE (segm) or [x, y, w, h] (bbox); grouped per image.
    gt_by_image: dict[int, list[int]] = {i: [] for i in images}
    dt_by_image: dict[int, list[int]] = {i: [] for i in images}
    gt_geom: list[Any] = []
    for index, ann in enumerate(gt["annotations"]):
        if iou_type is IouType.SEGM:
            rle = _gt_rle(ann, sizes[ann["image_id"]])
            ann["segmentation"] = rle  # the evaluator then needs no conversion
            gt_geom.append(rle)
        else:
            gt_geom.append(ann["bbox"])
        gt_by_image[ann["image_id"]].append(index)
    dt_geom: list[Any] = []
    for index, r in enumerate(res):
        if iou_type is IouType.SEGM:
            seg = r["segmentation"]
            h, w = sizes[r["image_id"]]
            if [int(v) for v in seg["size"]] != [h, w]:
                raise MetricsError(
                    f"result #{index}: mask size {list(seg['size'])} differs from image {r['image_id']} "
                    f"(height, width) = {[h, w]}"
                )
            dt_geom.append(seg)
        else:
            dt_geom.append(r["bbox"])
        dt_by_image[r["image_id"]].append(index)

    categories = sorted(gt["categories"], key=lambda c: c["id"])
    cat_ids = [int(c["id"]) for c in categories]
    cat_pos = {c: k for k, c in enumerate(cat_ids)}
    k_cats = len(cat_ids)
    shown_ids = list(compared_ids) if compared_ids is not None else list(range(1, len(res) + 1))

    # Per-image IoU (D x G, pycocotools orientation) and matching.
    iou_dg: dict[int, np.ndarray] = {}
    dt_row = np.zeros(len(res), dtype=np.int64)
    gt_col: dict[int, int] = {}
    matches: dict[int, ImageMatch] = {}
    gt_cat_all = np.array([a["category_id"] for a in gt["annotations"]], dtype=np.int64)
    gt_crowd_all = np.array([bool(a.get("iscrowd", 0)) for a in gt["annotations"]], dtype=bool)
    dt_cat_all = np.array([r["category_id"] for r in res], dtype=np.int64)
    for ann in gt["annotations"]:
        if ann["category_id"] not in cat_pos:
            raise MetricsError(f"ground-truth annotation id {ann['id']} has category {ann['category_id']}, "
                               "absent from the categories")
    gt_pos_all = np.array([cat_pos[c] for c in gt_cat_all.tolist()], dtype=np.int64)
    dt_pos_all = np.array([cat_pos[c] for c in dt_cat_all.tolist()], dtype=np.int64)

    class_gt = np.zeros(k_cats, dtype=np.int64)
    class_pred = np.zeros(k_cats, dtype=np.int64)
    class_tp = np.zeros(k_cats, dtype=np.int64)
    class_mm_gt = np.zeros(k_cats, dtype=np.int64)
    class_mm_pred = np.zeros(k_cats, dtype=np.int64)
    class_iou_sum = np.zeros(k_cats)
    class_biou_sum = np.zeros(k_cats)
    class_biou_n = np.zeros(k_cats, dtype=np.int64)
    confusion = np.zeros((k_cats + 1, k_cats + 1), dtype=np.int64)
    matched_ious: list[np.ndarray] = []
    best_per_gt: list[np.ndarray] = []
    rows: list[ImageRow] = []
    do_boundary = boundary and iou_type is IouType.SEGM
    if gt_paint_keys is not None and len(gt_paint_keys) != len(gt["annotations"]):
        raise MetricsError(f"{len(gt_paint_keys)} paint keys for {len(gt['annotations'])} ground-truth shapes")
    if dt_paint_keys is not None and len(dt_paint_keys) != len(res):
        raise MetricsError(f"{len(dt_paint_keys)} paint keys for {len(res)} results")
    if semantic and any(h <= 0 or w <= 0 for h, w in sizes.values()):
        bad = next(i for i, (h, w) in sizes.items() if h <= 0 or w <= 0)
        raise MetricsError(f"ground-truth image {bad} has no height/width: the semantic section needs them")
    pixels = SemanticAccumulator([str(c.get("name", c["id"])) for c in categories]) if semantic else None

    for image_id, img in images.items():
        gi = gt_by_image[image_id]
        di = dt_by_image[image_id]
        for col, index in enumerate(gi):
            gt_col[gt["annotations"][index]["id"]] = col
        if di:
            dt_row[di] = np.arange(len(di))
        crowd = gt_crowd_all[gi] if gi else np.zeros(0, dtype=bool)
        if gi and di:
            m = np.asarray(mask_utils.iou([dt_geom[i] for i in di], [gt_geom[i] for i in gi],
                                          crowd.astype(np.uint8).tolist()), dtype=np.float64).reshape(len(di), len(gi))
        else:
            m = np.zeros((len(di), len(gi)))
        iou_dg[image_id] = m
        gcats = gt_cat_all[gi] if gi else np.zeros(0, dtype=np.int64)
        dcats = dt_cat_all[di] if di else np.zeros(0, dtype=np.int64)
        result = match_from_iou(m.T, gcats, dcats, crowd, iou_threshold)
        match = ImageMatch(image_id, [original_gt_ids[i] for i in gi], [shown_ids[i] for i in di], result)
        matches[image_id] = match

        tp_g = np.flatnonzero(result.same_class_gt)
        tp_ious = result.iou[tp_g, result.gt_to_pred[tp_g]] if tp_g.size else np.zeros(0)
        biou: list[float] = []
        if do_boundary and tp_g.size:
            for g in tp_g:
                p = int(result.gt_to_pred[g])
                value = boundary_iou_rle(gt_geom[gi[g]], dt_geom[di[p]], dilation_ratio)
                match.boundary_ious[int(g)] = value
                biou.append(value)
        normal = ~crowd
        gpos = gt_pos_all[gi]
        dpos = dt_pos_all[di]
        # class tallies
        np.add.at(class_gt, gpos[normal], 1)
        counted_pred = ~result.pred_ignored
        np.add.at(class_pred, dpos[counted_pred], 1)
        if tp_g.size:
            pos = gpos[tp_g]
            np.add.at(class_tp, pos, 1)
            np.add.at(class_iou_sum, pos, tp_ious)
            if biou:
                np.add.at(class_biou_sum, pos, np.nan_to_num(biou))
                np.add.at(class_biou_n, pos, ~np.isnan(biou))
        mm = [(int(g), int(result.gt_to_pred[g])) for g in np.flatnonzero(result.gt_to_pred >= 0)
              if not result.same_class_gt[g]]
        for mm_g, mm_p in mm:
            class_mm_gt[gpos[mm_g]] += 1
            class_mm_pred[dpos[mm_p]] += 1
        # confusion: pairs, unmatched GT (last column), unmatched predictions (last row)
        paired_g = np.flatnonzero(result.gt_to_pred >= 0)
        np.add.at(confusion, (gpos[paired_g], dpos[result.gt_to_pred[paired_g]]), 1)
        np.add.at(confusion, (gpos[(result.gt_to_pred < 0) & normal], k_cats), 1)
        np.add.at(confusion, (k_cats, dpos[(result.pred_to_gt < 0) & counted_pred]), 1)
        if pixels is not None:
            pixels.add_image(sizes[image_id],
                             [PaintShape(_paint_rle(gt_geom[i], sizes[image_id], iou_type),
                                         pixels.crowd_label if gt_crowd_all[i] else int(gt_pos_all[i]) + 1,
                                         tuple(gt_paint_keys[i]) if gt_paint_keys is not None else (i,))
                              for i in gi],
                             [PaintShape(_paint_rle(dt_geom[i], sizes[image_id], iou_type), int(dt_pos_all[i]) + 1,
                                         tuple(dt_paint_keys[i]) if dt_paint_keys is not None else (i,))
                              for i in di])
        matched_ious.append(tp_ious)
        if gi:
            same = gcats[:, None] == dcats[None, :] if di else np.zeros((len(gi), 0), dtype=bool)
            best = (result.iou * same).max(axis=1) if di else np.zeros(len(gi))
            best_per_gt.append(best[normal])

        tp, fp, fn = result.tp, result.fp, result.fn
        fn_idx = result.false_negatives
        fp_idx = result.false_positives
        rows.append(ImageRow(
            image_id=int(image_id),
            path=str((image_paths or {}).get(image_id, img.get("file_name", ""))),
            width=int(img.get("width", 0)),
            height=int(img.get("height", 0)),
            gt=int(normal.sum()),
            pred=int(counted_pred.sum()),
            tp=tp, fp=fp, fn=fn,
            label_mismatches=len(mm),
            ignored=int(result.pred_ignored.sum()),
            precision=_ratio(tp, tp + fp),
            recall=_ratio(tp, tp + fn),
            f1=_ratio(2 * tp, 2 * tp + fp + fn),
            mean_iou=float(tp_ious.mean()) if tp_ious.size else math.nan,
            mean_boundary_iou=_nanmean(biou) if biou else math.nan,
            false_negative_ids=[match.gt_ids[g] for g in fn_idx],
            false_positive_ids=[match.compared_ids[p] for p in fp_idx],
            mismatch_pairs=[(match.gt_ids[g], match.compared_ids[p]) for g, p in mm],
        ))

    # COCO mAP on the same IoU matrices.
    def provider(image_id: int, dt_ids: Sequence[int], gt_ids: Sequence[int]) -> np.ndarray:
        m = iou_dg[image_id]
        r = dt_row[np.asarray(dt_ids, dtype=np.int64) - 1]
        c = np.asarray([gt_col[i] for i in gt_ids], dtype=np.int64)
        return m[np.ix_(r, c)]
    evaluation = evaluate_prepared(gt, res, iou_type, backend=backend, iou_provider=provider,
                                   gt_ids_renumbered=renumbered, max_dets=max_dets)
    over_cap = truncated_images(res, max_dets)
    warnings_out: list[str] = []
    if over_cap:
        warnings_out.append(
            f"{len(over_cap)} image(s) hold more than {max_dets} results ({sum(over_cap.values())} results beyond "
            f"the cap): COCO AP/AR{max_dets} see only the {max_dets} best-scored per image, so AP is lower than "
            f"tp/fp/fn suggest; raise --max-dets (e.g. {max(over_cap.values()) + max_dets})")

    ap = evaluation.per_category_ap()
    ap50 = evaluation.per_category_ap(0.5)
    ap75 = evaluation.per_category_ap(0.75)
    names = [str(c.get("name", c["id"])) for c in categories]
    per_class = []
    for k, cid in enumerate(cat_ids):
        tp = int(class_tp[k])
        fp = int(class_pred[k] - class_tp[k])
        fn = int(class_gt[k] - class_tp[k])
        per_class.append(ClassRow(
            category_id=cid, name=names[k], gt=int(class_gt[k]), pred=int(class_pred[k]), tp=tp, fp=fp, fn=fn,
            precision=_ratio(tp, tp + fp), recall=_ratio(tp, tp + fn), f1=_ratio(2 * tp, 2 * tp + fp + fn),
            mean_iou=_ratio(class_iou_sum[k], tp),
            mean_boundary_iou=_ratio(class_biou_sum[k], class_biou_n[k]),
            ap=ap.get(cid, math.nan), ap50=ap50.get(cid, math.nan), ap75=ap75.get(cid, math.nan),
            label_mismatch_as_gt=int(class_mm_gt[k]), label_mismatch_as_pred=int(class_mm_pred[k]),
        ))

    rows.sort(key=_worst_first)
    all_matched = np.concatenate(matched_ious) if matched_ious else np.zeros(0)
    all_best = np.concatenate(best_per_gt) if best_per_gt else np.zeros(0)
    tp_total = int(class_tp.sum())
    fp_total = int(class_pred.sum() - tp_total)
    fn_total = int(class_gt.sum() - tp_total)
    all_biou = [v for mt in matches.values() for v in mt.boundary_ious.values()]
    summary = {
        "images": len(images),
        "gt": int(class_gt.sum()),
        "pred": int(class_pred.sum()),
        "tp": tp_total,
        "fp": fp_total,
        "fn": fn_total,
        "label_mismatches": int(class_mm_gt.sum()),
        "ignored": int(sum(r.ignored for r in rows)),
        "precision": _ratio(tp_total, tp_total + fp_total),
        "recall": _ratio(tp_total, tp_total + fn_total),
        "f1": _ratio(2 * tp_total, 2 * tp_total + fp_total + fn_total),
        "macro_f1": _nanmean([r.f1 for r in per_class]),
        "mean_iou": float(all_matched.mean()) if all_matched.size else math.nan,
        "mean_boundary_iou": _nanmean(all_biou) if all_biou else math.nan,
        "boundary_dilation_ratio": dilation_ratio if do_boundary else None,
        "evaluator": evaluation.backend.value,
        "gt_ids_renumbered": renumbered,
        "max_dets": int(max_dets),
        "area_rule": AreaRule(area_rule).value,
        "warnings": warnings_out,
    }
    curves = []
    for t in PR_IOUS:
        curves.append({"category_id": None, "name": "all", "iou": t, "precision": evaluation.pr_curve(None, t).tolist()})
        for cid, name in zip(cat_ids, names):
            curves.append({"category_id": cid, "name": name, "iou": t, "precision": evaluation.pr_curve(cid, t).tolist()})
    report = ReviewReport(
        kind=kind,
        reference=reference,
        compared=compared,
        iou_type=iou_type.value,
        iou_threshold=float(iou_threshold),
        summary=summary,
        per_class=per_class,
        per_image=rows,
        confusion=Confusion(category_ids=cat_ids, names=names, matrix=confusion.tolist()),
        pr_curves={"recall": evaluation.recall_thresholds.tolist(), "iou_thresholds": list(PR_IOUS), "curves": curves},
        iou_histogram={
            "bin_edges": HISTOGRAM_EDGES.tolist(),
            # pycocotools' box IoU can exceed 1 by rounding (1 + 1e-14): clip into the last bin
            "matched": np.histogram(np.clip(all_matched, 0.0, 1.0), HISTOGRAM_EDGES)[0].tolist(),
            "best_per_gt": np.histogram(np.clip(all_best, 0.0, 1.0), HISTOGRAM_EDGES)[0].tolist(),
        },
        coco={name: evaluation.stats[name] for name in STAT_NAMES},
        semantic=pixels.to_json() if pixels is not None else None,
    )
    attach_pixel_measures(report, gt, res, iou_type, image_paths, enabled=semantic)  # stuff_only + saliency (H2)
    return CoreOutput(report, matches, evaluation)


def _worst_first(row: ImageRow) -> tuple[float, int, float, int]:
    """Lowest F1 first (an image with nothing on either side counts as perfect), then the most
    errors, then the lowest mean IoU, then id."""
    f1 = 1.0 if math.isnan(row.f1) else row.f1
    miou = 1.0 if math.isnan(row.mean_iou) else row.mean_iou
    return (f1, -(row.fp + row.fn), miou, row.image_id)
