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

from engine.errors import EngineInputError
from engine.intensity import display_rgb

_FLAGS = cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH  # applies the EXIF orientation, keeps 16-bit/float


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
        data = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile + imdecode: non-ASCII paths work
    except OSError as exc:
        raise EngineInputError(f"{label}: cannot read the file ({exc.strerror or exc})") from exc
    bgr = cv2.imdecode(data, _FLAGS) if data.size else None
    if bgr is None and data.size:  # e.g. a float gray TIFF, which OpenCV will not widen to colour
        bgr = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH)
    if bgr is None or bgr.size == 0:
        raise EngineInputError(f"{label}: not a readable image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if bgr.dtype == np.uint8 and bgr.ndim == 3 else display_rgb(bgr)
    if size_hw is not None and rgb.shape[:2] != tuple(size_hw):
        raise EngineInputError(
            f"{label}: file is {rgb.shape[1]}x{rgb.shape[0]} (width x height) but the project records "
            f"{size_hw[1]}x{size_hw[0]}"
        )
    return rgb


def to_tensor(rgb_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb_hwc)).permute(2, 0, 1).float().div_(255.0)

