"""Interactive segmentation: a box and/or positive/negative clicks -> one binary mask.

GrabCut (OpenCV) runs on a downscaled crop around the prompt (long side ``max_side`` pixels), so
a multi-megapixel image answers at interactive latency. A clicks-only prompt starts from the
region around the click on its side of Otsu's threshold, in a window scaled to the image (not
half the image: a click on a tiny nucleus must not leak over its neighbours), and a larger
window is tried for objects the first one cuts; both at a coarse 104 px, then the answer is refined
at 192 px in a window around it, near its edge only (a 2 MP photo answers a click in ~100-250 ms
of one core, not 1 s). The answer is never empty: when GrabCut keeps
nothing (a box inside a uniform object) a threshold region, or the whole box, is returned. Clicks become hard seeds
(positive: ``GC_FGD``, negative: ``GC_BGD``); a box makes everything outside it background. An
optional prior (a trained model's foreground probability over the crop) replaces the uniform
"probably foreground inside the box" start, so GrabCut refines the model's mask.

Coordinates are continuous image pixels: a point (x, y) lies in pixel (row floor(y), col floor(x)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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

    def contains(self, x: float, y: float) -> bool:
        """Whether image point (x, y) lies in the crop."""
        return self.x1 <= x < self.x2 and self.y1 <= y < self.y2

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


POINT_WINDOW_FRACTION = 0.12
"""A points-only prompt first looks at a square of this share of the image's short side ..."""
POINT_WINDOW_MIN = 48
"""... but at least this many pixels, and at least 2.5 times the spread of the clicks."""
POINT_WINDOW_GROWTH = 4.0
POINT_WINDOW_MAX_FRACTION = 0.5
"""The window then grows by POINT_WINDOW_GROWTH, up to this share of the short side ..."""
POINT_WINDOW_MIN_STEP = 1.25
"""A window that close to the largest is replaced by the largest (0.48 then 0.5 would cost a
second GrabCut on nearly the same window)."""
POINT_COARSE_SIDE = 104
"""A points-only prompt finds its window at this long side (working pixels): GrabCut's cost
grows with the pixels it labels (about 2 us each per iteration at 1 thread, several times that
on textured photos), so the window search costs ~1/6 of one at 256 px (picked from 96, 104, 112
and 128 on bench/interactive.py's clicks-only sets: 104 was the one not worse than the old
256 px search on any of them) ..."""
POINT_REFINE_SIDE = 192
"""... and the answer is then refined at this long side, in a window around the coarse answer ..."""
POINT_BAND_FRACTION = 0.1
"""... where only pixels within this share of the long side of the coarse answer may still become
foreground (the rest is fixed background: GrabCut's max-flow then settles fast)."""
POINT_REFINE_MIN_GAIN = 1.4
"""A window downscaled by less than this runs at full resolution and is not refined."""
POINT_REFINE_KEEP = 0.3
"""A refinement keeping less than this share of the coarse answer's area lost the object (GrabCut
kept little but the click seeds): the coarse answer stands."""


