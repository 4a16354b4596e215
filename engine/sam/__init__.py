"""SAM-family interactive segmentation: SAM 2.1 through the official ``sam2`` package, and the
light EfficientViT-SAM L0 (for CPU laptops) through the official ``efficientsam`` package.

Notebook use::

    from engine.sam import SamPredictor
    predictor = SamPredictor.from_weights("sam2.1_hiera_tiny")   # the cached, fetched weight file
    predictor.set_image(rgb)                                      # (H, W, 3) uint8
    answer = predictor.predict(box_xyxy=(x1, y1, x2, y2), positive=[(x, y)])
    answer.masks[0]                                               # (H, W) bool, best candidate first

Light on import: :mod:`engine.models.weight_files` imports :mod:`engine.sam.catalog` to list the
SAM weight files, so nothing here loads ``sam2``/hydra or ``efficientsam`` until a predictor is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.sam.predictor import SamPrediction, SamPredictor

__all__ = ["SamPrediction", "SamPredictor"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from engine.sam import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'engine.sam' has no attribute {name!r}")
