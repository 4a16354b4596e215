"""Polygon simplification shared by the editor and the exporters.

One setting, :data:`DEFAULT_SIMPLIFY_TOLERANCE_PX`, is the Douglas-Peucker tolerance (pixels)
used wherever a traced mask or a dense outline becomes an editable or exported polygon: the
interactive tool's "mask to polygon" and the YOLO export.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFAULT_SIMPLIFY_TOLERANCE_PX = 0.75
"""Douglas-Peucker tolerance in pixels (<= 1 px: a vertex moves less than one pixel)."""


def simplify_ring(ring_xy: np.ndarray, tolerance_px: float = DEFAULT_SIMPLIFY_TOLERANCE_PX) -> np.ndarray:
    """A closed ring of (N, 2) float x, y pixel coordinates simplified with Douglas-Peucker
    (OpenCV ``approxPolyDP``, closed). ``tolerance_px <= 0`` or a ring of <= 3 vertices returns
    the ring unchanged; a result with < 3 vertices falls back to the input ring."""
    ring = np.asarray(ring_xy, dtype=np.float64).reshape(-1, 2)
    if tolerance_px <= 0 or len(ring) <= 3:
        return ring
    simplified = cv2.approxPolyDP(ring.astype(np.float32), float(tolerance_px), True).reshape(-1, 2)
    if len(simplified) < 3:
        return ring
    # approxPolyDP keeps input vertices; take them from the float64 ring to avoid float32 rounding.
    index = {(float(x), float(y)): i for i, (x, y) in enumerate(ring.astype(np.float32))}
    picks = [index.get((float(x), float(y))) for x, y in simplified]
    if any(p is None for p in picks):
        return simplified.astype(np.float64)
    return ring[np.asarray(picks, dtype=np.int64)]