def prompt_roi(size_hw: tuple[int, int], box_xyxy: Sequence[float] | None, positive: Sequence[Point],
               *, margin: float = 0.15, max_side: int = 256, point_fraction: float = POINT_WINDOW_FRACTION) -> Roi:
    """The crop GrabCut works on: the box (and positive points) grown by ``margin`` of its size,
    or a square around the positive points of ``point_fraction`` of the image's short side (at
    least :data:`POINT_WINDOW_MIN` pixels); scaled so its long side is at most ``max_side``."""
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
        side = max(2.5 * max(max(xs) - min(xs), max(ys) - min(ys)), point_fraction * min(height, width),
                   POINT_WINDOW_MIN)
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
    """The object the prompt points at, as a (H, W) bool mask of the image (never empty).

    ``prior``: optional foreground probability (float in [0, 1]) over ``roi`` (crop pixels,
    shape ``roi.size_hw``); give the ``roi`` it was computed on. A points-only prompt without a
    ``roi`` starts in a window scaled to the image around the clicks, doubled while the object
    touches the window's edge. A box bounds the answer: pixel (row i, col j) covers
    [j, j+1) x [i, i+1), so a box [x1, x2) x [y1, y2) holds columns floor(x1) .. ceil(x2)-1.
    """
    size_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    check_prompt(size_hw, box_xyxy, positive, negative)
    if roi is not None or box_xyxy is not None:
        roi = roi or prompt_roi(size_hw, box_xyxy, positive, max_side=max_side)
        small = _segment_roi(rgb, roi, box_xyxy, positive, negative, prior, iterations)
    else:
        roi, small = _points_only(rgb, size_hw, positive, negative, max_side, iterations)
    if roi.scale < 1:
        crop_mask = cv2.resize(small.astype(np.float32), (roi.x2 - roi.x1, roi.y2 - roi.y1),
                               interpolation=cv2.INTER_LINEAR) >= 0.5
    else:
        crop_mask = small
    full = np.zeros(size_hw, bool)
    full[roi.y1 : roi.y2, roi.x1 : roi.x2] = crop_mask
    if box_xyxy is not None:
        c1, r1, c2, r2 = box_cells(size_hw, box_xyxy)
        bounded = np.zeros(size_hw, bool)
        bounded[r1:r2, c1:c2] = full[r1:r2, c1:c2]
        full = bounded if bounded.any() else full
    if not full.any():  # e.g. a tiny box whose only answer vanished when scaled back up
        if box_xyxy is not None:
            c1, r1, c2, r2 = box_cells(size_hw, box_xyxy)
            full[r1:r2, c1:c2] = True
        for x, y in positive:
            full[min(int(y), size_hw[0] - 1), min(int(x), size_hw[1] - 1)] = True
    return full


def _points_only(rgb: np.ndarray, size_hw: tuple[int, int], positive: Sequence[Point], negative: Sequence[Point],
                 max_side: int, iterations: int) -> tuple[Roi, np.ndarray]:
    """Clicks only, coarse to fine. The window is found at :data:`POINT_COARSE_SIDE` pixels:
    GrabCut in a window of :data:`POINT_WINDOW_FRACTION` of the short side, then (the object may
    be bigger than it) one :data:`POINT_WINDOW_GROWTH` times larger (up to
    :data:`POINT_WINDOW_MAX_FRACTION`); the answer is the largest that stays clear of its
    window's inner edges (an object cut by a window touches its edge), else the one from the
    largest window. A coarse answer from a downscaled window is then refined at up to
    :data:`POINT_REFINE_SIDE` (and ``max_side``) pixels in a window around it
    (:func:`_refine_points`). Returns (window, working-resolution mask)."""
    coarse_side = min(POINT_COARSE_SIDE, max_side)
    fraction = POINT_WINDOW_FRACTION
    tried: list[tuple[Roi, np.ndarray, bool]] = []
    while True:
        roi = prompt_roi(size_hw, None, positive, max_side=coarse_side, point_fraction=fraction)
        if roi.scale * POINT_REFINE_MIN_GAIN >= 1:
            roi = replace(roi, scale=1.0)  # so little smaller that a refinement would not pay
        if tried and roi == tried[-1][0]:
            break  # the clicks' spread, not the fraction, sets the window: the same one again
        small = _segment_roi(rgb, roi, None, positive, negative, None, iterations)
        touches = _touches_inner_edge(small, roi, size_hw)
        tried.append((roi, small, touches))
        if roi.size_hw == size_hw or fraction >= POINT_WINDOW_MAX_FRACTION:
            break
        fraction = min(POINT_WINDOW_GROWTH * fraction, POINT_WINDOW_MAX_FRACTION)
        if POINT_WINDOW_MAX_FRACTION / fraction < POINT_WINDOW_MIN_STEP:
            fraction = POINT_WINDOW_MAX_FRACTION  # 0.48 then 0.5 would be the same window twice
    clear = [(roi, small) for roi, small, touches in tried if not touches]
    if not clear:
        roi, small = tried[-1][0], tried[-1][1]
    else:
        roi, small = max(clear, key=lambda item: float(item[1].sum()) / item[0].scale ** 2)
    if roi.scale >= 1:
        return roi, small
    return _refine_points(rgb, size_hw, roi, small, positive, negative, max_side, iterations)


