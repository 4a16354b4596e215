"""COCO mAP (bbox and segm) through a maintained evaluator, never re-implemented.

Two evaluators are supported and give identical numbers (checked on the cocoapi fake100 golden
data to 1e-9): ``pycocotools`` (the reference) and ``faster_coco_eval`` (the same rules with the
per-image matching and accumulation in C++). ``backend="auto"`` picks faster-coco-eval when it is
installed, pycocotools otherwise.

What this module adds around the evaluator:

- **The ground-truth id 0 pitfall** (pycocotools records a match as ``dtm = gt['id']`` and treats
  0 as "unmatched"): when a ground-truth annotation id is 0 or ids repeat, the annotations are
  renumbered 1..N on a copy before evaluation (``CocoEvaluation.gt_ids_renumbered``).
- **Inputs are never mutated** (the evaluators write ``area``/``id``/``ignore`` into the dicts).
- **Empty results** (``loadRes([])`` crashes in pycocotools) give AP 0 for every category with
  ground truth.
- **Undefined stats** (COCOeval's ``-1``: no ground truth in that category / area range) are
  returned as NaN.
- **Shared IoUs**: ``iou_provider`` lets the caller hand in IoU matrices it already computed (the
  review computes one per image for its own matching), so masks are compared once.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from annotations.errors import MetricsError

STAT_NAMES: tuple[str, ...] = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
"""The 12 COCO summary stats, in ``COCOeval.stats`` order."""

IouProvider = Callable[[int, Sequence[int], Sequence[int]], np.ndarray]
"""``(image_id, detection_ids, gt_ids) -> (len(detection_ids), len(gt_ids))`` IoU matrix with
COCO's crowd rule (IoU with a crowd ground truth = intersection / detection area). Detection ids
are the evaluator's (result index + 1), ground-truth ids those of the (possibly renumbered) GT."""


class IouType(str, Enum):
    """What COCOeval compares: boxes or masks."""

    BBOX = "bbox"
    SEGM = "segm"


DEFAULT_MAX_DETS = 100
"""COCO's detections-per-image cap (the third ``maxDets`` entry, used by AP and AR100)."""


class AreaRule(str, Enum):
    """Which area puts a segm *result* into the small / medium / large bucket (APs/APm/APl).

    ``MASK`` (default, as Detectron2 and this project's reviews do): the mask's pixel count
    (results are handed to the evaluator without ``bbox``, so ``loadRes`` takes the mask area).
    ``BBOX``: the box's ``w * h``, what plain pycocotools does when the results carry a
    ``bbox`` (e.g. a Detectron2 results file scored with pycocotools directly). Ground-truth
    areas always come from the ground truth's ``area`` field. The overall AP does not depend on
    the rule; only the per-size numbers do.
    """

    MASK = "mask"
    BBOX = "bbox"


class Backend(str, Enum):
    """The maintained evaluator that computes the numbers."""

    AUTO = "auto"
    PYCOCOTOOLS = "pycocotools"
    FASTER_COCO_EVAL = "faster_coco_eval"


@dataclass
class CocoEvaluation:
    """Result of one COCO evaluation.

    ``stats``: the 12 summary numbers keyed by :data:`STAT_NAMES` (NaN where undefined).
    ``precision``: (T iou thresholds, R=101 recall points, K categories, A=4 area ranges
    [all, small, medium, large], M=3 max-dets [1, 10, 100]); -1 entries mean "no ground truth".
    ``recall``: (T, K, A, M). ``category_ids`` gives the K axis, ``iou_thresholds`` the T axis.
    """

    stats: dict[str, float]
    precision: np.ndarray
    recall: np.ndarray
    iou_thresholds: np.ndarray
    recall_thresholds: np.ndarray
    category_ids: list[int]
    iou_type: IouType
    backend: Backend
    gt_ids_renumbered: bool

    def per_category_ap(self, iou_threshold: float | None = None) -> dict[int, float]:
        """AP per category (area all, 100 detections): averaged over the 10 IoU thresholds, or at
        one of them (e.g. 0.5). NaN for a category without ground truth."""
        p = self.precision[..., 0, 2]  # (T, R, K)
        if iou_threshold is not None:
            t = _threshold_index(self.iou_thresholds, iou_threshold)
            p = p[t : t + 1]
        out: dict[int, float] = {}
        for k, cat in enumerate(self.category_ids):
            values = p[:, :, k]
            values = values[values > -1]
            out[cat] = float(values.mean()) if values.size else math.nan
        return out

    def pr_curve(self, category_id: int | None, iou_threshold: float = 0.5) -> np.ndarray:
        """Interpolated precision at the 101 recall points (area all, 100 detections) for one
        category, or the mean over categories with ground truth when ``category_id`` is None.
        Shape (101,); NaN where undefined."""
        t = _threshold_index(self.iou_thresholds, iou_threshold)
        p = self.precision[t, :, :, 0, 2]  # (R, K)
        if category_id is not None:
            k = self.category_ids.index(category_id)
            column = p[:, k]
            return np.where(column > -1, column, np.nan)
        valid = p[0] > -1
        if not valid.any():
            return np.full(p.shape[0], np.nan)
        mean_precision: np.ndarray = p[:, valid].mean(axis=1)
        return mean_precision


