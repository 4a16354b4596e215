"""Interactive segmentation: a box and/or positive/negative clicks -> one binary mask.

GrabCut (OpenCV) runs on a downscaled crop around the prompt (long side ``max_side`` pixels), so
a multi-megapixel image answers at interactive latency. Clicks become hard seeds
(positive: ``GC_FGD``, negative: ``GC_BGD``); a box makes everything outside it background. An
optional prior (a trained model's foreground probability over the crop) replaces the uniform
"probably foreground inside the box" start, so GrabCut refines the model's mask.

Coordinates are continuous image pixels: a point (x, y) lies in pixel (row floor(y), col floor(x)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from engine.errors import EngineInputError

Point = tuple[float, float]


@dataclass(frozen=True)
class Roi:
    """A crop of the image: ``x1, y1`` inclusive, ``x2, y2`` exclusive (integer pixels), and the
    scale from crop pixels to working pixels."""

    x1: int
    y1: int
    x2: int
    y2: int
    scale: float

    @property
    def size_hw(self) -> tuple[int, int]:
        return (self.y2 - self.y1, self.x2 - self.x1)

    @property
    def work_hw(self) -> tuple[int, int]:
        h, w = self.size_hw
        return (max(1, int(round(h * self.scale))), max(1, int(round(w * self.scale))))

    def to_work(self, x: float, y: float) -> tuple[int, int]:
        """Image (x, y) -> working-pixel (col, row), clipped."""
        h, w = self.work_hw
        col = int(np.clip((x - self.x1) * self.scale, 0, w - 1))
        row = int(np.clip((y - self.y1) * self.scale, 0, h - 1))
        return col, row


def check_prompt(size_hw: tuple[int, int], box_xyxy: Sequence[float] | None, positive: Sequence[Point],
                 negative: Sequence[Point]) -> None:
    """Raise :class:`EngineInputError` for a prompt that cannot give a mask."""
    height, width = size_hw
    if box_xyxy is None and not positive:
        raise EngineInputError("a segment prompt needs a box or at least one positive point")
    if box_xyxy is not None:
        x1, y1, x2, y2 = (float(v) for v in box_xyxy)
        if not (x2 > x1 and y2 > y1):
            raise EngineInputError(f"segment box {tuple(box_xyxy)} is empty (need x2 > x1 and y2 > y1)")
        if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
            raise EngineInputError(f"segment box {tuple(box_xyxy)} lies outside the {width}x{height} image")
    for x, y in [*positive, *negative]:
        if not (0 <= x <= width and 0 <= y <= height):
            raise EngineInputError(f"segment point ({x}, {y}) lies outside the {width}x{height} image")


def prompt_roi(size_hw: tuple[int, int], box_xyxy: Sequence[float] | None, positive: Sequence[Point],
               *, margin: float = 0.15, max_side: int = 256) -> Roi:
    """The crop GrabCut works on: the box (and positive points) grown by ``margin`` of its size,
    or a square around the positive points; scaled so its long side is at most ``max_side``."""
    height, width = size_hw
    xs = [p[0] for p in positive]
    ys = [p[1] for p in positive]
    if box_xyxy is not None:
        xs += [float(box_xyxy[0]), float(box_xyxy[2])]
        ys += [float(box_xyxy[1]), float(box_xyxy[3])]
        extent = max(max(xs) - min(xs), max(ys) - min(ys))
        grow = margin * extent + 8
        x1, x2, y1, y2 = min(xs) - grow, max(xs) + grow, min(ys) - grow, max(ys) + grow
    else:
        cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
        side = max(2.5 * max(max(xs) - min(xs), max(ys) - min(ys)), 0.45 * min(height, width), 96)
        x1, x2, y1, y2 = cx - side / 2, cx + side / 2, cy - side / 2, cy + side / 2
    ix1, iy1 = max(int(np.floor(x1)), 0), max(int(np.floor(y1)), 0)
    ix2, iy2 = min(int(np.ceil(x2)), width), min(int(np.ceil(y2)), height)
    ix2, iy2 = max(ix2, ix1 + 1), max(iy2, iy1 + 1)
    scale = min(1.0, max_side / max(ix2 - ix1, iy2 - iy1))
    return Roi(ix1, iy1, ix2, iy2, scale)


def grabcut_mask(
    rgb: np.ndarray,
    *,
    box_xyxy: Sequence[float] | None = None,
    positive: Sequence[Point] = (),
    negative: Sequence[Point] = (),
    prior: np.ndarray | None = None,
    roi: Roi | None = None,
    max_side: int = 256,
    iterations: int = 4,
) -> np.ndarray:
    """The object the prompt points at, as a (H, W) bool mask of the image.

    ``prior``: optional foreground probability (float in [0, 1]) over ``roi`` (crop pixels,
    shape ``roi.size_hw``); give the ``roi`` it was computed on.
    """
    size_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    check_prompt(size_hw, box_xyxy, positive, negative)
    roi = roi or prompt_roi(size_hw, box_xyxy, positive, max_side=max_side)
    h, w = roi.work_hw
    crop = rgb[roi.y1 : roi.y2, roi.x1 : roi.x2]
    work = np.ascontiguousarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA) if roi.scale < 1 else crop)

    labels = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    inside = np.zeros((h, w), bool)
    if box_xyxy is not None:
        c1, r1 = roi.to_work(float(box_xyxy[0]), float(box_xyxy[1]))
        c2, r2 = roi.to_work(float(box_xyxy[2]), float(box_xyxy[3]))
        labels[:] = cv2.GC_BGD
        inside[r1 : r2 + 1, c1 : c2 + 1] = True
    else:
        radius = max(3, int(0.1 * max(h, w)))
        for x, y in positive:
            cv2.circle(inside.view(np.uint8), roi.to_work(x, y), radius, 1, -1)
    if prior is not None:
        small_prior = cv2.resize(prior.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        region = inside if box_xyxy is not None else np.ones((h, w), bool)
        labels[region] = np.where(small_prior[region] >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
    else:
        labels[inside] = cv2.GC_PR_FGD
    seed_radius = max(2, int(round(0.015 * max(h, w))))
    for x, y in positive:
        cv2.circle(labels, roi.to_work(x, y), seed_radius, int(cv2.GC_FGD), -1)
    for x, y in negative:
        cv2.circle(labels, roi.to_work(x, y), seed_radius, int(cv2.GC_BGD), -1)

    start = labels.copy()
    fg_like = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg_like.any() and (~fg_like).any():
        try:
            cv2.grabCut(work, labels, None, np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64),
                        iterations, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            labels = start  # degenerate colour models: keep the initial guess
    small = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    small = _clean(small, [roi.to_work(x, y) for x, y in positive])
    if roi.scale < 1:
        crop_mask = cv2.resize(small.astype(np.float32), (roi.x2 - roi.x1, roi.y2 - roi.y1),
                               interpolation=cv2.INTER_LINEAR) >= 0.5
    else:
        crop_mask = small
    full = np.zeros(size_hw, bool)
    full[roi.y1 : roi.y2, roi.x1 : roi.x2] = crop_mask
    return full


def _clean(mask: np.ndarray, seeds: Sequence[tuple[int, int]], keep_fraction: float = 0.05) -> np.ndarray:
    """Keep the connected components holding a positive seed; without seeds, the components of
    at least ``keep_fraction`` of the largest one (drops specks)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 2:
        return mask
    if seeds:
        keep = {int(labels[row, col]) for col, row in seeds} - {0}
        if keep:
            return np.isin(labels, list(keep))
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep_ids = 1 + np.flatnonzero(areas >= keep_fraction * areas.max())
    return np.isin(labels, keep_ids)
