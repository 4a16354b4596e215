"""Running a built model on images: one code path for CPU and CUDA (AMP, channels-last on CUDA).

Outputs are plain values ready for the store: boxes as :class:`Box`, instance masks as
compressed RLE :class:`Mask` at full image size, semantic output as a label map.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils

from annotations.geometry import Box, Mask
from engine.errors import EngineInputError
from engine.images import to_tensor
from engine.models.registry import BuiltModel, ModelSpec
from engine.protocol import Device


def resolve_device(device: Device | str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU. Asking for CUDA without it is an input error."""
    value = Device(device).value if not isinstance(device, Device) else device.value
    if value == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if value == "cuda" and not torch.cuda.is_available():
        raise EngineInputError("--device cuda was asked for, but no CUDA device is available (use auto or cpu)")
    return torch.device(value)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA (fp16 where bf16 is missing); nothing on CPU."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def prepare_for_inference(built: BuiltModel, device: torch.device) -> None:
    """Move to ``device``, eval mode; channels-last for semantic nets on CUDA."""
    built.module.to(device)
    if device.type == "cuda" and not built.spec.output.is_detection:
        built.module.to(memory_format=torch.channels_last)
    built.module.eval()


@dataclass
class Detection:
    """One object: class index (1..K), score, box and, for instance models, its mask."""

    class_index: int
    score: float
    box: Box
    mask: Mask | None = None


@dataclass
class ImagePrediction:
    """Model output for one image of size ``size_hw`` (height, width).

    ``label_map``: semantic models, (H, W) class indices (0 = background);
    ``class_scores``: semantic models, mean winning probability per predicted class index;
    ``uncertain_fraction``: semantic models, share of pixels whose two most likely classes are
    within ``UNCERTAIN_MARGIN`` of each other (the low-confidence area);
    ``foreground_probability``: binary semantic models (background + one class), the (H, W)
    float32 probability of the class, for the saliency measures of validation.
    """

    size_hw: tuple[int, int]
    detections: list[Detection] = field(default_factory=list)
    label_map: np.ndarray | None = None
    class_scores: dict[int, float] = field(default_factory=dict)
    uncertain_fraction: float | None = None
    foreground_probability: np.ndarray | None = None


UNCERTAIN_MARGIN = 0.25


def encode_masks(masks_nhw: np.ndarray) -> list[Mask]:
    """Dense (N, H, W) binary masks -> N compressed RLE masks (one pycocotools call)."""
    if len(masks_nhw) == 0:
        return []
    height, width = masks_nhw.shape[1:]
    encoded = mask_utils.encode(np.asfortranarray(masks_nhw.transpose(1, 2, 0).astype(np.uint8, copy=False)))
    return [Mask((height, width), e["counts"]) for e in encoded]


