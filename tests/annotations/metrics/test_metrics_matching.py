"""Shape matching: the Hungarian solver, IoU matrices of mixed kinds, two-pass assignment."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations.errors import MetricsError
from annotations.geometry import Box, Polygon, rle, to_mask
from annotations.metrics.assignment import linear_sum_assignment_min, max_weight_matching
from annotations.metrics.matching import Shape, match_from_iou, match_shapes, pairwise_iou

SIZE_HW = (64, 80)


def _brute_min(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, j] for i, j in zip(range(n), perm)) for perm in itertools.permutations(range(m), n))
    return min(sum(cost[i, j] for j, i in zip(range(m), perm)) for perm in itertools.permutations(range(n), m))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.data())
def test_hungarian_equals_brute_force(n, m, data):
    values = data.draw(st.lists(st.integers(0, 9), min_size=n * m, max_size=n * m))
    cost = np.array(values, dtype=float).reshape(n, m)
    rows, cols = linear_sum_assignment_min(cost)
    assert len(rows) == min(n, m) == len(set(rows.tolist())) == len(set(cols.tolist()))
    assert cost[rows, cols].sum() == pytest.approx(_brute_min(cost))


def test_max_weight_matching_prefers_more_pairs():
    # One strong pair (0.95) vs two weaker ones (0.3 + 0.3): two pairs win.
    w = np.array([[0.95, 0.3], [0.3, 0.0]])
    rows, cols = max_weight_matching(w, w > 0.2)
    assert sorted(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0)]


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


shape_strategy = st.builds(
    lambda x, y, s, kind, cat: (kind, x, y, s, cat),
    st.integers(0, 60), st.integers(0, 44), st.integers(4, 19), st.sampled_from(["box", "polygon", "mask"]),
    st.integers(1, 3),
)


def _geometry(kind: str, x: int, y: int, s: int):
    if kind == "box":
        return Box(x, y, x + s, y + s)
    if kind == "polygon":
        return _square(x, y, s)
    return to_mask(_square(x, y, s), SIZE_HW)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(shape_strategy, min_size=0, max_size=8))
def test_a_set_against_itself_is_all_true_positives_with_iou_1(specs):
    shapes = [Shape(cat, _geometry(kind, x, y, s)) for kind, x, y, s, cat in specs]
    result = match_shapes(shapes, shapes, SIZE_HW)
    assert result.tp == len(shapes) and result.fp == 0 and result.fn == 0
    if shapes:
        np.testing.assert_allclose(result.true_positive_ious, 1.0)
        assert result.precision == result.recall == result.f1 == 1.0
        assert result.mean_iou == pytest.approx(1.0)
    else:
        assert math.isnan(result.precision) and math.isnan(result.recall) and math.isnan(result.mean_iou)


@settings(max_examples=60, deadline=None)
@given(st.lists(shape_strategy, min_size=0, max_size=6), st.lists(shape_strategy, min_size=0, max_size=6))
def test_disjoint_sets_are_all_false_positives_and_negatives(gt_specs, pred_specs):
    # Ground truth on the left half, predictions moved to the right half: no overlap at all.
    gt = [Shape(cat, _geometry(kind, x % 20, y, min(s, 19))) for kind, x, y, s, cat in gt_specs]
    pred = [Shape(cat, _geometry(kind, 40 + x % 20, y, min(s, 19))) for kind, x, y, s, cat in pred_specs]
    result = match_shapes(gt, pred, SIZE_HW)
    assert result.tp == 0 and result.fn == len(gt) and result.fp == len(pred)
    assert (result.iou == 0).all()
    assert result.pairs == []


@settings(max_examples=40, deadline=None)
@given(st.lists(shape_strategy, min_size=1, max_size=6), st.lists(shape_strategy, min_size=1, max_size=6),
       st.sampled_from([0.1, 0.3, 0.5, 0.7]))
def test_matching_is_optimal_and_counts_add_up(gt_specs, pred_specs, threshold):
    gt = [Shape(cat, _geometry("box", x, y, s)) for _, x, y, s, cat in gt_specs]
    pred = [Shape(cat, _geometry("box", x, y, s)) for _, x, y, s, cat in pred_specs]
    result = match_shapes(gt, pred, SIZE_HW, iou_threshold=threshold)
    assert result.tp + result.fn == len(gt) and result.tp + result.fp == len(pred)
    for pair in result.pairs:
        assert pair.iou >= threshold
    # No same-class pair could be added: every unmatched GT/pred of the same class is below threshold
    same_cls = result.iou * (result.gt_category_ids[:, None] == result.pred_category_ids[None, :])
    free_g = result.gt_to_pred < 0
    free_p = result.pred_to_gt < 0
    assert not (same_cls[np.ix_(free_g, free_p)] >= threshold).any()
    # Pass 1 has the maximum number of same-class pairs (brute force).
    allowed = (same_cls >= threshold) & (result.iou > 0)
    best = 0
    g_idx = range(len(gt))
    for k in range(min(len(gt), len(pred)), 0, -1):
        for gs in itertools.combinations(g_idx, k):
            if any(all(allowed[g, p] for g, p in zip(gs, ps)) for ps in itertools.permutations(range(len(pred)), k)):
                best = k
                break
        if best:
            break
    assert result.tp == best


def test_second_pass_reports_label_mismatch():
    gt = [Shape(1, Box(0, 0, 10, 10)), Shape(2, Box(30, 30, 40, 40))]
    pred = [Shape(2, Box(0, 0, 10, 9)), Shape(2, Box(30, 30, 40, 40))]
    result = match_shapes(gt, pred, SIZE_HW)
    assert result.tp == 1 and result.fp == 1 and result.fn == 1
    (mismatch,) = result.label_mismatches
    assert (mismatch.gt_index, mismatch.pred_index) == (0, 0)
    assert mismatch.iou == pytest.approx(0.9)


def test_crowd_region_absorbs_predictions_the_coco_way():
    crowd = Shape(1, Box(0, 0, 40, 40), iscrowd=True)
    person = Shape(1, Box(50, 10, 70, 30))
    preds = [Shape(1, Box(5, 5, 15, 15)), Shape(1, Box(20, 20, 30, 30)), Shape(1, Box(50, 10, 70, 30)),
             Shape(2, Box(5, 5, 15, 15))]
    result = match_shapes([crowd, person], preds, SIZE_HW)
    # crowd IoU = intersection / prediction area = 1 for the two small boxes inside it
    assert result.iou[0, 0] == pytest.approx(1.0)
    assert result.pred_ignored.tolist() == [True, True, False, False]
    assert result.tp == 1 and result.fn == 0 and result.fp == 1  # the class-2 box is an FP


def test_mixed_kinds_use_rle_and_boxes_stay_exact():
    poly = _square(10.0, 10.0, 20.0)
    mask = to_mask(poly, SIZE_HW)
    iou = pairwise_iou([poly, Box(0.5, 0.5, 10.5, 10.5)], [mask, Box(0.5, 0.5, 10.5, 5.5)], SIZE_HW)
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[1, 1] == pytest.approx(0.5)  # exact box IoU, not rasterized
    assert pairwise_iou([poly], [mask], SIZE_HW, iou_type="bbox")[0, 0] == pytest.approx(1.0)


def test_mismatched_mask_size_is_a_metrics_error():
    mask = rle.encode(np.ones((10, 10), dtype=np.uint8))
    with pytest.raises(MetricsError, match="predicted shape #0"):
        match_shapes([Shape(1, Box(0, 0, 5, 5))], [Shape(1, mask)], SIZE_HW)


def test_match_from_iou_checks_shapes():
    with pytest.raises(MetricsError, match="shape"):
        match_from_iou(np.zeros((2, 2)), [1], [1])
