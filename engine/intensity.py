"""Decoded images -> (H, W, 3) uint8 RGB, exactly as the GUI displays them.

The annotator draws on the GUI's display conversion, so the model must see the same 8-bit
pixels; both use :func:`annotations.intensity.stretch_to_uint8` (a percentile stretch: a plain
``// 256`` would turn 12-bit microscopy nearly black). This module adds the channel handling of
the engine's OpenCV decode; ``tests/engine/test_engine_images.py`` checks the engine and the GUI
give identical pixels (gray, colour and float files; alpha is the one difference, see
:func:`display_rgb`).
"""

from __future__ import annotations

import numpy as np

from annotations.intensity import stretch_to_uint8


def display_rgb(decoded: np.ndarray) -> np.ndarray:
    """A decoded OpenCV array, upright, any depth: (H, W) gray or (H, W, C) B,G,R[,A] ->
    (H, W, 3) uint8 RGB as the GUI shows it. Gray (one channel, or three equal ones) is stretched
    on its own values; colour on B, G, R together; an alpha channel is dropped first (the GUI
    still counts it in its percentiles: an opaque 16-bit alpha would pin the top at 65535)."""
    if decoded.ndim == 3 and decoded.shape[2] in (1, 2):
        decoded = decoded[:, :, 0]
    if decoded.ndim == 3:
        decoded = decoded[:, :, :3]
        if np.array_equal(decoded[:, :, 0], decoded[:, :, 1]) and np.array_equal(decoded[:, :, 1], decoded[:, :, 2]):
            decoded = decoded[:, :, 0]  # a gray file OpenCV widened to three channels
    pixels = stretch_to_uint8(decoded)
    if pixels.ndim == 2:
        return np.ascontiguousarray(np.repeat(pixels[:, :, None], 3, axis=2))
    return np.ascontiguousarray(pixels[:, :, ::-1])
