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
``boxes``, ``labels``, ``masks``, or instead ``label_map``: the (H, W) target of :meth:`InstanceUNet.label_map`,
which the engine computes once per training image); ``module(images)`` in eval mode returns per image ``boxes``
(N, 4) xyxy pixels, ``labels`` (N,), ``scores`` (N,) and ``masks`` (N, 1, H, W) uint8.
Images are (3, H, W) float in [0, 1]. The input representation is recorded in the weights (the
``colour_input`` buffer) and chosen from the training images when training starts from scratch
(:meth:`InstanceUNet.choose_input`): gray when they carry no colour (microscopy: a standardised
gray level, inverted on light backgrounds such as bright-field and H&E, so one model sees nuclei
bright on dark whatever the stain or exposure), colour when most of them do (natural photos: the
colour cue is learnable). Images whose long side exceeds ``max_side`` are processed downscaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.models.unet import UNet

if TYPE_CHECKING:
    from engine.losses import SemanticCriterion

IGNORE = 255
COLOURFUL_SATURATION = 0.1
"""A training image is colourful when its mean HSV saturation ((max - min) / max of R, G, B) is at
least this: gray microscopy scores 0.00, stained H&E 0.19-0.59, the balloon photos 0.17-0.76."""


BOUNDARY_WEIGHT = 2.0
"""The boundary map's weight in the model's own cross-entropy (the other maps weigh 1)."""


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
                 boundary_weight: float = BOUNDARY_WEIGHT, zoom_range: tuple[float, float] = (1.0, 1.0),
                 seed_threshold: float = 0.5, foreground_threshold: float = 0.5) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"an instance model needs at least one class besides the background, got {num_classes}")
        self.num_classes = num_classes
        self.net = UNet(num_classes + 1, base_channels=base_channels, depth=depth)
        self.crop_size, self.crops_per_image = crop_size, crops_per_image
        self.boundary_px, self.max_side, self.min_area_px = boundary_px, max_side, min_area_px
        self.zoom_range = zoom_range
        self.seed_threshold, self.foreground_threshold = seed_threshold, foreground_threshold
        self.transform = InputSize((max_side,), max_side)
        weights = torch.ones(num_classes + 1)
        weights[-1] = boundary_weight
        self.register_buffer("class_weights", weights, persistent=False)
        # The engine's pixel loss (engine.losses.instance_map_criterion, set by the train job); None: the
        # cross-entropy weighted by class_weights above. Not saved with the weights.
        self.pixel_criterion: SemanticCriterion | None = None
        # Saved with the weights: files from before the choice existed load as gray (the default).
        self.register_buffer("colour_input", torch.tensor(False))

    # ------------------------------------------------------------------------------ shared
    def build_options(self) -> dict[str, int]:
        """The constructor arguments that shape the weights (the U-Net's width)."""
        return self.net.build_options()

    @property
    def colour(self) -> bool:
        """Whether the network sees colour (True) or the standardised gray level (False)."""
        return bool(self.colour_input)

    def choose_input(self, rgb_images: Sequence[np.ndarray]) -> str:
        """Set the input representation from (H, W, 3) uint8 training images: colour when at
        least half of them are colourful (:data:`COLOURFUL_SATURATION`), else gray. Returns the
        choice and why, in words (recorded with the version)."""
        colourful = sum(mean_saturation(rgb) >= COLOURFUL_SATURATION for rgb in rgb_images)
        colour = len(rgb_images) > 0 and 2 * colourful >= len(rgb_images)
        flag: torch.Tensor = self.colour_input  # type: ignore[assignment]  # a registered buffer
        flag.fill_(colour)
        kind = "colour" if colour else "gray"
        return (f"{kind} input: {colourful} of {len(rgb_images)} training images are colourful "
                f"(mean saturation >= {COLOURFUL_SATURATION})")

    def standardise(self, image: torch.Tensor) -> torch.Tensor:
        """(3, H, W) in [0, 1] -> (3, H, W) network input. Colour: each channel minus its mean,
        over the image's standard deviation (colour balance kept). Gray: the gray level (channel
        mean), inverted when the background is light (median > 0.5: bright-field and H&E stains,
        so nuclei are bright as in fluorescence), at zero mean and unit variance, repeated on the
        3 channels."""
        if self.colour:
            centred = image - image.mean(dim=(1, 2), keepdim=True)
            return centred / centred.std().clamp_min(1e-3)
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
        """(H, W) int64 training target from (N, H, W) instance masks and their (N,) class
        indices: 0 background, class index inside objects, ``K + 1`` (the last channel) on each
        object's rim (``boundary_px`` wide; the image border counts as inside) and where objects
        touch or overlap. Each mask is processed inside its bounding box (plus a margin), so
        hundreds of small objects on a large image cost little; the engine computes it once per
        training image (see ``engine.training.TrainingData``)."""
        height, width = size_hw
        target = torch.zeros((height, width), dtype=torch.long, device=masks.device)
        if masks.numel() == 0:
            return target
        covered_count = torch.zeros((height, width), dtype=torch.int16, device=masks.device)
        grown_count = torch.zeros((height, width), dtype=torch.int16, device=masks.device)
        rim_any = torch.zeros((height, width), dtype=torch.bool, device=masks.device)
        margin = self.boundary_px + 2
        for index in range(len(labels)):
            mask = masks[index] > 0
            rows, cols = torch.nonzero(mask.any(dim=1)), torch.nonzero(mask.any(dim=0))
            if len(rows) == 0:
                continue
            top, bottom = max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height)
            left, right = max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width)
            local = mask[top:bottom, left:right]
            m = local.float()[None, None]
            eroded = m
            for _ in range(self.boundary_px):
                eroded = -F.max_pool2d(-eroded, 3, stride=1, padding=1)
            window = (slice(top, bottom), slice(left, right))
            rim_any[window] |= (m - eroded)[0, 0] > 0.5
            grown_count[window] += (F.max_pool2d(m, 3, stride=1, padding=1)[0, 0] > 0.5).to(torch.int16)
            covered_count[window] += local.to(torch.int16)
            target[window][local] = int(labels[index])
        covered = covered_count > 0
        touching = grown_count > 1  # a pixel next to two objects
        boundary = rim_any | (touching & covered) | (covered_count > 1)
        target[boundary] = self.num_classes  # the boundary channel
        return target

    def _crop(self, image: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A random ``crop_size`` square (padded with ignored pixels when smaller), rotated by a
        random multiple of 90 degrees. With a ``zoom_range`` other than (1, 1) the square is cut
        at a random zoom (log-uniform in the range; > 1 enlarges the objects) and resized to
        ``crop_size`` (bilinear image, nearest target), so object sizes vary between draws."""
        low, high = self.zoom_range
        zoom = 1.0 if low == high == 1.0 else float(torch.empty(()).uniform_(np.log(low), np.log(high)).exp())
        size = max(8, int(round(self.crop_size / zoom)))
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
        if size != self.crop_size:
            out = (self.crop_size, self.crop_size)
            image = F.interpolate(image[None], size=out, mode="bilinear", align_corners=False)[0]
            target = F.interpolate(target[None, None].float(), size=out, mode="nearest")[0, 0].long()
        turns = int(torch.randint(0, 4, ()).item())
        return torch.rot90(image, turns, (1, 2)), torch.rot90(target, turns, (0, 1))

    def _losses(self, images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        batch, labels = [], []
        for image, target in zip(images, targets):
            size_hw = (int(image.shape[-2]), int(image.shape[-1]))
            label = target.get("label_map")  # precomputed by the engine: (H, W) from label_map()
            if label is None:
                masks = target.get("masks")
                if masks is None:
                    raise ValueError("InstanceUNet trains on instance masks (targets need 'masks' or 'label_map')")
                label = self.label_map(masks.to(image.device), target["labels"].to(image.device), size_hw)
            label = label.to(image.device, torch.long)
            standard = self.standardise(image.float())
            for _ in range(self.crops_per_image):
                crop, crop_label = self._crop(standard, label)
                batch.append(crop)
                labels.append(crop_label)
        logits: torch.Tensor = self.net(torch.stack(batch))
        if self.pixel_criterion is not None:
            return {"loss_pixels": self.pixel_criterion(logits.float(), torch.stack(labels))[0]}
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
        instances = split_instances(probs, min_area_px=self.min_area_px, seed_threshold=self.seed_threshold,
                                    foreground_threshold=self.foreground_threshold)
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


def mean_saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation in [0, 1] of an (H, W, 3) uint8 image (every 4th pixel each way)."""
    small = rgb[::4, ::4, :3].astype(np.float32)
    high, low = small.max(axis=2), small.min(axis=2)
    return float(np.mean((high - low) / np.maximum(high, 1.0)))


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
