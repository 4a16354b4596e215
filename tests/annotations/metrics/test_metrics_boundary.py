"""Boundary IoU: against faster-coco-eval's C++ boundary (the boundary-iou-api rules) on real
nucleus masks, dense vs RLE-crop paths, and the RLE helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as mask_utils

from annotations.errors import MetricsError
from annotations.metrics.boundary import (
    _parse_counts,
    boundary_iou,
    boundary_iou_rle,
    boundary_width,
    decode_crop,
    mask_to_boundary,
    rle_counts,
    semantic_boundary_iou,
)


def _rle(mask: np.ndarray) -> dict:
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": r["size"], "counts": r["counts"].decode("ascii")}


@pytest.fixture(scope="module")
def nuclei(shared_data) -> list[np.ndarray]:
    folders = sorted(p for p in (shared_data / "dsb2018_nuclei40" / "stage1_train").iterdir() if p.is_dir())[:3]
    masks = []
    for folder in folders:
        for png in sorted((folder / "masks").glob("*.png"))[:12]:
            masks.append(np.array(Image.open(png).convert("L")) > 0)
    assert masks
    return masks


def _reference_boundary_iou(a: np.ndarray, b: np.ndarray, ratio: float = 0.02) -> float:
    """The boundary-iou-api definition, literally (3x3 erosion iterated d times on a padded image)."""
    import cv2

    h, w = a.shape
    d = max(1, int(round(ratio * math.sqrt(h * h + w * w))))

    def boundary(m):
        padded = cv2.copyMakeBorder(m.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        eroded = cv2.erode(padded, np.ones((3, 3), np.uint8), iterations=d)[1:h + 1, 1:w + 1]
        return m.astype(np.uint8) - eroded

    ba, bb = boundary(a), boundary(b)
    return float(((ba * bb) > 0).sum() / ((ba + bb) > 0).sum())


def test_matches_faster_coco_eval_and_the_reference_on_real_masks(nuclei):
    fce_mask = pytest.importorskip("faster_coco_eval.core.mask")
    rng = np.random.default_rng(0)
    compared = 0
    for gt in nuclei:
        pred = np.roll(gt, (int(rng.integers(-3, 4)), int(rng.integers(-3, 4))), axis=(0, 1))
        ga, pa = _rle(gt), _rle(pred)
        ours_rle = boundary_iou_rle(ga, pa)
        ours_dense = boundary_iou(gt, pred)
        fce = float(mask_utils.iou([fce_mask.rleToBoundary(pa, 0.02)], [fce_mask.rleToBoundary(ga, 0.02)], [0])[0, 0])
        assert ours_rle == pytest.approx(fce, abs=1e-12)
        assert ours_dense == pytest.approx(fce, abs=1e-12)
        assert ours_dense == pytest.approx(_reference_boundary_iou(gt, pred), abs=1e-12)
        compared += 1
    assert compared >= 10


def test_border_touching_mask_has_a_boundary_at_the_image_edge():
    m = np.zeros((50, 50), bool)
    m[:, :20] = True  # touches top, bottom and left edges
    d = boundary_width(m.shape)
    b = mask_to_boundary(m, d)
    assert b[:, 0].all() and b[0, :20].all() and not b[25, 19 - d]


def test_identical_disjoint_and_empty():
    m = np.zeros((40, 60), bool)
    m[5:20, 5:30] = True
    other = np.zeros_like(m)
    other[25:35, 40:55] = True
    assert boundary_iou(m, m) == 1.0 and boundary_iou_rle(_rle(m), _rle(m)) == 1.0
    assert boundary_iou(m, other) == 0.0 and boundary_iou_rle(_rle(m), _rle(other)) == 0.0
    empty = np.zeros_like(m)
    assert math.isnan(boundary_iou(empty, empty)) and math.isnan(boundary_iou_rle(_rle(empty), _rle(empty)))
    with pytest.raises(MetricsError, match="sizes differ"):
        boundary_iou(m, m[:10])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.data())
def test_counts_parser_and_crop_decode_match_pycocotools(h, w, data):
    bits = data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    m = np.array(bits, dtype=bool).reshape(h, w)
    r = _rle(m)
    np.testing.assert_array_equal(mask_utils.decode({"size": [h, w], "counts": r["counts"].encode()}), m)
    np.testing.assert_array_equal(_parse_counts(r["counts"]), rle_counts(r))
    assert rle_counts(r).sum() == h * w
    x0 = data.draw(st.integers(0, w - 1))
    x1 = data.draw(st.integers(x0 + 1, w))
    y0 = data.draw(st.integers(0, h - 1))
    y1 = data.draw(st.integers(y0 + 1, h))
    np.testing.assert_array_equal(decode_crop(r, x0, y0, x1, y1), m[y0:y1, x0:x1])


def test_semantic_boundary_iou_per_class():
    gt = np.zeros((40, 40), np.int64)
    gt[10:30, 10:30] = 1
    gt[0:5, :] = 255
    pred = gt.copy()
    pred[pred == 255] = 2  # a prediction on void pixels costs nothing
    out = semantic_boundary_iou(gt, pred, 3)
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(1.0) and math.isnan(out[2])