def normalize(spec: ModelSpec, batch: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> normalised with the spec's mean and std."""
    mean = torch.tensor(spec.image_mean, device=batch.device, dtype=batch.dtype).view(1, 3, 1, 1)
    std = torch.tensor(spec.image_std, device=batch.device, dtype=batch.dtype).view(1, 3, 1, 1)
    return (batch - mean) / std


def semantic_logits(built: BuiltModel, batch: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> logits (B, C, H, W) at the input size."""
    out = built.module(normalize(built.spec, batch))
    if isinstance(out, dict):
        out = out["out"]
    logits: torch.Tensor = out
    if logits.shape[-2:] != batch.shape[-2:]:
        logits = F.interpolate(logits, size=batch.shape[-2:], mode="bilinear", align_corners=False)
    return logits


def _same_size_groups(images: Sequence[np.ndarray]) -> Iterator[list[int]]:
    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault(image.shape[:2], []).append(i)
    yield from groups.values()


@torch.inference_mode()
def predict(
    built: BuiltModel,
    images: Sequence[np.ndarray],
    device: torch.device,
    *,
    score_threshold: float = 0.5,
    amp: bool = True,
    mask_threshold: float = 0.5,
) -> list[ImagePrediction]:
    """Predict a batch of (H, W, 3) uint8 RGB images (sizes may differ).

    Detections below ``score_threshold`` are dropped; instance masks are binarised at
    ``mask_threshold`` and encoded to RLE; empty masks are dropped.
    """
    if built.spec.output.is_detection:
        return _predict_detection(built, images, device, score_threshold, amp, mask_threshold)
    return _predict_semantic(built, images, device, amp)


def _predict_detection(built: BuiltModel, images: Sequence[np.ndarray], device: torch.device, score_threshold: float,
                       amp: bool, mask_threshold: float) -> list[ImagePrediction]:
    pin = device.type == "cuda"
    tensors = []
    for image in images:
        t = to_tensor(image)
        tensors.append((t.pin_memory() if pin else t).to(device, non_blocking=True))
    with autocast(device, amp):
        if device.type == "cuda":
            outputs = built.module(tensors)
        else:  # on CPU a padded batch only costs: one image at a time
            outputs = [out for t in tensors for out in built.module([t])]
    results = []
    for image, out in zip(images, outputs):
        size_hw = (int(image.shape[0]), int(image.shape[1]))
        keep = out["scores"] >= score_threshold
        boxes = out["boxes"][keep].float().cpu().numpy()
        labels = out["labels"][keep].cpu().numpy()
        scores = out["scores"][keep].float().cpu().numpy()
        masks: list[Mask | None] = [None] * len(boxes)
        if "masks" in out and built.spec.output.has_masks:
            dense = (out["masks"][keep, 0] >= mask_threshold).to(torch.uint8).cpu().numpy()
            masks = list(encode_masks(dense)) if len(dense) else []
        detections = []
        for box, label, score, mask in zip(boxes, labels, scores, masks):
            if mask is not None and mask_utils.area(mask.rle) == 0:
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            if x2 <= x1 or y2 <= y1:
                continue
            detections.append(Detection(int(label), float(score), Box(x1, y1, x2, y2), mask))
        results.append(ImagePrediction(size_hw, detections))
    return results


def _predict_semantic(built: BuiltModel, images: Sequence[np.ndarray], device: torch.device,
                      amp: bool) -> list[ImagePrediction]:
    results: list[ImagePrediction | None] = [None] * len(images)
    for group in _same_size_groups(images):
        height, width = images[group[0]].shape[:2]
        batch = torch.stack([to_tensor(images[i]) for i in group])
        if device.type == "cuda":
            batch = batch.pin_memory().to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        scale = min(1.0, built.spec.max_side / max(height, width))
        if scale < 1.0:
            batch = F.interpolate(batch, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)
        with autocast(device, amp):
            logits = semantic_logits(built, batch)
        logits = logits.float()
        if scale < 1.0:
            logits = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)
        probs = logits.softmax(dim=1)
        best, label_map = probs.max(dim=1)
        top2 = probs.topk(2, dim=1).values if probs.shape[1] > 1 else None
        uncertain = ((top2[:, 0] - top2[:, 1]) < UNCERTAIN_MARGIN).float().mean(dim=(1, 2)) if top2 is not None else None
        for j, i in enumerate(group):
            labels_np = label_map[j].to(torch.uint8 if built.num_classes < 256 else torch.int32).cpu().numpy()
            scores: dict[int, float] = {}
            for c in torch.unique(label_map[j]).tolist():
                if c == 0:
                    continue
                scores[int(c)] = float(best[j][label_map[j] == c].mean())
            foreground = probs[j, 1].cpu().numpy() if probs.shape[1] == 2 else None
            results[i] = ImagePrediction((int(height), int(width)), [], labels_np, scores,
                                         float(uncertain[j]) if uncertain is not None else None, foreground)
    return [r for r in results if r is not None]


def semantic_masks(prediction: ImagePrediction) -> dict[int, Mask]:
    """Per predicted class index (background excluded): its RLE mask."""
    if prediction.label_map is None:
        return {}
    present = [c for c in np.unique(prediction.label_map).tolist() if c != 0]
    if not present:
        return {}
    stack = np.stack([prediction.label_map == c for c in present])
    return dict(zip(present, encode_masks(stack)))
