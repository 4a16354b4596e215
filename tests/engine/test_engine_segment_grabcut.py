"""GrabCut's early stop: the per-iteration loop is the same computation as one OpenCV call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def test_grabcut_one_call_per_iteration_equals_one_call_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """GrabCut now stops iterating once the labels settle; without the early stop, its
    one-iteration-per-call loop must give exactly what one call with all iterations gives."""
    from engine_fixtures import blob_image

    import engine.interactive as interactive

    rgb, _ = blob_image(5)
    labels = np.full(rgb.shape[:2], cv2.GC_BGD, np.uint8)
    labels[10:80, 20:110] = cv2.GC_PR_FGD
    reference = labels.copy()
    cv2.setRNGSeed(0)
    cv2.grabCut(rgb, reference, (0, 0, 0, 0), np.zeros((1, 65)), np.zeros((1, 65)), 4, cv2.GC_INIT_WITH_MASK)
    monkeypatch.setattr(interactive, "CONVERGED_FRACTION", -1.0)  # never stop early
    looped = labels.copy()
    cv2.setRNGSeed(0)
    interactive._grabcut_until_stable(rgb, looped, 4)
    np.testing.assert_array_equal(looped, reference)