def _threshold_index(thresholds: np.ndarray, value: float) -> int:
    index = int(np.argmin(np.abs(thresholds - value)))
    if abs(float(thresholds[index]) - value) > 1e-9:
        raise MetricsError(f"IoU threshold {value} is not one of COCO's {[round(float(t), 2) for t in thresholds]}")
    return index


def available_backends() -> list[Backend]:
    """The evaluators importable here (pycocotools is a hard dependency)."""
    backends = [Backend.PYCOCOTOOLS]
    try:
        import faster_coco_eval  # noqa: F401 - imported only to see whether it is installed
    except ImportError:
        return backends
    return [Backend.FASTER_COCO_EVAL] + backends


def resolve_backend(backend: Backend | str) -> Backend:
    """``auto`` -> the fastest available evaluator; an unavailable one -> :class:`MetricsError`."""
    backend = Backend(backend)
    available = available_backends()
    if backend is Backend.AUTO:
        return available[0]
    if backend not in available:
        raise MetricsError(f"COCO evaluator {backend.value!r} is not installed")
    return backend


def coco_map(gt_dict: dict[str, Any], results_list: list[dict[str, Any]], iou_type: IouType | str = "bbox", *,
             backend: Backend | str = Backend.AUTO) -> dict[str, float]:
    """The 12 COCO stats (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl).

    ``gt_dict``: a COCO instances dict (``images``, ``annotations``, ``categories``);
    ``results_list``: COCO results (``image_id``, ``category_id``, ``score`` and ``bbox`` [x, y,
    w, h] pixels or a compressed-RLE ``segmentation``). NaN marks an undefined stat.
    """
    return evaluate_coco(gt_dict, results_list, iou_type, backend=backend).stats


def evaluate_coco(
    gt_dict: dict[str, Any],
    results_list: list[dict[str, Any]],
    iou_type: IouType | str = "bbox",
    *,
    backend: Backend | str = Backend.AUTO,
    iou_provider: IouProvider | None = None,
    max_dets: int = DEFAULT_MAX_DETS,
    area_rule: AreaRule | str = AreaRule.MASK,
) -> CocoEvaluation:
    """Run COCOeval (evaluate, accumulate, summarize) and return stats and the PR arrays.

    Raises :class:`MetricsError` for input the evaluators would crash on or silently misread:
    missing keys, a result on an image absent from the ground truth, an uncompressed-RLE result.
    """
    iou_type = IouType(iou_type)
    gt, renumbered = prepare_gt(gt_dict, iou_type)
    results = prepare_results(results_list, gt, iou_type, area_rule=area_rule)
    return evaluate_prepared(gt, results, iou_type, backend=backend, iou_provider=iou_provider,
                             gt_ids_renumbered=renumbered, max_dets=max_dets)


def evaluate_prepared(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: IouType, *,
                      backend: Backend | str = Backend.AUTO, iou_provider: IouProvider | None = None,
                      gt_ids_renumbered: bool = False, max_dets: int = DEFAULT_MAX_DETS) -> CocoEvaluation:
    """:func:`evaluate_coco` on inputs already passed through :func:`prepare_gt` and
    :func:`prepare_results` (the evaluator may write into those copies). ``max_dets`` replaces
    COCO's 100 detections per image (AP and the ``AR100`` stat use it; see
    :func:`truncated_images`)."""
    if max_dets < 1:
        raise MetricsError(f"max_dets must be >= 1, got {max_dets}")
    backend = resolve_backend(backend)
    if backend is Backend.FASTER_COCO_EVAL:
        evaluator = _run_faster(gt, results, iou_type, iou_provider, max_dets)
    else:
        evaluator = _run_pycocotools(gt, results, iou_type, iou_provider, max_dets)
    stats = {name: (float(v) if v > -1 else math.nan) for name, v in zip(STAT_NAMES, evaluator.stats)}
    return CocoEvaluation(
        stats=stats,
        precision=np.asarray(evaluator.eval["precision"]),
        recall=np.asarray(evaluator.eval["recall"]),
        iou_thresholds=np.asarray(evaluator.params.iouThrs, dtype=np.float64),
        recall_thresholds=np.asarray(evaluator.params.recThrs, dtype=np.float64),
        category_ids=[int(c) for c in evaluator.params.catIds],
        iou_type=iou_type,
        backend=backend,
        gt_ids_renumbered=gt_ids_renumbered,
    )


