"""Reading project images in the engine: upright (EXIF orientation applied), size checked."""

from __future__ import annotations

from pathlib import Path

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
