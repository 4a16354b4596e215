"""The training loop pieces: augmentations (torchvision.transforms.v2), batches, optimiser and
schedule, one optimisation step. Used by the train job and by ``bench/train.py``.

Randomness comes from torch's and numpy's generators seeded by the caller, and the data is
loaded in this process (no loader workers), so a seeded run reproduces on the same machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, cast, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2

from engine.data import DetectionTarget, ImageCache, SnapshotImage, detection_target, semantic_target
from engine.inference import autocast, semantic_logits
from engine.losses import SemanticCriterion
from engine.models.registry import BuiltModel, TrainRecipe

VOID = 255


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's legacy generator and Python's ``random``."""
    import random

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def detection_transforms(recipe: TrainRecipe) -> v2.Transform:
    """Flips and photometric jitter on (image, {boxes, labels, masks}); empty boxes dropped."""
    steps: list[v2.Transform] = [v2.RandomHorizontalFlip(0.5)]
    if recipe.vertical_flip:
        steps.append(v2.RandomVerticalFlip(0.5))
    steps += [v2.RandomPhotometricDistort(p=0.5), v2.SanitizeBoundingBoxes()]
    return v2.Compose(steps)


def semantic_transforms(recipe: TrainRecipe) -> v2.Transform:
    """Random square crop (``recipe.crop_size``; padding is void for the labels) and flips on
    (image, mask)."""
    steps: list[v2.Transform] = []
    if recipe.crop_size:
        steps.append(
            v2.RandomCrop(recipe.crop_size, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: VOID})
        )
    steps.append(v2.RandomHorizontalFlip(0.5))
    if recipe.vertical_flip:
        steps.append(v2.RandomVerticalFlip(0.5))
    return v2.Compose(steps)


def dense_target_transforms(recipe: TrainRecipe) -> v2.Transform:
    """Flips and photometric jitter on (image, (H, W) label map) for models that train on a
    dense instance target (:class:`DenseTargetModel`); the model crops itself."""
    steps: list[v2.Transform] = [v2.RandomHorizontalFlip(0.5)]
    if recipe.vertical_flip:
        steps.append(v2.RandomVerticalFlip(0.5))
    steps.append(v2.RandomPhotometricDistort(p=0.5))
    return v2.Compose(steps)


