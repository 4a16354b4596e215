"""Reading project images in the engine: upright (EXIF orientation applied), size checked."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from engine.errors import EngineInputError
from engine.images import read_rgb

EXIF_ORIENTATION = 0x0112


def rotated_jpeg(path: Path) -> Path:
    """A 100 x 40 (width x height) JPEG whose left 10 columns are white, tagged orientation 6
    (shown rotated 90 degrees clockwise: 40 wide, 100 tall, the white stripe at the top)."""
    pixels = np.zeros((40, 100, 3), np.uint8)
    pixels[:, :10] = 255
    image = PILImage.fromarray(pixels)
    exif = image.getexif()
    exif[EXIF_ORIENTATION] = 6
    image.save(path, exif=exif.tobytes(), quality=95)
    return path


def test_exif_orientation_is_applied_like_the_store_and_the_gui(tmp_path: Path) -> None:
    path = rotated_jpeg(tmp_path / "rotated.jpg")
    rgb = read_rgb(path, size_hw=(100, 40), image_id=7)  # the upright size `main.py new` records
    assert rgb.shape == (100, 40, 3)
    assert rgb[:8].mean() > 200 and rgb[12:].mean() < 30


def test_size_mismatch_names_the_image(tmp_path: Path) -> None:
    path = rotated_jpeg(tmp_path / "rotated.jpg")
    with pytest.raises(EngineInputError, match=r"image 7 .*rotated\.jpg.*40x100"):
        read_rgb(path, size_hw=(40, 100), image_id=7)


def twelve_bit_cells(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A dim 12-bit microscopy-like frame (values 0..4095 in 16-bit): background ~300, cells
    ~2500. Returns (uint16 (H, W) pixels, bool cell mask)."""
    rng = np.random.default_rng(seed)
    image = rng.normal(300, 40, (120, 160))
    cells = np.zeros((120, 160), bool)
    yy, xx = np.mgrid[:120, :160]
    for cx, cy, r in [(40, 40, 15), (110, 70, 20), (70, 95, 10)]:
        cells |= (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    image[cells] = rng.normal(2500, 200, int(cells.sum()))
    return image.clip(0, 4095).astype(np.uint16), cells


def test_twelve_bit_image_is_stretched_not_divided(tmp_path: Path) -> None:
    """A plain / 256 would give cells of ~10 on a background of ~1 (nearly black): the model
    would see none of what the annotator saw."""
    pixels, cells = twelve_bit_cells()
    path = tmp_path / "cells12.png"
    assert cv2.imwrite(str(path), pixels)
    rgb = read_rgb(path, size_hw=pixels.shape, image_id=3)
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert rgb[cells].mean() > 180 and rgb[~cells].mean() < 60
    assert rgb.max() == 255


@pytest.mark.parametrize("kind", ["gray12.png", "bgr16.png", "float32.tif", "gray16_rot6.png"])
def test_high_bit_depth_matches_the_gui_display_exactly(tmp_path: Path, kind: str) -> None:
    """The engine's pixels are the GUI's display pixels (app/image_loading.py), byte for byte,
    EXIF orientation included."""
    from app.image_loading import decode_image  # test-only: the engine package never imports app

    pixels = high_bit_depth_pixels(kind)
    path = tmp_path / kind
    if kind.endswith("rot6.png"):
        PILImage.fromarray(pixels).save(path, exif=_exif(6))
    else:
        assert cv2.imwrite(str(path), pixels)
    shown = decode_image(path)
    rgb = read_rgb(path, size_hw=shown.size_hw)
    expected = np.repeat(shown.pixels[:, :, None], 3, 2) if shown.is_gray else shown.pixels[:, :, 2::-1]
    assert rgb.shape == expected.shape == ((160, 120, 3) if "rot6" in kind else (120, 160, 3))
    assert np.array_equal(rgb, expected)
    assert rgb.std() > 40  # not nearly black


def test_alpha_does_not_darken_a_16_bit_colour_image(tmp_path: Path) -> None:
    """An opaque 16-bit alpha (65535 everywhere) is dropped before the stretch: the colour
    channels come out as for the same image without alpha."""
    bgr = high_bit_depth_pixels("bgr16.png")
    bgra = np.concatenate([bgr, np.full(bgr.shape[:2] + (1,), 65535, np.uint16)], axis=2)
    assert cv2.imwrite(str(tmp_path / "bgr.png"), bgr) and cv2.imwrite(str(tmp_path / "bgra.png"), bgra)
    assert np.array_equal(read_rgb(tmp_path / "bgra.png"), read_rgb(tmp_path / "bgr.png"))


def high_bit_depth_pixels(kind: str) -> np.ndarray:
    """The 12-bit cells frame as gray uint16, B,G,R uint16 or gray float32 in [0, 1]."""
    pixels, _ = twelve_bit_cells(1)
    if kind.startswith("bgr16"):
        return np.stack([pixels, pixels // 2, 4095 - pixels], axis=2).astype(np.uint16)
    if kind.startswith("float"):
        return pixels.astype(np.float32) / 4095.0
    return pixels


def _exif(orientation: int) -> bytes:
    exif = PILImage.Image().getexif()
    exif[EXIF_ORIENTATION] = orientation
    return exif.tobytes()
