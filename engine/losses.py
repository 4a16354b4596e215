"""Semantic training losses: cross-entropy, class-weighted cross-entropy, soft multi-class Dice,
and cross-entropy + Dice; and the same for the binary maps of an instance model.

Shapes: ``logits`` (B, C, H, W) float, ``labels`` (B, H, W) int64 class indices with
``ignore_index`` (255) for pixels that count nowhere: they are left out of the cross-entropy
mean, of the Dice sums and (in :mod:`engine.loss_choice`) of the class frequencies.

- cross-entropy: ``sum_i w[y_i] * -log p_i[y_i] / sum_i w[y_i]`` over the labelled pixels
  (``w`` = 1 without class weights; the same normalisation as ``torch.nn.functional.cross_entropy``);
- soft Dice: ``1 - mean_c (2 * sum t_c * p_c + s) / (sum (t_c + p_c) + s)`` with ``p = softmax``,
  ``t`` the one-hot labels, the sums over the batch's labelled pixels and ``s`` the smoothing
  (1 pixel). The mean runs over the classes present in the batch's labels (as
  segmentation_models_pytorch's ``DiceLoss`` does): a class absent from a batch has no Dice, only
  false positives, and counting it (``include_absent=True``, the smoothing making it ``s / (sum p_c
  + s)``) pushes its probability towards 0 in every batch that lacks it, with a derivative on each
  pixel's ``p_c`` that grows to ``1 / C`` as ``sum p_c`` falls (the cross-entropy's is about
  ``1 / pixels``): a rare class seen in few batches is suppressed in all the others. Probability
  put on an absent class still costs Dice through the present class it is taken from;
- CE + Dice: ``CE + dice_weight * Dice``.

The kinds, weights and the automatic choice live in :mod:`engine.loss_choice` (torch-free) and
are re-exported here. The instance U-Net's softmax maps (background, class interiors, boundary)
take the same losses, built from the pixel frequencies of its dense training targets
(:func:`instance_map_criterion`); its ``auto`` keeps the model's own weights (measured, see
:data:`INSTANCE_AUTO_REASON`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from engine.data import SnapshotImage, semantic_target
from engine.errors import EngineInputError
from engine.loss_choice import (
    DEFAULT_CLIP,
    IGNORE_INDEX,
    ClassFrequencies,
    ClassWeighting,
    LossConfig,
    LossKind,
    binary_map_weights,
    choose_loss,
    class_weights,
    count_class_pixels,
    inverse_sqrt_weights,
    median_frequency_weights,
    two_map_weights,
)
from engine.models.instance_unet import BOUNDARY_WEIGHT

__all__ = [
    "DEFAULT_CLIP", "IGNORE_INDEX", "ClassFrequencies", "ClassWeighting", "LossConfig", "LossKind", "PixelCriterionModel",
    "SemanticCriterion", "SemanticLoss", "binary_map_loss", "binary_map_weights", "choose_loss", "class_weights",
    "count_class_pixels", "cross_entropy", "instance_map_criterion", "instance_map_names", "inverse_sqrt_weights",
    "median_frequency_weights", "semantic_loss_for", "semantic_loss_for_items", "soft_dice_loss",
    "soft_dice_loss_from_logits", "training_criterion", "two_map_weights",
]


INSTANCE_AUTO_REASON = ("auto: kept, not the semantic rule's weighted cross-entropy: on 20 finished nuclei images "
                        "median-frequency weights (background 0.16, interior 1, boundary 2.3) lowered held-out AP50 "
                        "from 0.62 to 0.40 (bench/RESULTS.md)")
"""Why ``auto`` keeps the instance U-Net's own loss. The semantic rule (weighted cross-entropy at >= 10x
imbalance) would pick weighted CE on nuclei maps (background 82 %, boundary 5.5 %: 15x); measured with
bench/retrain_curve.py --dataset nuclei --curve 20 --images 40 --epochs 3 --iterations-per-epoch 170, seed 0 (one
run each): AP50 0.619 / mask AP 0.367 with the own loss, 0.403 / 0.146 with ``--loss weighted-ce``."""


class SemanticCriterion(Protocol):
    """A training loss of a semantic model: (logits (B, C, H, W), labels (B, H, W)) -> (scalar
    loss, its parts as floats)."""

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]: ...


def _check(logits: torch.Tensor, labels: torch.Tensor) -> None:
    if logits.dim() != 4 or labels.dim() != 3 or logits.shape[0] != labels.shape[0] or logits.shape[2:] != labels.shape[1:]:
        raise EngineInputError(f"loss needs logits (B, C, H, W) and labels (B, H, W); got {tuple(logits.shape)} "
                               f"and {tuple(labels.shape)}")


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None,
                  ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Mean (class-weighted) cross-entropy over the labelled pixels; 0 (with a gradient path)
    when a batch has no labelled pixel. ``weight``: (C,) float or None."""
    _check(logits, labels)
    valid = labels != ignore_index
    if not bool(valid.any()):
        return logits.sum() * 0.0
    per_pixel = F.cross_entropy(logits, labels.masked_fill(~valid, 0), reduction="none")  # (B, H, W)
    if weight is None:
        return per_pixel[valid].mean()
    pixel_weight = weight.to(logits.dtype)[labels[valid]]
    return (per_pixel[valid] * pixel_weight).sum() / pixel_weight.sum().clamp_min(torch.finfo(logits.dtype).tiny)