@runtime_checkable
class DenseTargetModel(Protocol):
    """An instance model that trains on one (H, W) label map per image (e.g. the instance U-Net's
    interiors + boundaries) instead of per-object masks: the map is computed once per image
    from the masks and passed as ``target["label_map"]``, so no per-iteration work scales with
    the number of objects."""

    def label_map(self, masks: torch.Tensor, labels: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        """(H, W) int64 target from (N, H, W) masks and (N,) class indices."""
        ...


@runtime_checkable
class InputChoosingModel(Protocol):
    """A model whose input representation (e.g. gray or colour) is chosen from the training images
    when it trains from scratch, and saved with its weights."""

    def choose_input(self, rgb_images: Sequence[np.ndarray]) -> str:
        """Choose from (H, W, 3) uint8 images; returns the choice and why, in words."""
        ...


@dataclass
class Sample:
    image: torch.Tensor  # (3, H, W) float32 in [0, 1]
    target: dict[str, torch.Tensor] | torch.Tensor  # detection dict, or (H, W) int64 labels


class TrainingData:
    """The training images of a snapshot with their targets, augmented on every draw."""

    def __init__(self, items: Sequence[SnapshotImage], built: BuiltModel, class_index: dict[int, int],
                 cache: ImageCache, recipe: TrainRecipe) -> None:
        self.items = list(items)
        self.output = built.spec.output
        self.class_index = class_index
        self.cache = cache
        self.dense = built.module if isinstance(built.module, DenseTargetModel) else None
        if self.dense is not None:
            self.transform = dense_target_transforms(recipe)
        else:
            self.transform = detection_transforms(recipe) if self.output.is_detection else semantic_transforms(recipe)
        self.input_size = _detector_input_size(built) if self.output.is_detection else None
        self._prepared: dict[int, tuple[np.ndarray, DetectionTarget | np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def _prepare(self, item: SnapshotImage) -> tuple[np.ndarray, DetectionTarget | np.ndarray]:
        """The image and its target, computed once. Detectors get them downscaled to the size
        the model resizes its input to anyway (so augmentation and copies work on fewer pixels)."""
        prepared = self._prepared.get(item.image.id)
        if prepared is not None:
            return prepared
        rgb = self.cache.get(item)
        if not self.output.is_detection:
            prepared = (rgb, semantic_target(item, self.class_index))
        else:
            target = detection_target(item, self.class_index, with_masks=self.output.has_masks)
            scale = _downscale(rgb.shape[:2], self.input_size)
            if scale < 1.0:
                rgb, target = _rescale(rgb, target, scale)
            prepared = (rgb, target if self.dense is None else self._dense_target(target, rgb.shape[:2]))
        self._prepared[item.image.id] = prepared
        return prepared

    def dense_label_maps(self) -> list[np.ndarray] | None:
        """The (H, W) label maps of a :class:`DenseTargetModel`'s training images (computed once
        and kept for training), or None for other models: what its loss weights are counted on."""
        if self.dense is None:
            return None
        return [cast(np.ndarray, self._prepare(item)[1]) for item in self.items]

    def _dense_target(self, target: DetectionTarget, size_hw: tuple[int, ...]) -> np.ndarray:
        """The (H, W) label map of a :class:`DenseTargetModel` (uint8 while the classes fit)."""
        assert self.dense is not None and target.masks is not None  # dense models train on masks
        with torch.no_grad():
            label = self.dense.label_map(torch.from_numpy(target.masks), torch.from_numpy(target.labels),
                                         (int(size_hw[0]), int(size_hw[1])))
        return label.cpu().numpy().astype(np.uint8 if int(label.max()) < 255 else np.int32)

    def sample(self, index: int) -> Sample:
        """Item ``index`` augmented (uses torch's global generator)."""
        item = self.items[index]
        rgb, prepared_target = self._prepare(item)
        image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1))
        if self.dense is not None:
            dense = tv_tensors.Mask(torch.from_numpy(cast(np.ndarray, prepared_target)))
            image, dense = self.transform(image, dense)
            return Sample(image.as_subclass(torch.Tensor).float().div_(255.0),
                          {"label_map": dense.as_subclass(torch.Tensor).long()})
        if self.output.is_detection:
            target = cast(DetectionTarget, prepared_target)  # _prepare gives detectors a DetectionTarget
            size_hw = tuple(rgb.shape[:2])
            t = {
                "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(target.boxes_xyxy), format="XYXY", canvas_size=size_hw),
                "labels": torch.from_numpy(target.labels),
            }
            if target.masks is not None:
                t["masks"] = tv_tensors.Mask(torch.from_numpy(target.masks))
            image, t = self.transform(image, t)
            out = {"boxes": t["boxes"].as_subclass(torch.Tensor).float(), "labels": t["labels"]}
            if "masks" in t:
                out["masks"] = t["masks"].as_subclass(torch.Tensor)
            return Sample(image.as_subclass(torch.Tensor).float().div_(255.0), out)
        label_map = cast(np.ndarray, prepared_target)  # semantic models: an (H, W) label map
        mask = tv_tensors.Mask(torch.from_numpy(label_map))
        image, mask = self.transform(image, mask)
        return Sample(image.as_subclass(torch.Tensor).float().div_(255.0), mask.as_subclass(torch.Tensor).long())


def _detector_input_size(built: BuiltModel) -> tuple[int, int] | None:
    """(short side, long side limit) a torchvision detector resizes its input to, if known."""
    transform = getattr(built.module, "transform", None)
    min_size, max_size = getattr(transform, "min_size", None), getattr(transform, "max_size", None)
    if not min_size or not max_size:
        return None
    return int(max(min_size)), int(max_size)


def _downscale(size_hw: tuple[int, int], input_size: tuple[int, int] | None) -> float:
    """The factor (<= 1) that brings an image to the detector's input size."""
    if input_size is None:
        return 1.0
    short, long_ = min(size_hw), max(size_hw)
    return min(1.0, input_size[0] / short, input_size[1] / long_)


def _rescale(rgb: np.ndarray, target: DetectionTarget, scale: float) -> tuple[np.ndarray, DetectionTarget]:
    """Resize an image (area interpolation) and its detection target (boxes, masks) by ``scale``."""
    import cv2

    height, width = rgb.shape[:2]
    size_wh = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    small = cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA)
    sx, sy = size_wh[0] / width, size_wh[1] / height
    boxes = target.boxes_xyxy * np.array([sx, sy, sx, sy], np.float32)
    masks = target.masks
    if masks is not None:
        masks = (np.stack([cv2.resize(m, size_wh, interpolation=cv2.INTER_NEAREST) for m in masks])
                 if len(masks) else np.zeros((0, size_wh[1], size_wh[0]), np.uint8))
    return small, DetectionTarget(boxes, target.labels, masks)


