"""Reading project images as RGB arrays, and turning them into tensors.

Images are read upright (EXIF orientation applied), as the GUI shows them and as ``main.py new``
records their (height, width), so shapes and pixels line up; gray, 16-bit and float images
become 8-bit RGB exactly as the GUI displays them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from annotations.errors import ImageFileError
from annotations.imageio import decode
from engine.errors import EngineInputError
from engine.intensity import display_rgb


def read_rgb(path: Path, *, size_hw: tuple[int, int] | None = None, image_id: int | None = None) -> np.ndarray:
    """The image at ``path`` as a (height, width, 3) uint8 RGB array, as the GUI displays it.

    8-bit files are read as they are; 16-bit (12-bit data included) and float files are
    stretched between robust percentiles exactly like the GUI (:mod:`engine.intensity`), so the
    model sees what the annotator saw. ``size_hw`` (height, width), when given, must match the
    file (the store's record). Raises :class:`EngineInputError` naming the file and the image id.
    """
    label = f"image {image_id} ({path})" if image_id is not None else str(path)
    if not path.is_file():
        raise EngineInputError(f"{label}: file not found")
    try:
        decoded = decode(path)  # the one image opener: pixel budget, EXIF orientation, errors named
        bgr = decoded.array
        if not decoded.bgr and bgr.ndim == 3 and bgr.shape[2] >= 3:  # Pillow fallback: R, G, B order
            bgr = np.ascontiguousarray(bgr[:, :, [2, 1, 0, *range(3, bgr.shape[2])]])
    except ImageFileError as exc:
        raise EngineInputError(f"{label}: not a readable image ({exc})") from exc
    except (cv2.error, MemoryError) as exc:
        raise EngineInputError(f"{label}: cannot decode ({type(exc).__name__}: {exc})") from exc
    try:
        rgb = display_rgb(bgr)  # gray/colour/alpha, any depth -> (H, W, 3) uint8 RGB as the GUI shows it
    except (cv2.error, ValueError, MemoryError) as exc:
        raise EngineInputError(f"{label}: cannot convert to RGB ({type(exc).__name__}: {exc})") from exc
    if size_hw is not None and rgb.shape[:2] != tuple(size_hw):
        raise EngineInputError(
            f"{label}: file is {rgb.shape[1]}x{rgb.shape[0]} (width x height) but the project records "
            f"{size_hw[1]}x{size_hw[0]}"
        )
    return rgb


def to_tensor(rgb_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb_hwc)).permute(2, 0, 1).float().div_(255.0)

