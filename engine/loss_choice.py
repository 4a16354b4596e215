"""Which training loss a semantic model uses, and the class weights of weighted cross-entropy.

Torch-free (numpy only), so the GUI and the command line can name the losses and the engine can
explain its automatic choice without loading torch. The torch losses are in :mod:`engine.losses`.

Class frequencies are counted over the labelled pixels of the finished training images: pixels
with the ignore value (255: void, ignore regions, crop padding) are left out of every count.

Two weighting schemes, both clipped to ``[min, max]`` so a class seen in a handful of pixels
cannot dominate the loss:

- median-frequency balancing (Eigen & Fergus 2015; SegNet on CamVid):
  ``freq(c) = pixels of c / labelled pixels of the images where c is present`` and
  ``w(c) = median(freq) / freq(c)``, the median over the classes present;
- inverse square root: ``f(c) = pixels of c / all labelled pixels`` and
  ``w(c) = sqrt(median(f) / f(c))`` (normalised so the median class weighs 1, like above).

Classes with no labelled pixel get weight 1 (they never occur as a target, so their weight does
not change a cross-entropy value).

The automatic choice (:func:`choose_loss`): plain cross-entropy unless the most frequent class
has at least 10x the labelled pixels of the rarest present one; then median-frequency weighted
cross-entropy. In ``bench/losses.py`` (bench/RESULTS.md, street-like set, 92x, 1500 iterations,
3 seeds) it raised mIoU over plain cross-entropy in all 3 seeds and lifted a class from IoU 0 in
each; CE + Dice raised mIoU in 2 of 3 seeds and lifted a class in 1. Below 10x (membranes, 3.4x)
weighted cross-entropy over-predicts the rarer class and lowers mIoU, so plain cross-entropy
stays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from engine.errors import EngineInputError

IGNORE_INDEX = 255
DEFAULT_CLIP = (0.1, 10.0)  # (min, max) class weight
IMBALANCE_RATIO = 10.0  # most / least frequent class (pixels) from which "auto" leaves plain CE


class LossKind(str, Enum):
    """The training loss of a semantic model (the value is the command-line spelling)."""

    AUTO = "auto"
    CE = "ce"
    WEIGHTED_CE = "weighted-ce"
    DICE = "dice"
    CE_DICE = "ce+dice"

    @property
    def label(self) -> str:
        """A label for menus."""
        return _TITLES[self]

    @classmethod
    def parse(cls, text: str | LossKind) -> LossKind:
        """The kind spelled ``text`` (e.g. ``"ce+dice"``); raises :class:`EngineInputError`."""
        if isinstance(text, LossKind):
            return text
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in cls)
            raise EngineInputError(f"unknown training loss {text!r}; choose one of {choices}") from None


_TITLES = {
    LossKind.AUTO: "Automatic (by class balance)",
    LossKind.CE: "Cross-entropy",
    LossKind.WEIGHTED_CE: "Class-weighted cross-entropy",
    LossKind.DICE: "Soft Dice",
    LossKind.CE_DICE: "Cross-entropy + Dice",
}


class ClassWeighting(str, Enum):
    """How class weights follow from the class frequencies."""

    MEDIAN_FREQUENCY = "median-frequency"
    INVERSE_SQRT = "inverse-sqrt"


@dataclass(frozen=True)
class ClassFrequencies:
    """Labelled-pixel counts per class index (0 = background), ignore pixels excluded.

    ``pixel_counts[c]``: pixels labelled ``c``; ``present_image_pixels[c]``: labelled pixels of
    the images in which class ``c`` occurs at least once (the denominator of median-frequency
    balancing).
    """

    pixel_counts: tuple[int, ...]
    present_image_pixels: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.pixel_counts)

    @property
    def total_pixels(self) -> int:
        return int(sum(self.pixel_counts))

    def shares(self) -> np.ndarray:
        """(C,) float64 share of the labelled pixels per class (sums to 1; zeros when empty)."""
        counts = np.asarray(self.pixel_counts, np.float64)
        total = counts.sum()
        return counts / total if total > 0 else counts

    def present(self) -> list[int]:
        """Class indices with at least one labelled pixel."""
        return [c for c, n in enumerate(self.pixel_counts) if n > 0]


def count_class_pixels(label_maps: Iterable[np.ndarray], num_classes: int,
                       ignore_index: int = IGNORE_INDEX) -> ClassFrequencies:
    """Class frequencies of (H, W) integer label maps (values 0..num_classes-1, or
    ``ignore_index``, which is not counted). Raises :class:`EngineInputError` for other values."""
    counts = np.zeros(num_classes, np.int64)
    present_pixels = np.zeros(num_classes, np.int64)
    for index, labels in enumerate(label_maps):
        values = np.asarray(labels).ravel()
        values = values[values != ignore_index].astype(np.int64)
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise EngineInputError(
                f"label map {index}: value {int(values.max())} outside 0..{num_classes - 1} (and not {ignore_index})")
        image_counts = np.bincount(values, minlength=num_classes)
        counts += image_counts
        present_pixels[image_counts > 0] += values.size
    return ClassFrequencies(tuple(int(n) for n in counts), tuple(int(n) for n in present_pixels))


def _clip(weights: np.ndarray, clip: tuple[float, float]) -> tuple[float, ...]:
    low, high = clip
    if not 0 < low <= high:
        raise EngineInputError(f"class weight clip range must satisfy 0 < min <= max, got {clip}")
    return tuple(float(w) for w in np.clip(weights, low, high))


def median_frequency_weights(frequencies: ClassFrequencies,
                             clip: tuple[float, float] = DEFAULT_CLIP) -> tuple[float, ...]:
    """(C,) weights ``median(freq) / freq(c)`` with ``freq(c) = pixels of c / labelled pixels of
    the images containing c``, clipped; absent classes get 1."""
    counts = np.asarray(frequencies.pixel_counts, np.float64)
    denominators = np.asarray(frequencies.present_image_pixels, np.float64)
    weights = np.ones_like(counts)
    present = counts > 0
    if present.any():
        freq = counts[present] / denominators[present]
        weights[present] = float(np.median(freq)) / freq
    return _clip(weights, clip)


def inverse_sqrt_weights(frequencies: ClassFrequencies,
                         clip: tuple[float, float] = DEFAULT_CLIP) -> tuple[float, ...]:
    """(C,) weights ``sqrt(median(f) / f(c))`` with ``f(c) = pixels of c / all labelled
    pixels``, clipped; absent classes get 1."""
    shares = frequencies.shares()
    weights = np.ones_like(shares)
    present = shares > 0
    if present.any():
        weights[present] = np.sqrt(float(np.median(shares[present])) / shares[present])
    return _clip(weights, clip)


def class_weights(frequencies: ClassFrequencies, weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
                  clip: tuple[float, float] = DEFAULT_CLIP) -> tuple[float, ...]:
    """(C,) class weights by ``weighting`` (see the module docstring)."""
    if weighting is ClassWeighting.INVERSE_SQRT:
        return inverse_sqrt_weights(frequencies, clip)
    return median_frequency_weights(frequencies, clip)


def two_map_weights(positive_pixels: int, negative_pixels: int,
                    weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
                    clip: tuple[float, float] = DEFAULT_CLIP) -> tuple[float, float]:
    """(negative weight, positive weight) of one binary map (a foreground or boundary map of the
    instance model): the map is weighted as a two-class problem with the same formulas, counting
    its labelled pixels over the whole training set (every image counts for both classes).

    ``pos_weight`` for ``BCEWithLogitsLoss`` is ``positive / negative`` of the result."""
    if positive_pixels < 0 or negative_pixels < 0:
        raise EngineInputError(f"pixel counts must not be negative, got {positive_pixels}, {negative_pixels}")
    total = positive_pixels + negative_pixels
    frequencies = ClassFrequencies((negative_pixels, positive_pixels), (total, total))
    negative, positive = class_weights(frequencies, weighting, clip)
    return negative, positive


def binary_map_weights(target_maps: Iterable[np.ndarray], weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
                       clip: tuple[float, float] = DEFAULT_CLIP) -> list[tuple[float, float]]:
    """Per map (negative weight, positive weight) for M binary maps, e.g. an instance model's
    foreground and boundary maps: ``target_maps`` yields one (M, H, W) array per training image
    (0 / 1; any other value, e.g. 255 for ignore, is not counted); each map is weighted by :func:`two_map_weights` over
    all images. Pass the result to :func:`engine.losses.binary_map_loss`."""
    positive: np.ndarray | None = None
    negative: np.ndarray | None = None
    for targets in target_maps:
        flat = np.asarray(targets).reshape(np.asarray(targets).shape[0], -1)
        pos, neg = (flat == 1).sum(1).astype(np.int64), (flat == 0).sum(1).astype(np.int64)
        if positive is None or negative is None:
            positive, negative = pos, neg
        elif pos.shape != positive.shape:
            raise EngineInputError(f"binary maps: {pos.shape[0]} maps in one image, {positive.shape[0]} in another")
        else:
            positive, negative = positive + pos, negative + neg
    if positive is None or negative is None:
        return []
    return [two_map_weights(int(p), int(n), weighting, clip) for p, n in zip(positive, negative, strict=True)]


@dataclass(frozen=True)
class LossConfig:
    """The resolved training loss of a semantic model (``kind`` is never AUTO here).

    ``class_weights``: per class index (background first), used by weighted cross-entropy;
    ``dice_weight``: the Dice term's factor in CE + Dice; ``dice_smooth``: added to the Dice
    numerator and denominator; ``dice_include_absent``: average the Dice over all classes, not
    only those with a labelled pixel in the batch (see :mod:`engine.losses`; off by default);
    ``reason``: why this loss was chosen, in words.
    """

    kind: LossKind = LossKind.CE
    weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY
    class_weights: tuple[float, ...] = ()
    dice_weight: float = 1.0
    dice_smooth: float = 1.0
    dice_include_absent: bool = False
    ignore_index: int = IGNORE_INDEX
    reason: str = ""

    def describe(self) -> str:
        """One line: the loss and why, e.g. ``"ce+dice (auto: ...)"``."""
        text = self.kind.value
        if self.kind is LossKind.WEIGHTED_CE and self.class_weights:
            text += f" [{self.weighting.value}: " + ", ".join(f"{w:.3g}" for w in self.class_weights) + "]"
        return f"{text} ({self.reason})" if self.reason else text


def _name(index: int, class_names: Sequence[str]) -> str:
    """``'road'`` for a named class (``__background__`` reads ``'background'``), else ``class 3``."""
    return f"'{class_names[index].strip('_')}'" if index < len(class_names) else f"class {index}"


def choose_loss(requested: LossKind | str, frequencies: ClassFrequencies | None,
                class_names: Sequence[str] = (), *,
                weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
                clip: tuple[float, float] = DEFAULT_CLIP,
                imbalance_ratio: float = IMBALANCE_RATIO,
                unbalanced_kind: LossKind = LossKind.WEIGHTED_CE) -> LossConfig:
    """Resolve ``requested`` (AUTO included) into a :class:`LossConfig` with its reason.

    ``frequencies``: labelled pixels per class index of the training images (None: unknown);
    ``class_names``: names by class index, for the reason. AUTO picks ``unbalanced_kind`` when
    the most frequent present class has at least ``imbalance_ratio`` times the pixels of the
    least frequent one, and plain cross-entropy otherwise. Class weights are computed whenever
    frequencies are known (they are used by weighted cross-entropy only).
    """
    kind = LossKind.parse(requested)
    weights = class_weights(frequencies, weighting, clip) if frequencies is not None else ()
    if kind is not LossKind.AUTO:
        if kind is LossKind.WEIGHTED_CE and frequencies is None:
            raise EngineInputError("weighted cross-entropy needs the class frequencies of the training images")
        return LossConfig(kind, weighting, weights, reason="chosen by the user")
    if frequencies is None or len(frequencies.present()) < 2:
        return LossConfig(LossKind.CE, weighting, weights,
                          reason="auto: fewer than two classes in the training labels, nothing to balance")
    shares = frequencies.shares()
    present = frequencies.present()
    rarest = min(present, key=lambda c: shares[c])
    commonest = max(present, key=lambda c: shares[c])
    ratio = float(shares[commonest] / shares[rarest])
    absent = [c for c in range(frequencies.num_classes) if c not in present]
    note = f"; {len(absent)} class(es) have no labelled pixel" if absent else ""
    facts = (f"the rarest class {_name(rarest, class_names)} has {100 * shares[rarest]:.2g}% of the labelled "
             f"pixels, {_ratio(ratio)}x fewer than {_name(commonest, class_names)}")
    if ratio >= imbalance_ratio:
        return LossConfig(unbalanced_kind, weighting, weights,
                          reason=f"auto: classes very unbalanced: {facts} (>= {imbalance_ratio:g}x){note}")
    return LossConfig(LossKind.CE, weighting, weights,
                      reason=f"auto: classes balanced enough for plain cross-entropy: {facts} "
                             f"(< {imbalance_ratio:g}x){note}")


def _ratio(ratio: float) -> str:
    return f"{ratio:.0f}" if math.isfinite(ratio) and ratio >= 10 else f"{ratio:.2g}"
