"""The segment job: an interactive prompt (box and/or clicks) on one image -> one mask (RLE).

``SAM``: a SAM-family model (:mod:`engine.sam`) answers from the image's cached embedding (only
the decoder runs per click); its other candidates come back as ``alternatives``. ``GRABCUT``:
GrabCut alone. ``MODEL``: the project's current promoted mask model (instance or semantic)
predicts on the prompt's crop; its foreground becomes GrabCut's starting guess, which the clicks
and the image colours refine. ``AUTO``: SAM when its weight file is present (fetched, or named in
the request), else MODEL when such a version exists and its weights load, else GRABCUT.

A ``prepare_only`` request computes the SAM embedding of the image (and then of
``prefetch_image_ids``) so the first click on it answers at decoder speed. It is interruptible
inside an embedding (between encoder layers): cancelling it lets the next request run at once.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import torch

from annotations.errors import NotFoundError
from annotations.geometry import Box, box_iou, rle
from annotations.model import Image, ModelVersion
from annotations.store import Project
from engine.catalog import OutputKind
from engine.errors import EngineInputError, ModelWeightsError
from engine.images import read_rgb, to_tensor
from engine.inference import predict, prepare_for_inference, resolve_device, semantic_logits
from engine.interactive import Point, Roi, check_prompt, grabcut_mask, prompt_roi
from engine.jobs.context import IsCancelled, ProgressFn, check_cancelled, never_cancelled, no_progress
from engine.models.registry import BuiltModel, get_spec
from engine.protocol import Device, Segment, SegmentMethod, SegmentResult
from engine.versions import load_version

log = logging.getLogger(__name__)

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
        probs_small = semantic_logits(built, batch).float().softmax(1)
        probs: np.ndarray = torch.nn.functional.interpolate(probs_small, size=(height, width), mode="bilinear")[0].cpu().numpy()
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
        chosen: np.ndarray = probs[1 + int(np.argmax(scores))]
        return chosen
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


def sam_available(request: Segment) -> bool:
    """Whether SAM can answer: the model's runtime package (``sam2`` or ``efficientsam``) is
    installed and the weight file is there."""
    from engine.models.weight_files import is_cached
    from engine.sam.catalog import DEFAULT_MODEL, find_model

    spec = find_model(request.sam_model or DEFAULT_MODEL)
    if request.sam_weights_file:
        present = Path(request.sam_weights_file).is_file()
    else:
        present = is_cached(spec.weight_file)
    return present and importlib.util.find_spec(spec.family.package) is not None


def _image_key(project_path: Path, image: Image, path: Path) -> str:
    """Identifies the image's pixels: the project, the id, and the file's size and mtime."""
    stat = path.stat() if path.is_file() else None
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}" if stat is not None else "missing"
    return f"{project_path}#{image.id}#{stamp}"


def _run_sam(request: Segment, project_path: Path, image: Image, path: Path, started: float,
             progress: ProgressFn, is_cancelled: IsCancelled) -> SegmentResult:
    from engine.sam.lane import LANE

    predictor = LANE.predictor(request.sam_model, request.sam_weights_file)
    key = _image_key(project_path, image, path)
    rgb = LANE.rgb(key, lambda: read_rgb(path, size_hw=image.size_hw, image_id=image.id))
    if request.prepare_only:
        seconds = LANE.prepare(predictor, key, rgb, is_cancelled)
        targets = _prefetch_targets(request)
        progress(1, 1 + len(targets), f"embedding ready: image {image.id}")
        for done, (other, other_path) in enumerate(targets, start=2):
            check_cancelled(is_cancelled)
            other_key = _image_key(project_path, other, other_path)
            other_rgb = LANE.rgb(other_key, partial(read_rgb, other_path, size_hw=other.size_hw, image_id=other.id))
            LANE.prepare(predictor, other_key, other_rgb, is_cancelled)
            progress(done, 1 + len(targets), f"embedding ready: image {other.id}")
        return SegmentResult(image.size_hw, b"", SegmentMethod.SAM, (time.perf_counter() - started) * 1000.0,
                             embedding_ms=seconds * 1000.0, model=predictor.name)
    positive = tuple((float(x), float(y)) for x, y in request.positive_points)
    negative = tuple((float(x), float(y)) for x, y in request.negative_points)
    answer = LANE.segment(predictor, key, rgb, request.box_xyxy, positive, negative, refine=request.refine)
    encoded = [rle.encode(answer.full_mask(i)) for i in range(len(answer.scores))]
    progress(1, 1, "mask ready")
    return SegmentResult(encoded[0].size, encoded[0].counts, SegmentMethod.SAM, (time.perf_counter() - started) * 1000.0,
                         alternatives=tuple(e.counts for e in encoded[1:]), scores=tuple(float(v) for v in answer.scores),
                         embedding_ms=answer.embedding_seconds * 1000.0, model=predictor.name)


def _prefetch_targets(request: Segment) -> list[tuple[Image, Path]]:
    """The prefetch images that exist (unknown ids are skipped: prefetching is a courtesy)."""
    out = []
    with Project.open(request.project_path, readonly=True) as project:
        for image_id in request.prefetch_image_ids:
            try:
                other = project.get_image(image_id)
            except NotFoundError:
                continue
            out.append((other, project.image_path(other)))
    return out


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
        project_path = project.path
    if request.method in (SegmentMethod.SAM, SegmentMethod.AUTO):
        if not request.prepare_only:
            check_prompt(image.size_hw, request.box_xyxy, request.positive_points, request.negative_points)
        if sam_available(request):
            try:
                return _run_sam(request, project_path, image, path, started, progress, is_cancelled)
            except ModelWeightsError:
                if request.method is SegmentMethod.SAM:
                    raise
                log.warning("SAM weights do not load; answering with GrabCut", exc_info=True)
        elif request.method is SegmentMethod.SAM:
            from engine.sam.catalog import DEFAULT_MODEL, find_model

            spec = find_model(request.sam_model or DEFAULT_MODEL)
            if importlib.util.find_spec(spec.family.package) is None:
                raise EngineInputError(f"{spec.title} needs the '{spec.family.package}' package: "
                                       f"{spec.family.install_hint}; or use --method grabcut")
            raise EngineInputError(f"no SAM weights for {spec.name}: run `main.py weights fetch {spec.name}` "
                                   "(or pick a weight file), or use --method grabcut")
    if request.prepare_only:  # nothing to prepare without SAM
        return SegmentResult(image.size_hw, b"", SegmentMethod.GRABCUT, (time.perf_counter() - started) * 1000.0)
    with Project.open(request.project_path, readonly=True) as project:
        version = None
        if request.method is not SegmentMethod.GRABCUT:
            version = mask_model_version(project)
            if version is None and request.method is SegmentMethod.MODEL:
                raise EngineInputError("no trained mask model in this project yet; use GrabCut or train one")
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
