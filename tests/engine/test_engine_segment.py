"""Interactive segmentation: GrabCut on a crop, clicks as seeds, a trained model's mask refined."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotations.geometry import Polygon, polygon_to_mask, rle
from annotations.store import Project
from engine.errors import EngineInputError
from engine.interactive import grabcut_mask
from engine.jobs.segment import run_segment
from engine.protocol import Segment, SegmentMethod
from engine.versions import initial_version
from engine_fixtures import blob_image

TWO_MEGAPIXELS = 2_000_000


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def balloons(shared_data: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(2-megapixel RGB image, ground-truth mask) of the first balloons of the validation split."""
    folder = shared_data / "balloon_via" / "val"
    regions = json.loads((folder / "via_region_data.json").read_text())
    out = []
    for entry in list(regions.values())[:count]:
        bgr = cv2.imread(str(folder / entry["filename"]))
        scale = (TWO_MEGAPIXELS / (bgr.shape[0] * bgr.shape[1])) ** 0.5
        rgb = cv2.cvtColor(cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        shape = next(iter(entry["regions"].values()))["shape_attributes"]
        points = np.stack([np.asarray(shape["all_points_x"]) + 0.5, np.asarray(shape["all_points_y"]) + 0.5], 1) * scale
        out.append((rgb, rle.decode(polygon_to_mask(Polygon.from_points(points), rgb.shape[:2]))))
    return out


def test_grabcut_box_on_two_megapixel_photos(shared_data: Path) -> None:
    scores, latencies = [], []
    for rgb, truth in balloons(shared_data, 4):
        ys, xs = np.nonzero(truth)
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        started = time.perf_counter()
        mask = grabcut_mask(rgb, box_xyxy=box)
        latencies.append((time.perf_counter() - started) * 1000)
        scores.append(iou(mask, truth))
    print(f"\nGrabCut box prompt on {TWO_MEGAPIXELS / 1e6:.0f}-MP photos: latency ms {[round(v) for v in latencies]} "
          f"(median {np.median(latencies):.0f} ms; budget 300 ms), IoU {[round(s, 3) for s in scores]}")
    assert np.mean(scores) > 0.85 and min(scores) > 0.7


def test_grabcut_clicks_are_hard_seeds() -> None:
    rgb, polygons = blob_image(12)
    truth = rle.decode(polygon_to_mask(Polygon.from_points(polygons[0]), rgb.shape[:2]))
    cx, cy = polygons[0].mean(axis=0)
    mask = grabcut_mask(rgb, positive=[(cx, cy)])
    assert mask[int(cy), int(cx)] and iou(mask, truth) > 0.7
    # A negative click inside the box removes that part.
    ys, xs = np.nonzero(truth)
    box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    plain = grabcut_mask(rgb, box_xyxy=box)
    carved = grabcut_mask(rgb, box_xyxy=box, negative=[(cx, cy)])
    assert plain[int(cy), int(cx)] and not carved[int(cy), int(cx)]


def test_segment_job_grabcut_and_bad_prompts(blob_project: Path) -> None:
    rgb, polygons = blob_image(3)
    truth = rle.decode(polygon_to_mask(Polygon.from_points(polygons[1]), rgb.shape[:2]))
    ys, xs = np.nonzero(truth)
    box = (float(xs.min()) - 2, float(ys.min()) - 2, float(xs.max()) + 3, float(ys.max()) + 3)
    result = run_segment(Segment(str(blob_project), 3, box_xyxy=box))
    assert result.method is SegmentMethod.GRABCUT and result.size == (96, 128) and result.milliseconds > 0
    mask = rle.decode(rle.from_coco({"size": list(result.size), "counts": result.counts}))
    assert iou(mask, truth) > 0.8
    for bad, message in [
        (Segment(str(blob_project), 3), "needs a box or at least one positive point"),
        (Segment(str(blob_project), 3, box_xyxy=(10, 10, 5, 20)), "empty"),
        (Segment(str(blob_project), 3, positive_points=((500.0, 5.0),)), "outside"),
        (Segment(str(blob_project), 77, box_xyxy=(1, 1, 5, 5)), "no image with id 77"),
        (Segment(str(blob_project), 3, box_xyxy=box, method=SegmentMethod.MODEL), "no trained mask model"),
    ]:
        with pytest.raises(EngineInputError, match=message):
            run_segment(bad)


def test_segment_refines_the_promoted_models_mask(blob_project: Path) -> None:
    with Project.open(blob_project) as project:
        version = initial_version(project, "unet_tiny")
        project.update_model_version(replace(version, promoted=True))
    rgb, polygons = blob_image(4)
    cx, cy = polygons[0].mean(axis=0)
    result = run_segment(Segment(str(blob_project), 4, positive_points=((float(cx), float(cy)),)))
    assert result.method is SegmentMethod.MODEL
    mask = rle.decode(rle.from_coco({"size": list(result.size), "counts": result.counts}))
    assert mask[int(cy), int(cx)]  # the click is a hard seed whatever the (untrained) model says
    forced = run_segment(Segment(str(blob_project), 4, positive_points=((float(cx), float(cy)),),
                                 method=SegmentMethod.GRABCUT))
    assert forced.method is SegmentMethod.GRABCUT


def test_auto_segment_falls_back_to_grabcut_when_the_models_weight_file_is_gone(blob_project: Path) -> None:
    """A promoted mask model whose weight file was deleted must not take the interactive tool
    down: AUTO answers with GrabCut; MODEL (asked for explicitly) says which file is missing."""
    from engine import checkpoints

    with Project.open(blob_project) as project:
        version = initial_version(project, "unet_tiny")
        project.update_model_version(replace(version, promoted=True))
    checkpoints.resolve(blob_project, version.weights_path).unlink()
    rgb, polygons = blob_image(3)
    truth = rle.decode(polygon_to_mask(Polygon.from_points(polygons[1]), rgb.shape[:2]))
    ys, xs = np.nonzero(truth)
    box = (float(xs.min()) - 2, float(ys.min()) - 2, float(xs.max()) + 3, float(ys.max()) + 3)
    result = run_segment(Segment(str(blob_project), 3, box_xyxy=box))
    assert result.method is SegmentMethod.GRABCUT
    assert iou(rle.decode(rle.from_coco({"size": list(result.size), "counts": result.counts})), truth) > 0.8
    with pytest.raises(EngineInputError, match="weight file .* is missing"):
        run_segment(Segment(str(blob_project), 3, box_xyxy=box, method=SegmentMethod.MODEL))