def _refine_points(rgb: np.ndarray, size_hw: tuple[int, int], coarse_roi: Roi, coarse: np.ndarray,
                   positive: Sequence[Point], negative: Sequence[Point], max_side: int,
                   iterations: int) -> tuple[Roi, np.ndarray]:
    """GrabCut at up to :data:`POINT_REFINE_SIDE` (and ``max_side``) pixels in the coarse
    answer's bounding box (with the positive clicks) grown by 15% + 8 px, started from the coarse
    answer (``coarse``: working-resolution bool mask of ``coarse_roi``), with the pixels farther
    than :data:`POINT_BAND_FRACTION` from it fixed as background. Returns (window,
    working-resolution mask); the coarse ones when refining would not pay or lost the object."""
    if not coarse.any():
        return coarse_roi, coarse
    rows, cols = np.nonzero(coarse)
    inv = 1.0 / coarse_roi.scale
    xs = [coarse_roi.x1 + cols.min() * inv, coarse_roi.x1 + (cols.max() + 1) * inv, *(p[0] for p in positive)]
    ys = [coarse_roi.y1 + rows.min() * inv, coarse_roi.y1 + (rows.max() + 1) * inv, *(p[1] for p in positive)]
    roi = prompt_roi(size_hw, (min(xs), min(ys), max(xs), max(ys)), (), max_side=min(max_side, POINT_REFINE_SIDE))
    if roi.scale <= coarse_roi.scale * POINT_REFINE_MIN_GAIN:
        return coarse_roi, coarse
    up = cv2.resize(coarse.astype(np.float32), (coarse_roi.x2 - coarse_roi.x1, coarse_roi.y2 - coarse_roi.y1),
                    interpolation=cv2.INTER_LINEAR)
    prior = np.zeros(roi.size_hw, np.float32)
    oy1, ox1 = max(roi.y1, coarse_roi.y1), max(roi.x1, coarse_roi.x1)
    oy2, ox2 = min(roi.y2, coarse_roi.y2), min(roi.x2, coarse_roi.x2)
    prior[oy1 - roi.y1 : oy2 - roi.y1, ox1 - roi.x1 : ox2 - roi.x1] = up[oy1 - coarse_roi.y1 : oy2 - coarse_roi.y1,
                                                                           ox1 - coarse_roi.x1 : ox2 - coarse_roi.x1]
    band = max(4, int(round(POINT_BAND_FRACTION * max(roi.work_hw))))
    small = _segment_roi(rgb, roi, None, positive, negative, prior, iterations, band_px=band)
    if small.sum() / roi.scale**2 < POINT_REFINE_KEEP * coarse.sum() / coarse_roi.scale**2:
        return coarse_roi, coarse  # the refinement lost the object (kept little but the click seeds)
    return roi, small


def box_cells(size_hw: tuple[int, int], box_xyxy: Sequence[float]) -> tuple[int, int, int, int]:
    """The pixels a continuous box covers, clipped to the image: (col1, row1, col2, row2) with
    col2/row2 exclusive, i.e. columns floor(x1) .. ceil(x2)-1 (at least one)."""
    height, width = size_hw
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    c1 = min(max(int(np.floor(x1)), 0), width - 1)
    r1 = min(max(int(np.floor(y1)), 0), height - 1)
    c2 = max(min(int(np.ceil(x2)), width), c1 + 1)
    r2 = max(min(int(np.ceil(y2)), height), r1 + 1)
    return c1, r1, c2, r2