def soft_dice_loss(probabilities: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX,
                   smooth: float = 1.0, include_absent: bool = False) -> torch.Tensor:
    """``1 - mean over classes of (2 * sum t*p + smooth) / (sum (t + p) + smooth)``, sums over the
    batch's labelled pixels. ``probabilities``: (B, C, H, W), each pixel summing to 1. The mean
    runs over the classes with a labelled pixel in the batch; ``include_absent`` averages over all
    ``C`` classes instead (see the module docstring). 0 (with a gradient path) when the batch has
    no labelled pixel."""
    _check(probabilities, labels)
    num_classes = probabilities.shape[1]
    valid = (labels != ignore_index).unsqueeze(1).to(probabilities.dtype)  # (B, 1, H, W)
    one_hot = F.one_hot(labels.masked_fill(labels == ignore_index, 0), num_classes).permute(0, 3, 1, 2)
    truth = one_hot.to(probabilities.dtype) * valid
    predicted = probabilities * valid
    dims = (0, 2, 3)
    overlap = (truth * predicted).sum(dims)
    total = (truth + predicted).sum(dims)
    dice = (2.0 * overlap + smooth) / (total + smooth)
    if include_absent:
        return 1.0 - dice.mean()
    present = truth.sum(dims) > 0
    if not bool(present.any()):
        return probabilities.sum() * 0.0
    return 1.0 - dice[present].mean()


def soft_dice_loss_from_logits(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX,
                               smooth: float = 1.0, include_absent: bool = False) -> torch.Tensor:
    """:func:`soft_dice_loss` of ``softmax(logits)`` (computed in float32)."""
    return soft_dice_loss(logits.float().softmax(1), labels, ignore_index, smooth, include_absent)


class SemanticLoss:
    """The loss of a :class:`LossConfig` for ``num_classes`` classes (background included)."""

    def __init__(self, config: LossConfig, num_classes: int) -> None:
        if config.kind is LossKind.AUTO:
            raise EngineInputError("resolve the automatic loss with choose_loss() before building it")
        if config.kind is LossKind.WEIGHTED_CE and len(config.class_weights) != num_classes:
            raise EngineInputError(f"weighted cross-entropy needs {num_classes} class weights, "
                                   f"got {len(config.class_weights)}")
        self.config = config
        self.num_classes = num_classes
        self._weight = (torch.tensor(config.class_weights, dtype=torch.float32)
                        if config.kind is LossKind.WEIGHTED_CE else None)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """(scalar loss, parts) of a batch; ``logits`` are used in float32."""
        logits = logits.float()
        kind, ignore = self.config.kind, self.config.ignore_index
        parts: dict[str, float] = {}
        total: torch.Tensor | None = None
        if kind in (LossKind.CE, LossKind.WEIGHTED_CE, LossKind.CE_DICE):
            weight = self._weight.to(logits.device) if self._weight is not None else None
            ce = cross_entropy(logits, labels, weight, ignore)
            parts["loss_wce" if weight is not None else "loss_ce"] = float(ce.detach())
            total = ce
        if kind in (LossKind.DICE, LossKind.CE_DICE):
            dice = soft_dice_loss_from_logits(logits, labels, ignore, self.config.dice_smooth,
                                              self.config.dice_include_absent)
            parts["loss_dice"] = float(dice.detach())
            total = dice if total is None else total + self.config.dice_weight * dice
        assert total is not None
        return total, parts