# ---------------------------------------------------------------------------- input checks


def prepare_gt(gt_dict: dict[str, Any], iou_type: IouType | str) -> tuple[dict[str, Any], bool]:
    """A copy of the GT safe to hand to the evaluator (annotation dicts copied), ids renumbered
    1..N when an id is 0 or repeats; returns (copy, renumbered). Raises :class:`MetricsError`."""
    iou_type = IouType(iou_type)
    if not isinstance(gt_dict, dict):
        raise MetricsError(f"ground truth must be a COCO dict, got {type(gt_dict).__name__}")
    for key in ("images", "annotations", "categories"):
        if not isinstance(gt_dict.get(key), list):
            raise MetricsError(f"ground truth has no {key!r} list")
    image_ids = set()
    for index, image in enumerate(gt_dict["images"]):
        if "id" not in image:
            raise MetricsError(f"ground truth image #{index} has no 'id'")
        image_ids.add(image["id"])
    annotations = []
    needed = ("id", "image_id", "category_id", "area", "bbox" if iou_type is IouType.BBOX else "segmentation")
    for index, ann in enumerate(gt_dict["annotations"]):
        missing = [k for k in needed if k not in ann]
        if missing:
            raise MetricsError(f"ground-truth annotation #{index} (id {ann.get('id')}) lacks {missing}")
        if ann["image_id"] not in image_ids:
            raise MetricsError(f"ground-truth annotation id {ann['id']} refers to unknown image {ann['image_id']}")
        if iou_type is IouType.SEGM:
            _check_segmentation(ann["segmentation"], f"ground-truth annotation id {ann['id']}")
        annotations.append(dict(ann))
    ids = [a["id"] for a in annotations]
    renumbered = 0 in ids or len(set(ids)) != len(ids)
    if renumbered:
        for new_id, ann in enumerate(annotations, start=1):
            ann["id"] = new_id
    gt = dict(gt_dict)
    gt["annotations"] = annotations
    gt["images"] = [dict(i) for i in gt_dict["images"]]
    gt["categories"] = [dict(c) for c in gt_dict["categories"]]
    return gt, renumbered


def _check_segmentation(segmentation: Any, where: str) -> None:
    if isinstance(segmentation, dict):
        if "size" not in segmentation or "counts" not in segmentation:
            raise MetricsError(f"{where}: RLE segmentation needs 'size' and 'counts'")
        return
    if not isinstance(segmentation, list) or not segmentation:
        raise MetricsError(f"{where}: segmentation must be polygons or RLE")
    for part in segmentation:
        if not isinstance(part, list) or len(part) < 6 or len(part) % 2:
            # pycocotools crashes on a 4-number part and rasterizes shorter ones to nothing.
            raise MetricsError(f"{where}: polygon part with {len(part) if isinstance(part, list) else '?'} numbers "
                               "(needs >= 3 vertices)")


def prepare_results(results_list: list[dict[str, Any]], gt: dict[str, Any], iou_type: IouType | str, *,
                    area_rule: AreaRule | str = AreaRule.MASK) -> list[dict[str, Any]]:
    """Copies of the results checked against the prepared GT. With ``AreaRule.MASK`` a segm
    result loses its bbox so that loadRes takes the mask area; with ``AreaRule.BBOX`` it keeps
    (or gets) the mask's bbox, so its size bucket follows ``w * h`` as in plain pycocotools.
    Raises :class:`MetricsError`."""
    iou_type = IouType(iou_type)
    area_rule = AreaRule(area_rule)
    if not isinstance(results_list, list):
        raise MetricsError(f"results must be a list of COCO result dicts, got {type(results_list).__name__}")
    image_ids = {i["id"] for i in gt["images"]}
    category_ids = {c["id"] for c in gt["categories"]}
    key = "bbox" if iou_type is IouType.BBOX else "segmentation"
    out = []
    for index, res in enumerate(results_list):
        missing = [k for k in ("image_id", "category_id", "score", key) if k not in res]
        if missing:
            raise MetricsError(f"result #{index} lacks {missing}")
        if res["image_id"] not in image_ids:
            raise MetricsError(f"result #{index} refers to image {res['image_id']}, absent from the ground truth")
        if res["category_id"] not in category_ids:
            raise MetricsError(f"result #{index} has category {res['category_id']}, absent from the ground truth")
        if iou_type is IouType.SEGM:
            seg = res["segmentation"]
            if not isinstance(seg, dict) or not isinstance(seg.get("counts"), (str, bytes)):
                raise MetricsError(f"result #{index}: a segm result needs a compressed RLE segmentation")
        copy = dict(res)
        if iou_type is IouType.SEGM:
            # loadRes takes the bbox path (area = w*h) when the first result has a bbox.
            if area_rule is AreaRule.MASK:
                copy.pop("bbox", None)
            elif not copy.get("bbox"):
                from pycocotools import mask as mask_utils

                seg = dict(copy["segmentation"])
                if isinstance(seg["counts"], str):
                    seg["counts"] = seg["counts"].encode("ascii")
                copy["bbox"] = [float(v) for v in mask_utils.toBbox(seg)]
        out.append(copy)
    if iou_type is IouType.SEGM and area_rule is AreaRule.BBOX:
        for res in out:  # loadRes decides on the first result only: every result needs a box
            if not res.get("bbox"):
                raise MetricsError("area_rule=bbox needs a bbox on every result")
    return out


