"""Interactive segmentation: GrabCut on a crop, clicks as seeds, a trained model's mask refined."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from engine_fixtures import blob_image
from engine_fixtures import bool_iou as iou

from annotations.geometry import Polygon, polygon_to_mask, rle
from annotations.store import Project
from engine.errors import EngineInputError
from engine.interactive import grabcut_mask
from engine.jobs.segment import run_segment
from engine.protocol import Segment, SegmentMethod
from engine.versions import initial_version

TWO_MEGAPIXELS = 2_000_000


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
    # Measured spread (AMD EPYC; cv2.setNumThreads(1|2) x cv2.setUseOptimized(True|False), i.e. with and
    # without the CPU-dispatched SIMD kernels): mean 0.954, min 0.920 in every configuration (GrabCut is
    # seeded: cv2.setRNGSeed(0)). Margins 0.10 and 0.22. The same set-up for every GrabCut number below
    # (measured 02:20 and again 03:28 UTC on 2026-12-07 against the tree as it then was).
    assert np.mean(scores) > 0.85 and min(scores) > 0.7


def test_grabcut_clicks_are_hard_seeds() -> None:
    rgb, polygons = blob_image(12)
    truth = rle.decode(polygon_to_mask(Polygon.from_points(polygons[0]), rgb.shape[:2]))
    cx, cy = polygons[0].mean(axis=0)
    mask = grabcut_mask(rgb, positive=[(cx, cy)])
    # Measured (cv2 threads 1|2, SIMD on|off): IoU 0.996 in every configuration.
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
    # Measured (grabcut_mask on this box; cv2 threads 1|2, SIMD on|off): IoU 0.980 in every configuration.
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
    # Same prompt as above: IoU 0.980 measured in every configuration (cv2 threads 1|2, SIMD on|off).
    assert iou(rle.decode(rle.from_coco({"size": list(result.size), "counts": result.counts})), truth) > 0.8
    with pytest.raises(EngineInputError, match="weight file .* is missing"):
        run_segment(Segment(str(blob_project), 3, box_xyxy=box, method=SegmentMethod.MODEL))


DSB = "dsb2018_nuclei40/stage1_train"


def dsb_nuclei(shared_data: Path, images: int, per_image: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(RGB image, one nucleus's mask) for ``per_image`` random nuclei of the first ``images``."""
    rng = np.random.default_rng(0)
    out = []
    for folder in sorted(p for p in (shared_data / DSB).iterdir() if p.is_dir())[:images]:
        rgb = cv2.cvtColor(cv2.imread(str(next((folder / "images").iterdir())), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        masks = sorted((folder / "masks").iterdir())
        for index in rng.choice(len(masks), min(per_image, len(masks)), replace=False):
            out.append((rgb, cv2.imread(str(masks[index]), cv2.IMREAD_GRAYSCALE) > 0))
    return out


def deepest_point(truth: np.ndarray) -> tuple[float, float, float]:
    """(x, y) of the pixel centre farthest inside the mask, and that distance in pixels."""
    depth = cv2.distanceTransform(np.pad(truth, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return col + 0.5, row + 0.5, float(depth[row, col])


def test_box_inside_a_uniform_object_is_not_empty() -> None:
    """GrabCut finds no boundary when the box and its surroundings are the same colour; the
    answer is then the box's inside, not nothing."""
    rng = np.random.default_rng(1)
    gray = rng.normal(40, 5, (120, 160))
    cv2.circle(gray, (80, 60), 50, 200, -1)
    gray[10:110, 30:130] += rng.normal(0, 5, (100, 100))
    rgb = cv2.cvtColor(gray.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    mask = grabcut_mask(rgb, box_xyxy=(65.0, 45.0, 95.0, 75.0))
    expected = np.zeros(mask.shape, bool)
    expected[45:75, 65:95] = True
    assert np.array_equal(mask, expected)


def test_box_covers_pixels_floor_x1_to_ceil_x2_minus_1() -> None:
    """A bright square spans columns and rows 10..39; a box [4, 20) x [4, 20) must give exactly
    its part 10..19 (not column/row 20); a fractional box [4.5, 19.5) the same."""
    rng = np.random.default_rng(2)
    gray = rng.normal(40, 4, (64, 64))
    gray[10:40, 10:40] = rng.normal(210, 4, (30, 30))
    rgb = cv2.cvtColor(gray.clip(0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    expected = np.zeros((64, 64), bool)
    expected[10:20, 10:20] = True
    for box in [(4.0, 4.0, 20.0, 20.0), (4.5, 4.5, 19.5, 19.5)]:
        mask = grabcut_mask(rgb, box_xyxy=box)
        assert not mask[:, 20:].any() and not mask[20:, :].any(), box
        assert np.array_equal(mask, expected), box


def test_boxes_on_real_nuclei_inside_and_tight(shared_data: Path) -> None:
    """Real microscopy: a box drawn inside a nucleus answers its inside (was: empty on every
    one), and a tight box never answers nothing (was: empty on 19 of 48)."""
    inner_scores, tight_scores, latencies = [], [], []
    for rgb, truth in dsb_nuclei(shared_data, 8, 6):
        x, y, depth = deepest_point(truth)
        half = max(1.0, np.floor(depth / np.sqrt(2)) - 1)
        inner = (x - half, y - half, x + half, y + half)
        inner_truth = np.zeros_like(truth)
        inner_truth[int(y - half) : int(np.ceil(y + half)), int(x - half) : int(np.ceil(x + half))] = True
        started = time.perf_counter()
        inner_scores.append(iou(grabcut_mask(rgb, box_xyxy=inner), inner_truth & truth))
        latencies.append((time.perf_counter() - started) * 1000)
        ys, xs = np.nonzero(truth)
        tight = grabcut_mask(rgb, box_xyxy=(float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)))
        tight_scores.append(iou(tight, truth))
    print(f"\nDSB nuclei, box inside the nucleus: mean IoU {np.mean(inner_scores):.3f} (empty: "
          f"{sum(s == 0 for s in inner_scores)}/{len(inner_scores)}); tight box: mean IoU {np.mean(tight_scores):.3f} "
          f"(empty: {sum(s == 0 for s in tight_scores)}); median latency {np.median(latencies):.1f} ms")
    # Measured (cv2 threads 1|2, SIMD on|off): inner mean 0.902 (min 0.222), tight mean 0.727 (min 0.010), the
    # same in every configuration. Margins 0.10 and 0.077; "> 0" is the claim (never empty).
    assert min(inner_scores) > 0 and np.mean(inner_scores) > 0.8
    assert min(tight_scores) > 0 and np.mean(tight_scores) > 0.65


def test_click_on_a_small_nucleus_stays_on_it(shared_data: Path) -> None:
    """A single click on a nucleus: the window is scaled to the image, so the answer does not
    leak over the neighbours (was: mean IoU 0.52, one answer covering 20% of the image)."""
    scores, worst_spread, latencies = [], 0.0, []
    for rgb, truth in dsb_nuclei(shared_data, 8, 6):
        x, y, _ = deepest_point(truth)
        started = time.perf_counter()
        mask = grabcut_mask(rgb, positive=[(x, y)])
        latencies.append((time.perf_counter() - started) * 1000)
        assert mask[int(y), int(x)]
        scores.append(iou(mask, truth))
        worst_spread = max(worst_spread, mask.mean())
    print(f"\nDSB nuclei, one click: mean IoU {np.mean(scores):.3f} (median {np.median(scores):.3f}), largest answer "
          f"{100 * worst_spread:.1f}% of the image; latency ms median {np.median(latencies):.0f} max {max(latencies):.0f}")
    # Measured (cv2 threads 1|2, SIMD on|off): mean IoU 0.644 (0.654 at 02:20; 0.650 at 05:50 with the
    # coarse-to-fine clicks-only search), largest answer 9.0% of the image, the same in every
    # configuration. Margins 0.064 and 6 points.
    assert np.mean(scores) > 0.58 and worst_spread < 0.15