def semantic_loss_for(requested: LossKind | str, label_maps: Sequence[np.ndarray], class_names: Sequence[str],
                      **choice: object) -> SemanticLoss:
    """The training loss for (H, W) label maps of the training images (class indices, 255
    ignored) and ``class_names`` by index (background first): counts the class frequencies,
    resolves ``requested`` (AUTO included) with :func:`choose_loss` and builds it. The chosen
    config, with its reason, is ``.config`` of the result."""
    frequencies = count_class_pixels(label_maps, len(class_names))
    config = choose_loss(requested, frequencies, class_names, **choice)  # type: ignore[arg-type]  # choice: choose_loss's keyword options, passed through
    return SemanticLoss(config, len(class_names))


def binary_map_loss(logits: torch.Tensor, targets: torch.Tensor,
                    map_weights: Sequence[tuple[float, float]] | None = None, *, dice_weight: float = 0.0,
                    ignore_index: int = IGNORE_INDEX, smooth: float = 1.0) -> torch.Tensor:
    """Loss of M independent binary maps (e.g. the instance model's foreground and boundary maps).

    ``logits``: (B, M, H, W); ``targets``: (B, M, H, W) integer 0/1, ``ignore_index`` for
    pixels left out. ``map_weights``: per map (negative weight, positive weight), e.g. from
    :func:`engine.loss_choice.two_map_weights`; None -> unweighted. Per map: the weighted mean
    of the pixel-wise binary cross-entropy over its labelled pixels (weights normalised like
    :func:`cross_entropy`), plus ``dice_weight`` times the map's soft Dice loss of the
    foreground; the maps' losses are averaged."""
    if logits.shape != targets.shape or logits.dim() != 4:
        raise EngineInputError(f"binary map loss needs logits and targets (B, M, H, W) of one shape; got "
                               f"{tuple(logits.shape)} and {tuple(targets.shape)}")
    logits = logits.float()
    maps = logits.shape[1]
    if map_weights is not None and len(map_weights) != maps:
        raise EngineInputError(f"binary map loss: {maps} maps but {len(map_weights)} weight pairs")
    losses = []
    for m in range(maps):
        x, t = logits[:, m], targets[:, m]
        valid = t != ignore_index
        if not bool(valid.any()):
            losses.append(x.sum() * 0.0)
            continue
        x, t = x[valid], t[valid].to(x.dtype)
        per_pixel = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        if map_weights is None:
            loss = per_pixel.mean()
        else:
            negative, positive = map_weights[m]
            w = torch.where(t > 0.5, torch.as_tensor(positive, dtype=x.dtype), torch.as_tensor(negative, dtype=x.dtype))
            loss = (per_pixel * w).sum() / w.sum()
        if dice_weight:
            p = x.sigmoid()
            loss = loss + dice_weight * (1.0 - (2.0 * (p * t).sum() + smooth) / ((p + t).sum() + smooth))
        losses.append(loss)
    return torch.stack(losses).mean()


def semantic_loss_for_items(requested: LossKind | str, items: Sequence[SnapshotImage], class_index: dict[int, int],
                            class_names: Sequence[str]) -> SemanticLoss:
    """The training loss of a semantic model trained on ``items`` (finished images), their
    classes mapped by ``class_index`` (category id -> class index, background 0) and named by
    ``class_names`` (background first): :func:`semantic_loss_for` on their label maps."""
    return semantic_loss_for(requested, [semantic_target(item, class_index) for item in items], class_names)