def _work_box(roi: Roi, box_xyxy: Sequence[float]) -> tuple[int, int, int, int]:
    """The working pixels (col1, row1, col2, row2; *2 exclusive) a box covers, at least one."""
    h, w = roi.work_hw
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    c1 = int(np.clip(np.floor((x1 - roi.x1) * roi.scale), 0, w - 1))
    r1 = int(np.clip(np.floor((y1 - roi.y1) * roi.scale), 0, h - 1))
    c2 = int(np.clip(np.ceil((x2 - roi.x1) * roi.scale), c1 + 1, w))
    r2 = int(np.clip(np.ceil((y2 - roi.y1) * roi.scale), r1 + 1, h))
    return c1, r1, c2, r2


def _touches_inner_edge(small: np.ndarray, roi: Roi, size_hw: tuple[int, int]) -> bool:
    """Whether the (working-resolution) mask reaches a side of the window that is not the image's."""
    height, width = size_hw
    return bool(
        (roi.y1 > 0 and small[0].any()) or (roi.y2 < height and small[-1].any())
        or (roi.x1 > 0 and small[:, 0].any()) or (roi.x2 < width and small[:, -1].any())
    )


def _segment_roi(rgb: np.ndarray, roi: Roi, box_xyxy: Sequence[float] | None, positive: Sequence[Point],
                 negative: Sequence[Point], prior: np.ndarray | None, iterations: int,
                 band_px: int | None = None) -> np.ndarray:
    """GrabCut on ``roi`` at working resolution -> (h, w) bool mask (``roi.work_hw``), never
    empty when a box or a positive click is given (see :func:`_fallback`). ``band_px`` (with a
    ``prior``): working pixels farther than this from the prior's foreground are fixed background.
    Negative clicks outside ``roi`` are left out."""
    h, w = roi.work_hw
    crop = rgb[roi.y1 : roi.y2, roi.x1 : roi.x2]
    work = np.ascontiguousarray(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA) if roi.scale < 1 else crop)

    labels = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    inside = np.zeros((h, w), bool)
    if box_xyxy is not None:
        c1, r1, c2, r2 = _work_box(roi, box_xyxy)
        labels[:] = cv2.GC_BGD
        inside[r1:r2, c1:c2] = True
    else:
        seeds = [roi.to_work(x, y) for x, y in positive]
        grown = _threshold_component(work, seeds) if prior is None else None
        if grown is not None:
            inside = grown
        else:
            radius = max(3, int(0.08 * max(h, w)))
            for seed in seeds:
                cv2.circle(inside.view(np.uint8), seed, radius, 1, -1)
    if prior is not None:
        small_prior = cv2.resize(prior.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        region = inside if box_xyxy is not None else np.ones((h, w), bool)
        labels[region] = np.where(small_prior[region] >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD)
        if band_px is not None:
            _fix_far_background(labels, small_prior >= 0.5, band_px)
    else:
        labels[inside] = cv2.GC_PR_FGD
    seed_radius = max(2, int(round(0.015 * max(h, w))))
    for x, y in positive:
        cv2.circle(labels, roi.to_work(x, y), seed_radius, int(cv2.GC_FGD), -1)
    for x, y in negative:
        if roi.contains(x, y):  # one outside the crop says nothing about it (clipped, it would mark the edge)
            cv2.circle(labels, roi.to_work(x, y), seed_radius, int(cv2.GC_BGD), -1)

    start = labels.copy()
    fg_like = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    if fg_like.any() and (~fg_like).any():
        cv2.setRNGSeed(0)  # GrabCut's k-means start: the same prompt always gives the same mask
        try:
            _grabcut_until_stable(work, labels, iterations)
        except cv2.error:
            labels = start  # degenerate colour models: keep the initial guess
    small = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))
    small = _clean(small, [roi.to_work(x, y) for x, y in positive])
    if box_xyxy is None and prior is None and small.sum() <= 1.5 * (start == cv2.GC_FGD).sum() and inside.any():
        small = small | (inside & (start != cv2.GC_BGD))  # GrabCut kept only the click seeds
    elif not small.any() and inside.any():
        small = _fallback(work, inside, start != cv2.GC_BGD if box_xyxy is None else inside & (start != cv2.GC_BGD))
    return small


