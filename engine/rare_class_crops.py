"""Class-balanced crop sampling for semantic training: some crops are centred on a pixel of a
class drawn with a preference for rare classes, so classes found in a handful of images are seen
in more batches than uniform image and crop sampling would show them.

Torch-free (numpy). A draw (:meth:`RareClassCrops.draw`) is, with probability ``probability``, a
class ``c`` drawn from the classes present in the training labels with probability proportional to
``1 / sqrt(share of c)`` (the inverse-square-root frequency of :mod:`engine.loss_choice`), then an
image containing ``c`` (uniformly), then a pixel of ``c`` in it (uniformly) as the crop's centre;
otherwise a uniformly drawn image and crop. Ignore pixels (255) are never centres and count in no
share. This is the "rare class sampling" / foreground oversampling of segmentation recipes
(e.g. nnU-Net's foreground oversampling, DAFormer's rare class sampling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import EngineInputError
from engine.loss_choice import IGNORE_INDEX


@dataclass(frozen=True)
class CropDraw:
    """One draw: the image index, and the (row, column) pixel the crop is centred on, or None
    for a uniformly placed crop; ``class_index`` is the class whose pixel was drawn (None)."""

    image_index: int
    centre_yx: tuple[int, int] | None = None
    class_index: int | None = None


class RareClassCrops:
    """Draws (image, crop centre) pairs from (H, W) label maps; see the module docstring.

    ``label_maps``: per training image, class indices 0..num_classes-1 or ``ignore_index``;
    ``probability``: the share of draws centred on a drawn class's pixel (0: uniform sampling).
    """

    def __init__(self, label_maps: Sequence[np.ndarray], num_classes: int, probability: float = 0.5,
                 ignore_index: int = IGNORE_INDEX) -> None:
        if not 0.0 <= probability <= 1.0:
            raise EngineInputError(f"rare-class crop probability must be in [0, 1], got {probability}")
        if not label_maps:
            raise EngineInputError("rare-class crops need at least one label map")
        self.label_maps = list(label_maps)
        self.probability = probability
        self.ignore_index = ignore_index
        counts = np.zeros(num_classes, np.int64)
        images_with: list[list[int]] = [[] for _ in range(num_classes)]
        for index, labels in enumerate(self.label_maps):
            values = np.asarray(labels).ravel()
            values = values[values != ignore_index].astype(np.int64)
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise EngineInputError(f"label map {index}: value {int(values.max())} outside 0..{num_classes - 1}")
            image_counts = np.bincount(values, minlength=num_classes)
            counts += image_counts
            for c in np.nonzero(image_counts)[0]:
                images_with[int(c)].append(index)
        self.images_with_class = tuple(tuple(images) for images in images_with)
        self.class_probabilities = class_draw_probabilities(counts)

    def draw(self, rng: np.random.Generator) -> CropDraw:
        """One (image, centre) draw using ``rng``."""
        if self.probability > 0.0 and self.class_probabilities.sum() > 0 and rng.random() < self.probability:
            c = int(rng.choice(len(self.class_probabilities), p=self.class_probabilities))
            images = self.images_with_class[c]
            image_index = images[int(rng.integers(len(images)))]
            rows, cols = np.nonzero(np.asarray(self.label_maps[image_index]) == c)
            k = int(rng.integers(len(rows)))
            return CropDraw(image_index, (int(rows[k]), int(cols[k])), c)
        return CropDraw(int(rng.integers(len(self.label_maps))))


def class_draw_probabilities(pixel_counts: np.ndarray) -> np.ndarray:
    """(C,) float64 probabilities of drawing each class: ``1 / sqrt(share)`` over the classes
    with pixels, normalised to sum 1 (all zeros when no class has a pixel)."""
    counts = np.asarray(pixel_counts, np.float64)
    out = np.zeros_like(counts)
    present = counts > 0
    if present.any():
        out[present] = 1.0 / np.sqrt(counts[present] / counts.sum())
        out /= out.sum()
    return out


def crop_origin(size_hw: tuple[int, int], crop: int, centre_yx: tuple[int, int] | None,
                rng: np.random.Generator) -> tuple[int, int]:
    """(top, left) of a ``crop`` px square inside an image of ``size_hw`` (at least ``crop`` each
    way, i.e. already padded): centred on ``centre_yx`` and shifted to fit the image, or uniformly
    placed when ``centre_yx`` is None."""
    height, width = size_hw
    if height < crop or width < crop:
        raise EngineInputError(f"crop {crop} px is larger than the (padded) image {height}x{width}")
    if centre_yx is None:
        return int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
    y, x = centre_yx
    return min(max(y - crop // 2, 0), height - crop), min(max(x - crop // 2, 0), width - crop)
