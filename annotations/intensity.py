"""High-bit-depth pixels -> 8 bits: the one conversion the GUI displays and the engine trains on.

A linear stretch between the 0.5th and 99.5th percentiles (computed on a regular subsample, all
channels together), so dim 16-bit microscopy and 12-bit sensor data are visible, and the model
sees exactly the pixels the annotator drew on (a plain ``// 256`` would turn 12-bit data nearly
black). numpy only: both ``app`` and ``engine`` import it.
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
        stretched: np.ndarray = lut.astype(np.uint8)[array]
        return stretched
    scaled = (np.nan_to_num(array.astype(np.float32), nan=low) - np.float32(low)) * np.float32(255.0 / (high - low))
    clipped: np.ndarray = np.clip(scaled, 0, 255).astype(np.uint8)
    return clipped
