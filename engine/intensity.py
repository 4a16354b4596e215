"""High-bit-depth pixels -> 8 bits, exactly as the GUI displays them.

The annotator draws on the GUI's display conversion (``app/image_loading.py``: a linear stretch
between the 0.5th and 99.5th percentiles, computed on a subsample of all channels together), so
the model must see the same 8-bit pixels: a plain ``// 256`` would turn 12-bit microscopy
(values 0..4095) nearly black. The engine may not import ``app``, so the conversion lives here
too; ``tests/engine/test_engine_images.py`` checks both give identical pixels (gray, colour
and float files; alpha is the one difference, see :func:`display_rgb`).
"""

from __future__ import annotations

import math
import numpy as np

PERCENTILE_LOW, PERCENTILE_HIGH = 0.5, 99.5
SAMPLE_PIXELS = 250_000
"""The percentiles are computed on a regular subsample of about this many pixels."""


def stretch_to_uint8(array: np.ndarray) -> np.ndarray:
    """Map any numeric (H, W[, C]) array to uint8 of the same shape.

    uint8 is returned unchanged, bool becomes 0/255; other integer and float types are stretched
    linearly between the 0.5th and 99.5th percentiles (all channels together; the min and max
    when those coincide) and clipped; NaNs become 0.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    step = max(1, int(math.sqrt(array.shape[0] * array.shape[1] / SAMPLE_PIXELS)))
    sample = array[::step, ::step].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros(array.shape, np.uint8)
    low, high = np.percentile(sample, [PERCENTILE_LOW, PERCENTILE_HIGH])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    if high <= low:
        high = low + 1.0
    if array.dtype == np.uint16:  # a lookup table is ~10x faster than float arithmetic
        lut = np.clip((np.arange(65536, dtype=np.float64) - low) * (255.0 / (high - low)), 0, 255)
        return lut.astype(np.uint8)[array]
    scaled = (np.nan_to_num(array.astype(np.float32), nan=low) - np.float32(low)) * np.float32(255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


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
