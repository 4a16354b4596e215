"""Reading project images as RGB arrays, and turning them into tensors.

Images are read upright (EXIF orientation applied), as the GUI shows them and as ``main.py new``
records their (height, width), so shapes and pixels line up; gray and 16-bit images become
8-bit RGB.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from engine.errors import EngineInputError

_FLAGS = cv2.IMREAD_COLOR  # applies the EXIF orientation


def read_rgb(path: Path, *, size_hw: tuple[int, int] | None = None, image_id: int | None = None) -> np.ndarray:
    """The image at ``path`` as a (height, width, 3) uint8 RGB array.

    ``size_hw`` (height, width), when given, must match the file (the store's record).
    Raises :class:`EngineInputError` naming the file and the image id.
    """
    label = f"image {image_id} ({path})" if image_id is not None else str(path)
    if not path.is_file():
        raise EngineInputError(f"{label}: file not found")
    data = np.fromfile(str(path), dtype=np.uint8)  # np.fromfile + imdecode: non-ASCII paths work
    bgr = cv2.imdecode(data, _FLAGS) if data.size else None
    if bgr is None:
        raise EngineInputError(f"{label}: not a readable image")
    if size_hw is not None and bgr.shape[:2] != tuple(size_hw):
        raise EngineInputError(
            f"{label}: file is {bgr.shape[1]}x{bgr.shape[0]} (width x height) but the project records "
            f"{size_hw[1]}x{size_hw[0]}"
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def to_tensor(rgb_hwc: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb_hwc)).permute(2, 0, 1).float().div_(255.0)

