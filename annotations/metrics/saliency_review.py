"""The foreground/background (saliency) section of a review, and which measures a review shows.

A review is *binary* when its categories are one class, or two of which one is a background
class (named ``background``, ``bg``, ``_background_`` or ``__background__``, any case): the
union of the foreground class's shapes is then a (height, width) foreground mask per image on
each side, and :mod:`annotations.metrics.saliency` measures the compared mask against the
reference mask (crowd shapes of the foreground class count as foreground: a crowd of cells is
cells). Shapes are masks here (hard), so F-beta has no max / mean / adaptive variants.

A review is *stuff-only* when every category is marked ``isthing: 0`` (project categories with
``is_thing=False``): instance measures (AP, PR curves, instance matching) do not apply there, and
the dashboard and HTML report lead with the pixel measures instead.

JSON (``report["saliency"]``, null when not binary or not computed)::

    {"foreground": name, "category_id": int, "images", "soft": false, "threshold": 0.5,
     "fbeta_beta_squared": 0.3, "weighted_fbeta_beta_squared": 1.0,
     "precision", "recall", "fbeta", "fbeta_max", "fbeta_mean", "fbeta_adaptive", "mae",
     "weighted_fbeta", "s_measure", "e_measure", "e_max", "e_mean", "e_adaptive": float | null,
     "per_image": [{"image": path, "image_id": int, ...the same per image}]}   # lowest S first
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from pycocotools import mask as mask_utils

from annotations.metrics.detection import IouType
from annotations.metrics.saliency import image_saliency, summarize

BACKGROUND_NAMES = frozenset({"background", "bg", "_background_", "__background__"})


class _Report(Protocol):
    summary: dict[str, Any]
    saliency: dict[str, Any] | None


def foreground_category(categories: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The foreground category of a binary review (see the module docstring), else None."""
    if len(categories) == 1:
        return categories[0]
    if len(categories) == 2:
        others = [c for c in categories if str(c.get("name", "")).strip().lower() not in BACKGROUND_NAMES]
        if len(others) == 1:
            return others[0]
    return None


def is_stuff_only(categories: Sequence[Mapping[str, Any]]) -> bool:
    """True when there are categories and every one has ``isthing`` 0 (COCO panoptic's key)."""
    return bool(categories) and all(not int(c.get("isthing", 1)) for c in categories)


def _shape_mask(entry: Mapping[str, Any], size_hw: tuple[int, int], iou_type: IouType) -> np.ndarray:
    height, width = size_hw
    if iou_type is IouType.BBOX:
        rle = mask_utils.frPyObjects(np.asarray([entry["bbox"]], dtype=np.float64).reshape(1, 4), height, width)[0]
    else:
        rle = entry["segmentation"]
        if isinstance(rle, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(rle, height, width))
        elif isinstance(rle.get("counts"), list):
            rle = mask_utils.frPyObjects(rle, height, width)
    return np.asarray(mask_utils.decode(rle), dtype=bool).reshape(height, width)


def _foreground(entries: Sequence[Mapping[str, Any]], category_id: int, size_hw: tuple[int, int],
                iou_type: IouType) -> np.ndarray:
    mask = np.zeros(size_hw, dtype=bool)
    for entry in entries:
        if int(entry["category_id"]) == category_id:
            mask |= _shape_mask(entry, size_hw, iou_type)
    return mask


def saliency_section(gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], iou_type: IouType,
                     image_paths: Mapping[int, str] | None = None) -> dict[str, Any] | None:
    """The ``saliency`` JSON section (module docstring) of a COCO ground truth (``images`` with
    height/width, ``annotations``, ``categories``) and COCO results, or None when not binary."""
    foreground = foreground_category(gt["categories"])
    if foreground is None:
        return None
    category_id = int(foreground["id"])
    gt_by_image: dict[int, list[Mapping[str, Any]]] = {int(img["id"]): [] for img in gt["images"]}
    dt_by_image: dict[int, list[Mapping[str, Any]]] = {int(img["id"]): [] for img in gt["images"]}
    for ann in gt["annotations"]:
        gt_by_image.setdefault(int(ann["image_id"]), []).append(ann)
    for res in results:
        dt_by_image.setdefault(int(res["image_id"]), []).append(res)
    rows = []
    names = []
    ids = []
    for img in gt["images"]:
        image_id = int(img["id"])
        size_hw = (int(img["height"]), int(img["width"]))
        reference = _foreground(gt_by_image[image_id], category_id, size_hw, iou_type)
        compared = _foreground(dt_by_image[image_id], category_id, size_hw, iou_type)
        rows.append(image_saliency(compared, reference))
        names.append(str((image_paths or {}).get(image_id, img.get("file_name", ""))))
        ids.append(image_id)
    section = summarize(rows).to_json(names)
    for row, image_id in zip(section["per_image"], ids):
        row["image_id"] = image_id
    section["per_image"].sort(key=lambda r: (r["s_measure"] if r["s_measure"] is not None else 1.0, r["image_id"]))
    return {"foreground": str(foreground.get("name", category_id)), "category_id": category_id, **section}


def attach_pixel_measures(report: _Report, gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]],
                          iou_type: IouType | str, image_paths: Mapping[int, str] | None = None, *,
                          enabled: bool = True) -> None:
    """Set ``report.summary["stuff_only"]`` and, for a binary review when ``enabled``,
    ``report.saliency`` (the review engine's hook; ``gt`` / ``results`` as it evaluated them)."""
    report.summary["stuff_only"] = is_stuff_only(gt["categories"])
    if enabled:
        report.saliency = saliency_section(gt, results, IouType(iou_type), image_paths)


def detection_measures_apply(report_json: Mapping[str, Any]) -> bool:
    """Whether instance measures (AP, PR curves, instance matching) belong in a review's
    display: not for a stuff-only review."""
    return not bool((report_json.get("summary") or {}).get("stuff_only"))
