"""The segment job: an interactive prompt (box and/or clicks) on one image -> one mask (RLE).

``GRABCUT``: GrabCut alone. ``MODEL``: the project's current promoted mask model (instance or
semantic) predicts on the prompt's crop; its foreground becomes GrabCut's starting guess, which
the clicks and the image colours refine. ``AUTO``: MODEL when such a version exists and its
weights load, else GRABCUT.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from annotations.errors import NotFoundError
from annotations.geometry import Box, box_iou, rle
from annotations.model import ModelVersion
from annotations.store import Project
from engine.errors import EngineInputError
from engine.images import read_rgb, to_tensor
from engine.inference import predict, prepare_for_inference, resolve_device, semantic_logits
from engine.interactive import Point, Roi, check_prompt, grabcut_mask, prompt_roi
from engine.jobs.context import IsCancelled, ProgressFn, check_cancelled, never_cancelled, no_progress
from engine.models.registry import BuiltModel, OutputKind, get_spec
from engine.protocol import Device, Segment, SegmentMethod, SegmentResult
from engine.versions import load_version

MODEL_CONTEXT = 0.5  # the model sees the prompt's box grown by this share of its size
MODEL_MAX_SIDE = 512


def mask_model_version(project: Project) -> ModelVersion | None:
    """The newest promoted version whose architecture outputs masks, or None."""
    for version in reversed(project.model_versions()):
        if version.promoted:
            try:
                if get_spec(version.architecture).output.has_masks:
                    return version
            except EngineInputError:
                continue
    return None


@torch.inference_mode()
def model_prior(built: BuiltModel, rgb: np.ndarray, roi: Roi, box_xyxy: Sequence[float] | None,
                positive: Sequence[Point], device: torch.device) -> np.ndarray | None:
    """Foreground probability over ``roi`` (crop pixels) for the object the prompt points at,
    or None when the model sees nothing there."""
    prepare_for_inference(built, device)
    crop = np.ascontiguousarray(rgb[roi.y1 : roi.y2, roi.x1 : roi.x2])
    height, width = crop.shape[:2]
    local_points = [(x - roi.x1, y - roi.y1) for x, y in positive]
    local_box = None if box_xyxy is None else Box(box_xyxy[0] - roi.x1, box_xyxy[1] - roi.y1,
                                                 box_xyxy[2] - roi.x1, box_xyxy[3] - roi.y1)
    if built.spec.output is OutputKind.SEMANTIC_MASKS:
        scale = min(1.0, MODEL_MAX_SIDE / max(height, width))
        batch = to_tensor(crop)[None].to(device)
        if scale < 1:
            batch = torch.nn.functional.interpolate(batch, scale_factor=scale, mode="bilinear", antialias=True)
        probs = semantic_logits(built, batch).float().softmax(1)
        probs = torch.nn.functional.interpolate(probs, size=(height, width), mode="bilinear")[0].cpu().numpy()
        region = np.zeros((height, width), bool)
        if local_box is not None:
            region[int(max(local_box.y1, 0)) : int(np.ceil(local_box.y2)),
                   int(max(local_box.x1, 0)) : int(np.ceil(local_box.x2))] = True
        for x, y in local_points:
            region[min(int(y), height - 1), min(int(x), width - 1)] = True
        if not region.any():
            return None
        scores = [probs[c][region].mean() for c in range(1, probs.shape[0])]
        if not scores:
            return None
        return probs[1 + int(np.argmax(scores))]
    out = predict(built, [crop], device, score_threshold=0.05)[0]
    best, best_score = None, 0.0
    for det in out.detections:
        if det.mask is None:
            continue
        dense = rle.decode(det.mask)
        score = det.score
        if local_box is not None:
            score *= box_iou(det.box, local_box)
        if local_points:
            hits = sum(bool(dense[min(int(y), height - 1), min(int(x), width - 1)]) for x, y in local_points)
            score *= (1 + hits) / (1 + len(local_points))
        if score > best_score:
            best, best_score = dense, score
    return None if best is None else best.astype(np.float32)


def run_segment(request: Segment, progress: ProgressFn = no_progress,
                is_cancelled: IsCancelled = never_cancelled) -> SegmentResult:
    """Answer one interactive prompt (see the module docstring)."""
    started = time.perf_counter()
    with Project.open(request.project_path, readonly=True) as project:
        try:
            image = project.get_image(request.image_id)
        except NotFoundError as exc:
            raise EngineInputError(str(exc)) from exc
        path = project.image_path(image)
        version = None
        if request.method is not SegmentMethod.GRABCUT:
            version = mask_model_version(project)
            if version is None and request.method is SegmentMethod.MODEL:
                raise EngineInputError("no trained mask model in this project yet; use GrabCut or train one")
        project_path = project.path
    positive = tuple((float(x), float(y)) for x, y in request.positive_points)
    negative = tuple((float(x), float(y)) for x, y in request.negative_points)
    check_prompt(image.size_hw, request.box_xyxy, positive, negative)
    rgb = read_rgb(path, size_hw=image.size_hw, image_id=image.id)
    check_cancelled(is_cancelled)
    prior, roi, method = None, None, SegmentMethod.GRABCUT
    if version is not None:
        device = resolve_device(Device.AUTO)
        try:
            built = load_version(project_path, version, device)
        except EngineInputError:  # a missing or unreadable weight file
            if request.method is SegmentMethod.MODEL:
                raise
            version = None  # AUTO: the interactive tool keeps working with GrabCut
    if version is not None:
        roi = prompt_roi(image.size_hw, request.box_xyxy, positive, margin=MODEL_CONTEXT)
        prior = model_prior(built, rgb, roi, request.box_xyxy, positive, device)
        if prior is not None:
            method = SegmentMethod.MODEL
        elif request.method is SegmentMethod.MODEL:
            raise EngineInputError(f"model version {version.id} finds no object at this prompt")
        else:
            roi = None
    mask = grabcut_mask(rgb, box_xyxy=request.box_xyxy, positive=positive, negative=negative, prior=prior, roi=roi)
    encoded = rle.encode(mask)
    progress(1, 1, "mask ready")
    return SegmentResult(encoded.size, encoded.counts, method, (time.perf_counter() - started) * 1000.0)