@runtime_checkable
class PixelCriterionModel(Protocol):
    """An instance model that trains one softmax over per-pixel maps (e.g. the instance U-Net's
    ``[background, class 1 .. K, boundary]``) and takes its pixel loss from the engine:
    ``pixel_criterion`` None keeps the model's own loss."""

    pixel_criterion: SemanticCriterion | None


def instance_map_names(class_names: Sequence[str]) -> list[str]:
    """Names of the instance maps by channel: background, one interior per class, boundary
    (``class_names``: background first, as the model's class labels)."""
    interiors = [f"{name.strip('_')} interior" for name in class_names[1:]]
    return ["background", *interiors, "boundary"]


def _shares_text(frequencies: ClassFrequencies, names: Sequence[str]) -> str:
    return ", ".join(f"{name} {100 * share:.2g}%" for name, share in zip(names, frequencies.shares(), strict=True))


def instance_map_criterion(requested: LossKind | str, label_maps: Sequence[np.ndarray],
                           class_names: Sequence[str]) -> tuple[SemanticLoss | None, str]:
    """(criterion for the instance maps, what was used and why) of an instance model trained on
    the (H, W) dense targets ``label_maps`` (0 background, 1..K interiors, K + 1 boundary; 255
    ignored) with ``class_names`` (background first, K + 1 names).

    An explicit ``weighted-ce``, ``dice`` or ``ce+dice`` is built from the maps' pixel frequencies
    (median-frequency weights, clipped like the semantic ones); ``ce`` is the unweighted
    cross-entropy. ``auto`` keeps the model's own loss (criterion None: cross-entropy with the
    boundary weighted :data:`engine.models.instance_unet.BOUNDARY_WEIGHT`): see :data:`INSTANCE_AUTO_REASON`."""
    kind = LossKind.parse(requested)
    names = instance_map_names(class_names)
    frequencies = count_class_pixels(label_maps, len(names))
    shares = _shares_text(frequencies, names)
    if kind is LossKind.AUTO:
        return None, (f"instance maps: the model's own cross-entropy, boundary weighted "
                      f"{BOUNDARY_WEIGHT:g}, others 1 ({INSTANCE_AUTO_REASON}; pixel shares: {shares})")
    config = choose_loss(kind, frequencies, names)
    criterion = SemanticLoss(config, len(names))
    text = kind.value
    if kind is LossKind.WEIGHTED_CE:
        text += f" [{config.weighting.value}: " + ", ".join(
            f"{name} {w:.3g}" for name, w in zip(names, config.class_weights, strict=True)) + "]"
    return criterion, f"instance maps: {text} ({config.reason}; pixel shares: {shares})"


def training_criterion(requested: LossKind | str, is_detection: bool, items: Sequence[SnapshotImage],
                       class_index: dict[int, int], class_names: Sequence[str], *,
                       dense_label_maps: Sequence[np.ndarray] | None = None) -> tuple[SemanticLoss | None, str]:
    """(criterion, what was used and why) for a training job. Detectors train with their own
    losses (criterion None); asking them for a specific loss is an :class:`EngineInputError`.
    Instance models that train on dense maps (``dense_label_maps``: their (H, W) targets of the
    training images, see :class:`PixelCriterionModel`) get :func:`instance_map_criterion`."""
    kind = LossKind.parse(requested)
    if is_detection:
        if dense_label_maps is not None:
            return instance_map_criterion(kind, dense_label_maps, class_names)
        if kind is not LossKind.AUTO:
            raise EngineInputError(f"loss {kind.value!r} applies to semantic (stuff) models and the instance U-Net's "
                                   "maps; detection models train with their own losses (use --loss auto)")
        return None, "the model's own detection losses"
    criterion = semantic_loss_for_items(kind, items, class_index, class_names)
    return criterion, criterion.config.describe()
