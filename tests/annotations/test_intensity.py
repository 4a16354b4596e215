"""The shared high-bit-depth -> 8-bit stretch (GUI display and engine input)."""

from __future__ import annotations

import numpy as np

from annotations.intensity import stretch_to_uint8


def test_twelve_bit_data_fills_the_8_bit_range() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(100, 300, (64, 64)).astype(np.uint16)  # dark 12-bit background
    image[20:40, 20:40] = 3800  # a bright cell
    out = stretch_to_uint8(image)
    assert out.dtype == np.uint8 and out.shape == image.shape
    assert out[25, 25] == 255 and np.median(out[:10, :10]) < 100  # not // 256 (which gives 14 and ~0)


def test_uint8_is_untouched_bool_and_nan_are_defined() -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert stretch_to_uint8(pixels) is pixels
    assert stretch_to_uint8(np.array([[True, False]])).tolist() == [[255, 0]]
    floats = np.array([[np.nan, 0.0], [0.5, 1.0]], np.float32)
    out = stretch_to_uint8(floats)
    assert out[0, 0] == 0 and out[1, 1] == 255


def test_constant_images_do_not_divide_by_zero() -> None:
    assert stretch_to_uint8(np.full((8, 8), 1234, np.uint16)).max() <= 255
    assert stretch_to_uint8(np.full((8, 8), np.nan, np.float32)).tolist() == np.zeros((8, 8), np.uint8).tolist()