# ---------------------------------------------------------------------------- evaluators


def _empty_results(gt_coco_cls: type, gt: dict[str, Any]) -> Any:
    res = gt_coco_cls()
    res.dataset = {"images": list(gt["images"]), "annotations": [], "categories": list(gt["categories"])}
    res.createIndex()
    return res


def truncated_images(results: list[dict[str, Any]], max_dets: int) -> dict[Any, int]:
    """Image id -> number of results beyond ``max_dets`` on it (only images over the cap): those
    lowest-scored results are never seen by COCO AP, so a perfect result set can score below 1."""
    per_image: dict[Any, int] = {}
    for res in results:
        per_image[res["image_id"]] = per_image.get(res["image_id"], 0) + 1
    return {image: n - max_dets for image, n in per_image.items() if n > max_dets}


def _run_pycocotools(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: IouType, iou_provider: IouProvider | None,
                     max_dets: int = DEFAULT_MAX_DETS) -> Any:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    class _SharedIouEval(COCOeval):  # type: ignore[misc]  # pycocotools ships no type information
        def computeIoU(self, imgId: int, catId: int) -> list[float] | np.ndarray:  # noqa: N802, N803 - pycocotools' names
            assert iou_provider is not None  # this class is used only with a provider
            p = self.params
            gts = self._gts[imgId, catId] if p.useCats else [g for c in p.catIds for g in self._gts[imgId, c]]
            dts = self._dts[imgId, catId] if p.useCats else [d for c in p.catIds for d in self._dts[imgId, c]]
            if not gts or not dts:
                return []
            order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: p.maxDets[-1]]
            return iou_provider(imgId, [dts[i]["id"] for i in order], [g["id"] for g in gts])

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results) if results else _empty_results(COCO, gt)
        cls = _SharedIouEval if iou_provider is not None else COCOeval
        evaluator = cls(coco_gt, coco_dt, iou_type.value)
        evaluator.params.maxDets = [1, 10, int(max_dets)]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _run_faster(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: IouType, iou_provider: IouProvider | None,
                max_dets: int = DEFAULT_MAX_DETS) -> Any:
    from faster_coco_eval import COCO, COCOeval_faster

    quiet = _quiet

    class _SharedIouEval(COCOeval_faster):  # type: ignore[misc]  # faster-coco-eval ships no py.typed
        def computeIoU(self, imgId: int, catId: int) -> list[float] | np.ndarray:  # noqa: N802, N803 - the evaluator's names
            assert iou_provider is not None  # this class is used only with a provider
            p = self.params
            cats = [catId] if p.useCats else p.catIds
            gts = self.gt_dataset.get_instances([imgId], cats, bool(p.useCats))[0][0]
            dts = self.dt_dataset.get_instances([imgId], cats, bool(p.useCats))[0][0]
            if not gts or not dts:
                return []
            order = np.argsort([-d["score"] for d in dts], kind="mergesort")[: p.maxDets[-1]]
            return iou_provider(imgId, [dts[i]["id"] for i in order], [g["id"] for g in gts])

    coco_gt = COCO(gt, print_function=quiet)
    coco_dt = coco_gt.loadRes(results) if results else _empty_results(COCO, gt)
    coco_dt.print_function = quiet
    if iou_provider is not None:
        evaluator = _SharedIouEval(coco_gt, coco_dt, iou_type.value, print_function=quiet, rle_iou_max_workers=1)
        evaluator.params.compute_rle = False  # IoUs come from the provider: no RLE conversion needed
    else:
        evaluator = COCOeval_faster(coco_gt, coco_dt, iou_type.value, print_function=quiet, rle_iou_max_workers=1)
    evaluator.params.maxDets = [1, 10, int(max_dets)]
    evaluator.evaluate()
    evaluator.accumulate()
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.summarize()
    return evaluator


def _quiet(*_args: Any, **_kwargs: Any) -> None:
    return None
