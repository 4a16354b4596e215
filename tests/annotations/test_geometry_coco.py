"""Agreement with pycocotools on real COCO ground truth (val2014, 100 images, 830 polygons)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

from annotations.geometry import Polygon, area, polygon_to_mask, rle, to_box

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture(scope="module")
def coco(shared_data: Path):
    from pycocotools.coco import COCO

    path = shared_data / "coco_eval_val2014_fake100" / "instances_val2014_100.json"
    with contextlib.redirect_stdout(io.StringIO()):  # COCO() prints progress
        return COCO(str(path))


@pytest.fixture(scope="module")
def polygon_annotations(coco) -> list[dict]:
    anns = [a for a in coco.dataset["annotations"] if isinstance(a["segmentation"], list)]
    assert len(anns) == 830  # the data set's non-crowd polygons; if this changes, so did the data
    return anns


def test_area_equals_stored_shoelace_area(polygon_annotations: list[dict]) -> None:
    for ann in polygon_annotations:
        polygon = Polygon.from_coco(ann["segmentation"])
        assert area(polygon) == pytest.approx(ann["area"], rel=1e-9, abs=1e-6), ann["id"]


def test_box_equals_stored_bbox(polygon_annotations: list[dict]) -> None:
    for ann in polygon_annotations:
        box = to_box(Polygon.from_coco(ann["segmentation"]))
        np.testing.assert_allclose(box.xywh, ann["bbox"], rtol=0, atol=1e-9, err_msg=str(ann["id"]))


def test_mask_equals_ann_to_mask(coco, polygon_annotations: list[dict]) -> None:
    multi_part = 0
    for ann in polygon_annotations:
        image = coco.imgs[ann["image_id"]]
        size_hw = (image["height"], image["width"])
        polygon = Polygon.from_coco(ann["segmentation"])
        multi_part += len(polygon.parts) > 1
        ours = rle.decode(polygon_to_mask(polygon, size_hw))
        reference = coco.annToMask(ann).astype(bool)
        assert ours.shape == reference.shape
        assert np.array_equal(ours, reference), f"annotation {ann['id']}: {np.sum(ours != reference)} pixels differ"
    assert multi_part > 0  # objects split into several parts are covered too


def test_polygon_coco_round_trip(polygon_annotations: list[dict]) -> None:
    for ann in polygon_annotations[:100]:
        polygon = Polygon.from_coco(ann["segmentation"])
        assert Polygon.from_coco(polygon.to_coco()) == polygon