def _fix_far_background(labels: np.ndarray, foreground: np.ndarray, band_px: int) -> None:
    """Working pixels more than ``band_px`` from ``foreground`` ((h, w) bool) become ``GC_BGD``
    in ``labels`` ((h, w) uint8, in place)."""
    distance = cv2.distanceTransform((~foreground).astype(np.uint8), cv2.DIST_L2, 3)
    labels[distance > band_px] = cv2.GC_BGD


CONVERGED_FRACTION = 0.002
"""GrabCut stops iterating once an iteration changes fewer than this share of the labels."""


def _grabcut_until_stable(work: np.ndarray, labels: np.ndarray, iterations: int) -> None:
    """At most ``iterations`` GrabCut iterations on ``labels`` (in place), one call each (the
    colour models carry over: the same as one call with ``iterations``), stopping early once the
    segmentation has converged (:data:`CONVERGED_FRACTION`): most prompts settle after one or
    two, and each iteration costs tens of milliseconds at 256 px."""
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    no_rect = (0, 0, 0, 0)  # ignored with GC_INIT_WITH_MASK / GC_EVAL
    cv2.grabCut(work, labels, no_rect, bgd, fgd, 1, cv2.GC_INIT_WITH_MASK)
    for _ in range(iterations - 1):
        before = labels.copy()
        cv2.grabCut(work, labels, no_rect, bgd, fgd, 1, cv2.GC_EVAL)
        if np.count_nonzero(before != labels) <= CONVERGED_FRACTION * labels.size:
            break


def _threshold_component(work: np.ndarray, seeds: Sequence[tuple[int, int]],
                         max_fraction: float = 0.6) -> np.ndarray | None:
    """The connected region around the clicks on their side of Otsu's gray threshold over the
    window: GrabCut's starting guess for a points-only prompt (and its answer when GrabCut keeps
    nothing but the seeds). None when it is not a plausible object (over ``max_fraction`` of
    the window, or the clicks fall on both sides). ``seeds``: working (col, row); (h, w) bool."""
    if not seeds:
        return None
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY) if work.ndim == 3 else work
    gray = cv2.GaussianBlur(gray, (3, 3), 0)
    _, high = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    sides = {int(high[row, col]) for col, row in seeds}
    if len(sides) != 1:
        return None
    side = (high == sides.pop()).astype(np.uint8)
    _, labels = cv2.connectedComponents(side, connectivity=4)
    keep = {int(labels[row, col]) for col, row in seeds} - {0}
    component = np.isin(labels, list(keep))
    if not component.any() or component.mean() > max_fraction:
        return None
    return component


def _fallback(work: np.ndarray, inside: np.ndarray, allowed: np.ndarray, min_contrast: float = 24.0) -> np.ndarray:
    """The best non-empty answer when GrabCut gives nothing (it does when the box lies inside a
    uniform object: the colours in and around the box are the same). Otsu's threshold on the
    gray levels inside the prompt region: when the two sides differ by at least ``min_contrast``
    gray levels, the side less like the surroundings (the largest piece of it); else (uniform)
    the whole region. ``allowed`` excludes negative clicks. Returns a (h, w) bool mask."""
    region = inside & allowed if (inside & allowed).any() else inside
    gray = cv2.cvtColor(work, cv2.COLOR_RGB2GRAY) if work.ndim == 3 else work
    values = gray[region].reshape(-1, 1).astype(np.uint8)
    if values.size >= 4:
        threshold, _ = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        high = region & (gray > threshold)
        low = region & ~high
        if high.any() and low.any() and gray[high].mean() - gray[low].mean() >= min_contrast:
            surround = ~inside
            reference = float(gray[surround].mean()) if surround.any() else float(gray[region].mean())
            side = high if abs(gray[high].mean() - reference) >= abs(gray[low].mean() - reference) else low
            return _clean(side, [])
    return region


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
