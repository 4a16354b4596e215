"""Synthetic images for the engine tests (importable as ``engine_fixtures``: pytest puts this
folder on sys.path)."""

from __future__ import annotations

import cv2
import numpy as np


def blob_image(seed: int, size_hw: tuple[int, int] = (96, 128)) -> tuple[np.ndarray, list[np.ndarray]]:
    """A noisy gray image with 2 bright discs; returns (RGB uint8, list of disc polygons (N, 2) xy)."""
    rng = np.random.default_rng(seed)
    height, width = size_hw
    image = rng.normal(60, 10, (height, width)).clip(0, 255).astype(np.uint8)
    polygons = []
    for _ in range(2):
        r = int(rng.integers(10, 16))
        cx, cy = int(rng.integers(r + 2, width - r - 2)), int(rng.integers(r + 2, height - r - 2))
        cv2.circle(image, (cx, cy), r, 200, -1)
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        polygons.append(np.stack([cx + 0.5 + r * np.cos(angles), cy + 0.5 + r * np.sin(angles)], 1))
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB), polygons


def bool_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two bool masks of one shape (1.0 when both are empty)."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0
