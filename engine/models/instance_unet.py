"""Instances from a compact U-Net that learns on a CPU from a few images, with no downloaded
weights (the nuclei-challenge family of methods: semantic classes plus an object boundary map,
split into instances by a seeded watershed).

The network predicts, per pixel, softmax over ``[background, class 1 .. class K, boundary]``:
the boundary class is the rim (``boundary_px`` wide) of every instance, and every pixel where
instances touch or overlap. At inference, the interiors (class pixels) are cut into connected
components (the seeds), which grow back over the foreground (each foreground pixel joins the
nearest seed of its region: a watershed on the distance to the seeds); each region is one
instance, of the class with the highest mean probability in it, scored by its mean foreground
probability.

The module speaks torchvision's detection API, so the engine trains, validates and pre-labels it
like Mask R-CNN: ``module(images, targets)`` in train mode returns a dict of losses (targets:
``boxes``, ``labels``, ``masks``); ``module(images)`` in eval mode returns per image ``boxes``
(N, 4) xyxy pixels, ``labels`` (N,), ``scores`` (N,) and ``masks`` (N, 1, H, W) uint8.
Images are (3, H, W) float in [0, 1], reduced to a standardised gray level that is inverted on
light backgrounds (bright-field, H&E), so one model sees nuclei bright on dark whatever the stain
or exposure; images whose long side exceeds ``max_side`` are processed downscaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models.unet import UNet

IGNORE = 255


@dataclass(frozen=True)
class InputSize:
    """What the engine's detection data path reads to downscale large training images
    (``min_size``/``max_size`` like torchvision's ``GeneralizedRCNNTransform``)."""

    min_size: tuple[int, ...]
    max_size: int


class InstanceUNet(nn.Module):
    """See the module docstring. ``num_classes`` includes the background."""

    def __init__(self, num_classes: int, *, base_channels: int = 8, depth: int = 4, crop_size: int = 128,
                 crops_per_image: int = 2, boundary_px: int = 2, max_side: int = 768, min_area_px: int = 8,
                 boundary_weight: float = 2.0) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"an instance model needs at least one class besides the background, got {num_classes}")
        self.num_classes = num_classes
        self.net = UNet(num_classes + 1, base_channels=base_channels, depth=depth)
        self.crop_size, self.crops_per_image = crop_size, crops_per_image
        self.boundary_px, self.max_side, self.min_area_px = boundary_px, max_side, min_area_px
        self.transform = InputSize((max_side,), max_side)
        weights = torch.ones(num_classes + 1)
        weights[-1] = boundary_weight
        self.register_buffer("class_weights", weights, persistent=False)

    # ------------------------------------------------------------------------------ shared
    @staticmethod
    def standardise(image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W): the gray level (channel mean), inverted when the
        background is light (median > 0.5: bright-field and H&E stains, so nuclei are bright as in
        fluorescence), at zero mean and unit variance, repeated on the 3 channels."""
        gray = image.mean(dim=0, keepdim=True)
        if float(gray.median()) > 0.5:
            gray = 1.0 - gray
        std = gray.std().clamp_min(1e-3)
        return ((gray - gray.mean()) / std).expand(3, -1, -1)

    def _scale(self, size_hw: tuple[int, int]) -> float:
        return min(1.0, self.max_side / max(size_hw))

    def forward(self, images: list[torch.Tensor],
                targets: list[dict[str, torch.Tensor]] | None = None) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """Losses (train mode, with targets) or predictions (eval mode); see the module docstring."""
        if self.training:
            if targets is None:
                raise ValueError("InstanceUNet needs targets in training mode")
            return self._losses(images, targets)
        return [self._predict_one(image) for image in images]

    # ---------------------------------------------------------------------------- training
    def label_map(self, masks: torch.Tensor, labels: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        """(H, W) int64 training target: 0 background, class index inside objects, ``K + 1``
        (the last channel) on each object's rim and where objects touch or overlap."""
        height, width = size_hw
        target = torch.zeros((height, width), dtype=torch.long, device=masks.device)
        if masks.numel() == 0:
            return target
        m = masks.float().unsqueeze(1)  # (N, 1, H, W)
        eroded = m
        for _ in range(self.boundary_px):
            eroded = -F.max_pool2d(-eroded, 3, stride=1, padding=1)
        rim = (m - eroded).squeeze(1) > 0.5
        grown = F.max_pool2d(m, 3, stride=1, padding=1).squeeze(1) > 0.5
        covered = m.squeeze(1) > 0.5
        for index in range(len(labels)):
            target[covered[index]] = int(labels[index])
        touching = grown.sum(dim=0) > 1  # a pixel next to two objects
        boundary = rim.any(dim=0) | (touching & covered.any(dim=0)) | (covered.sum(dim=0) > 1)
        target[boundary] = self.num_classes  # the boundary channel
        return target

    def _crop(self, image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A random ``crop_size`` square (padded with ignored pixels when smaller), rotated by a
        random multiple of 90 degrees."""
        size = self.crop_size
        height, width = target.shape
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        if pad_h or pad_w:
            image = F.pad(image, (0, pad_w, 0, pad_h))
            target = F.pad(target, (0, pad_w, 0, pad_h), value=IGNORE)
            height, width = target.shape
        top = int(torch.randint(0, height - size + 1, ()).item())
        left = int(torch.randint(0, width - size + 1, ()).item())
        image = image[:, top : top + size, left : left + size]
        target = target[top : top + size, left : left + size]
        turns = int(torch.randint(0, 4, ()).item())
        return torch.rot90(image, turns, (1, 2)), torch.rot90(target, turns, (0, 1))

    def _losses(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        batch, labels = [], []
        for image, target in zip(images, targets):
            size_hw = (int(image.shape[-2]), int(image.shape[-1]))
            masks = target.get("masks")
            if masks is None:
                raise ValueError("InstanceUNet trains on instance masks (targets need 'masks')")
            label = self.label_map(masks.to(image.device), target["labels"].to(image.device), size_hw)
            standard = self.standardise(image.float())
            for _ in range(self.crops_per_image):
                crop, crop_label = self._crop(standard, label)
                batch.append(crop)
                labels.append(crop_label)
        logits: torch.Tensor = self.net(torch.stack(batch))
        weights: torch.Tensor = self.class_weights  # type: ignore[assignment]  # a registered buffer
        loss = F.cross_entropy(logits.float(), torch.stack(labels), weight=weights, ignore_index=IGNORE)
        return {"loss_pixels": loss}

    # --------------------------------------------------------------------------- inference
    def probabilities(self, image: torch.Tensor) -> torch.Tensor:
        """(C, H, W) softmax over [background, classes, boundary] at the image's size."""
        size_hw = (int(image.shape[-2]), int(image.shape[-1]))
        x = self.standardise(image.float()).unsqueeze(0)
        scale = self._scale(size_hw)
        if scale < 1.0:
            x = F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
        logits: torch.Tensor = self.net(x).float()
        if scale < 1.0:
            logits = F.interpolate(logits, size=size_hw, mode="bilinear", align_corners=False)
        return logits.softmax(dim=1)[0]

    def _predict_one(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        probs = self.probabilities(image).detach().cpu().numpy()
        instances = split_instances(probs, min_area_px=self.min_area_px)
        device = image.device
        height, width = probs.shape[1:]
        if not instances:
            return {"boxes": torch.zeros((0, 4), device=device), "labels": torch.zeros((0,), dtype=torch.int64, device=device),
                    "scores": torch.zeros((0,), device=device),
                    "masks": torch.zeros((0, 1, height, width), dtype=torch.uint8, device=device)}
        masks = np.stack([inst.mask for inst in instances])
        return {
            "boxes": torch.tensor(np.array([inst.box_xyxy for inst in instances]), dtype=torch.float32, device=device),
            "labels": torch.tensor([inst.class_index for inst in instances], dtype=torch.int64, device=device),
            "scores": torch.tensor([inst.score for inst in instances], dtype=torch.float32, device=device),
            "masks": torch.from_numpy(masks).unsqueeze(1).to(device),
        }


@dataclass
class Instance:
    """One split instance: (H, W) uint8 mask, class index 1..K, score in [0, 1], box xyxy."""

    mask: np.ndarray
    class_index: int
    score: float
    box_xyxy: tuple[float, float, float, float]


def split_instances(probs: np.ndarray, *, min_area_px: int = 8, seed_threshold: float = 0.5,
                    foreground_threshold: float = 0.5) -> list[Instance]:
    """Instances from (C, H, W) probabilities over [background, classes 1..K, boundary]: seeds
    are connected components of the interiors (class probability sum > ``seed_threshold``),
    grown over the foreground (1 - background > ``foreground_threshold``) by :func:`grow_seeds`.
    Regions under ``min_area_px`` pixels are dropped."""
    background = probs[0]
    interior = probs[1:-1]
    foreground = (1.0 - background) > foreground_threshold
    seeds = (interior.sum(axis=0) > seed_threshold) & foreground
    count, seed_labels = cv2.connectedComponents(seeds.astype(np.uint8), connectivity=4)
    if count <= 1:
        return []
    markers = grow_seeds(seed_labels, count, foreground)
    out: list[Instance] = []
    fg_prob = 1.0 - background
    for index in range(1, count):
        region = markers == index
        area = int(region.sum())
        if area < min_area_px:
            continue
        ys, xs = np.nonzero(region)
        class_means = interior[:, region].mean(axis=1)
        class_index = int(class_means.argmax()) + 1
        score = float(fg_prob[region].mean() * min(1.0, class_means.max() / max(class_means.sum(), 1e-6)))
        box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
        out.append(Instance(region.astype(np.uint8), class_index, score, box))
    return out


def grow_seeds(seed_labels: np.ndarray, count: int, foreground: np.ndarray) -> np.ndarray:
    """(H, W) int32 instance labels: every foreground pixel joins the nearest seed (Euclidean
    distance) of its own connected foreground region, so touching objects split along the line
    between their interiors and no object reaches across the background. ``seed_labels`` holds
    seeds 1..count-1 (0 elsewhere); pixels of seedless regions and background stay 0."""
    _, nearest = cv2.distanceTransformWithLabels((seed_labels == 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                 labelType=cv2.DIST_LABEL_CCOMP)
    # The transform numbers the seed components its own way: map its labels to the seed ids.
    lut = np.zeros(int(nearest.max()) + 1, np.int32)
    lut[nearest[seed_labels > 0]] = seed_labels[seed_labels > 0]
    grown = lut[nearest]
    _, regions = cv2.connectedComponents(foreground.astype(np.uint8), connectivity=8)
    seed_region = np.zeros(count, np.int32)
    seed_region[seed_labels[seed_labels > 0]] = regions[seed_labels > 0]
    same_region = seed_region[grown] == regions
    return np.where(foreground & (grown > 0) & same_region, grown, 0).astype(np.int32)
