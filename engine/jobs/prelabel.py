"""The pre-label job: predict shapes for unfinished images and store them as predictions.

Per batch: read images (the next batch is decoded in a background thread while the model runs),
predict, convert (instance masks -> RLE, semantic output -> one mask per present class), then in
one transaction per batch supersede the images' older proposed predictions, add the new ones and
move ``new`` images to ``prelabeled``. Finished images are never touched, even when they are
finished while the job runs. An image whose file is missing or unreadable is skipped and
reported in :attr:`PrelabelResult.failed_images` (the run goes on); the job fails only when no
image at all can be read.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Sequence

import numpy as np

from annotations.errors import NotFoundError
from annotations.model import Image, ImageStatus, Prediction
from annotations.store import Project
from engine.errors import EngineInputError
from engine.images import read_rgb
from engine.inference import ImagePrediction, predict, prepare_for_inference, resolve_device, semantic_masks
from engine.jobs.context import IsCancelled, ProgressFn, check_cancelled, never_cancelled, no_progress
from engine.models.registry import OutputKind
from engine.protocol import Prelabel, PrelabelResult
from engine.versions import load_version, resolve_version


def to_predictions(pred: ImagePrediction, image_id: int, class_ids: Sequence[int], version_id: int,
                   output: OutputKind, known_categories: set[int]) -> list[Prediction]:
    """Store-ready predictions of one image (classes whose category was deleted are dropped)."""
    out: list[Prediction] = []
    if output is OutputKind.SEMANTIC_MASKS:
        for index, mask in semantic_masks(pred).items():
            category = class_ids[index - 1]
            if category in known_categories:
                out.append(Prediction(0, image_id, category, mask, pred.class_scores.get(index, 1.0), version_id))
        return out
    for det in pred.detections:
        category = class_ids[det.class_index - 1] if 0 < det.class_index <= len(class_ids) else None
        if category not in known_categories:
            continue
        geometry = det.mask if (output is OutputKind.INSTANCE_MASKS and det.mask is not None) else det.box
        out.append(Prediction(0, image_id, category, geometry, det.score, version_id))
    return out


def select_images(project: Project, image_ids: Sequence[int]) -> tuple[list[Image], list[int]]:
    """(images to pre-label, finished image ids skipped). Empty ``image_ids``: every unfinished
    image. An id named twice counts once (first occurrence)."""
    if not image_ids:
        return [i for i in project.images() if not i.status.is_finished], []
    chosen, skipped = [], []
    for image_id in dict.fromkeys(int(i) for i in image_ids):
        try:
            image = project.get_image(int(image_id))
        except NotFoundError as exc:
            raise EngineInputError(str(exc)) from exc
        if image.status.is_finished:
            skipped.append(image.id)
        else:
            chosen.append(image)
    return chosen, skipped


def store_batch(project: Project, batch: Sequence[tuple[Image, list[Prediction]]]) -> int:
    """One transaction: supersede, add, mark prelabeled; images finished meanwhile are left
    alone. Returns the number of predictions stored."""
    stored = 0
    with project.transaction():
        current = [(image, preds) for image, preds in batch if not project.get_image_status(image.id).is_finished]
        project.supersede_predictions([image.id for image, _ in current])
        stored = len(project.add_predictions([p for _, preds in current for p in preds]))
        for image, _ in current:
            if project.get_image_status(image.id) is ImageStatus.NEW:
                project.put_image_status(image.id, ImageStatus.PRELABELED)
    return stored


def run_prelabel(request: Prelabel, progress: ProgressFn = no_progress,
                 is_cancelled: IsCancelled = never_cancelled) -> PrelabelResult:
    """Pre-label the request's images (see the module docstring); returns counts and timing."""
    started = time.perf_counter()
    if request.batch_size < 1:
        raise EngineInputError(f"batch size must be >= 1, got {request.batch_size}")
    if not 0.0 <= request.score_threshold <= 1.0:
        raise EngineInputError(f"score threshold must be in [0, 1], got {request.score_threshold}")
    device = resolve_device(request.device)
    with Project.open(request.project_path) as project:
        version = resolve_version(project, request.model)
        images, skipped = select_images(project, request.image_ids)
        known = {c.id for c in project.categories()}
        built = load_version(project.path, version, device)
        prepare_for_inference(built, device)
        total = len(images)
        progress(0, total, f"pre-labeling {total} images with {version.architecture} (version {version.id})")
        batches = [images[i : i + request.batch_size] for i in range(0, total, request.batch_size)]
        done, count = 0, 0
        predicted: list[int] = []
        failed: list[tuple[int, str]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prelabel-read") as pool:
            upcoming: Future | None = pool.submit(read_batch, project, batches[0]) if batches else None
            for index, batch in enumerate(batches):
                check_cancelled(is_cancelled)
                read = upcoming.result()  # type: ignore[union-attr]
                upcoming = pool.submit(read_batch, project, batches[index + 1]) if index + 1 < len(batches) else None
                readable = [(image, pixels) for image, pixels in zip(batch, read) if not isinstance(pixels, str)]
                failed += [(image.id, reason) for image, reason in zip(batch, read) if isinstance(reason, str)]
                if readable:
                    outputs = predict(built, [p for _, p in readable], device, score_threshold=request.score_threshold)
                    rows = [
                        (image, to_predictions(out, image.id, version.classes, version.id, built.spec.output, known))
                        for (image, _), out in zip(readable, outputs)
                    ]
                    count += store_batch(project, rows)
                    predicted += [image.id for image, _ in readable]
                done += len(batch)
                progress(done, total, f"image {batch[-1].id}")
    if images and not predicted:
        raise EngineInputError(f"no image could be read ({len(failed)} failed): "
                               + "; ".join(reason for _, reason in failed[:5]))
    return PrelabelResult(version.id, tuple(predicted), count, time.perf_counter() - started,
                          tuple(skipped), tuple(failed))


def read_batch(project: Project, batch: Sequence[Image]) -> list["np.ndarray | str"]:
    """Per image of ``batch``: its (H, W, 3) uint8 RGB pixels, or the reason (a message naming
    the image id and file) it cannot be read: missing, undecodable, or not the recorded size."""
    out: list[np.ndarray | str] = []
    for image in batch:
        try:
            out.append(read_rgb(project.image_path(image), size_hw=image.size_hw, image_id=image.id))
        except EngineInputError as exc:
            out.append(str(exc))
    return out