def batch_indices(n_items: int, batch_size: int, iterations: int, seed: int, epoch: int) -> Iterator[list[int]]:
    """``iterations`` batches of item indices: seeded permutations of the items, repeated."""
    rng = np.random.default_rng([seed, epoch])
    needed = iterations * batch_size
    order: list[int] = []
    while len(order) < needed:
        order.extend(rng.permutation(n_items).tolist())
    for i in range(iterations):
        yield order[i * batch_size : (i + 1) * batch_size]


def iterations_per_epoch(n_items: int, batch_size: int, recipe: TrainRecipe, requested: int = 0) -> int:
    """``requested`` when given, else one pass over the items, at least the recipe's minimum."""
    if requested > 0:
        return requested
    return max(math.ceil(n_items / max(batch_size, 1)), recipe.min_iterations_per_epoch)


def make_optimizer(built: BuiltModel, recipe: TrainRecipe, lr: float = 0.0) -> torch.optim.Optimizer:
    """SGD (momentum) or AdamW over the trainable parameters; ``lr`` 0 -> the recipe's."""
    params = [p for p in built.module.parameters() if p.requires_grad]
    lr = lr or recipe.lr
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=recipe.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay)


def make_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` iterations, then cosine decay to 5 % at ``total``."""
    warmup = min(warmup, max(total // 5, 1))

    def factor(step: int) -> float:
        if step < warmup:
            return 0.001 + (1 - 0.001) * step / warmup
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def loss_of(built: BuiltModel, samples: Sequence[Sample], device: torch.device, amp: bool = True,
            criterion: SemanticCriterion | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The training loss of a batch (model in train mode) and its parts as floats; semantic
    models use ``criterion`` (engine.losses) when given, plain cross-entropy otherwise."""
    if built.spec.output.is_detection:
        images = [s.image.to(device, non_blocking=True) for s in samples]
        targets = [{k: v.to(device, non_blocking=True) for k, v in s.target.items()} for s in samples]  # type: ignore[union-attr]  # detectors' Sample.target is a dict
        with autocast(device, amp):
            parts = built.module(images, targets)
        loss = sum(parts.values())
        return loss, {k: float(v.detach()) for k, v in parts.items()}
    image_batch = torch.stack([s.image for s in samples]).to(device, non_blocking=True)
    labels = torch.stack([s.target for s in samples]).to(device, non_blocking=True)  # type: ignore[misc]  # semantic: a tensor
    if device.type == "cuda":
        image_batch = image_batch.contiguous(memory_format=torch.channels_last)
    with autocast(device, amp):
        logits = semantic_logits(built, image_batch)
    if criterion is not None:
        return criterion(logits.float(), labels)
    loss = F.cross_entropy(logits.float(), labels, ignore_index=VOID)
    return loss, {"loss_ce": float(loss.detach())}


class Stepper:
    """One optimisation step at a time: forward, backward (scaled for fp16), clip, step, schedule."""

    def __init__(self, built: BuiltModel, optimizer: torch.optim.Optimizer,
                 schedule: torch.optim.lr_scheduler.LRScheduler | None, device: torch.device, amp: bool = True,
                 clip_norm: float = 10.0, criterion: SemanticCriterion | None = None) -> None:
        self.built, self.optimizer, self.schedule, self.device = built, optimizer, schedule, device
        self.criterion = criterion  # semantic models: the loss from engine.losses (None: cross-entropy)
        self.amp = amp and device.type == "cuda"
        fp16 = self.amp and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)
        self.clip_norm = clip_norm

    def step(self, samples: Sequence[Sample]) -> tuple[float, dict[str, float]]:
        loss, parts = loss_of(self.built, samples, self.device, self.amp, self.criterion)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training loss is {float(loss)}; try a lower learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_([p for p in self.built.module.parameters() if p.requires_grad], self.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.schedule is not None:
            self.schedule.step()
        return float(loss.detach()), parts
