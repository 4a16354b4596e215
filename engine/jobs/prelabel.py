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
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from annotations.errors import NotFoundError
from annotations.model import Image, ImageStatus, ModelVersion, Prediction
from annotations.store import Project
from annotations.store.prelabel_log import record_prelabelled
from engine.catalog import OutputKind
from engine.errors import EngineInputError
from engine.images import read_rgb
from engine.inference import ImagePrediction, predict, prepare_for_inference, resolve_device, semantic_masks
from engine.jobs.context import IsCancelled, ProgressFn, check_cancelled, never_cancelled, no_progress
from engine.priority import CANDIDATE_SCORE, detection_priority, semantic_priority, write_priorities
from engine.protocol import Prelabel, PrelabelResult
from engine.versions import known_classes, load_version, resolve_version


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
        if not 0 < det.class_index <= len(class_ids):
            continue
        category = class_ids[det.class_index - 1]
        if category not in known_categories:
            continue
        geometry = det.mask if (output is OutputKind.INSTANCE_MASKS and det.mask is not None) else det.box
        out.append(Prediction(0, image_id, category, geometry, det.score, version_id))
    return out


def proposable_categories(project: Project, version: ModelVersion) -> set[int]:
    """Category ids the version may propose: every existing category of its classes once it was
    trained; before training (pretrained COCO/VOC weights) only the categories its weights know
    by name (the other class rows are untrained and would propose noise)."""
    existing = {c.id: c.name for c in project.categories()}
    if version.trained_on.get("image_ids") or not str(version.trained_on.get("init", "")).startswith("torchvision:"):
        return set(existing)
    names = known_classes(version.architecture, [existing[c] for c in version.classes if c in existing])
    return {cid for cid, name in existing.items() if name in names and cid in version.classes}


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


def image_priority(prediction: ImagePrediction) -> float:
    """The review priority of one image's prediction (see :mod:`engine.priority`)."""
    if prediction.label_map is not None:
        return semantic_priority(prediction.uncertain_fraction or 0.0)
    return detection_priority(d.score for d in prediction.detections)


def keep_above(prediction: ImagePrediction, score_threshold: float) -> ImagePrediction:
    """``prediction`` without the detections scoring below ``score_threshold``."""
    if prediction.label_map is not None:
        return prediction
    return replace(prediction, detections=[d for d in prediction.detections if d.score >= score_threshold])


def store_batch(project: Project, batch: Sequence[tuple[Image, list[Prediction]]],
                priorities: dict[int, float] | None = None, model_version_id: int | None = None) -> int:
    """One transaction: supersede, add, mark prelabeled, record the review priorities
    (:mod:`engine.priority`) and, with ``model_version_id``, that the version saw these images
    (an image it left empty still counts in a review: its objects are misses); images finished
    meanwhile are left alone. Returns the number of predictions stored."""
    stored = 0
    with project.transaction():
        current = [(image, preds) for image, preds in batch if not project.get_image_status(image.id).is_finished]
        if priorities:
            current_ids = {image.id for image, _ in current}
            write_priorities(project, {i: p for i, p in priorities.items() if i in current_ids},
                             [image.id for image, _ in batch if image.id not in current_ids])
        project.supersede_predictions([image.id for image, _ in current])
        stored = len(project.add_predictions([p for _, preds in current for p in preds]))
        for image, _ in current:
            if project.get_image_status(image.id) is ImageStatus.NEW:
                project.put_image_status(image.id, ImageStatus.PRELABELED)
        if model_version_id is not None:
            record_prelabelled(project, model_version_id, [image.id for image, _ in current])
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
        version = resolve_version(project, request.model, allow_untrained=request.allow_untrained)
        images, skipped = select_images(project, request.image_ids)
        known = proposable_categories(project, version)
        built = load_version(project.path, version, device)
        prepare_for_inference(built, device)
        total = len(images)
        progress(0, total, f"pre-labeling {total} images with {version.architecture} (version {version.id})")
        batches = [images[i : i + request.batch_size] for i in range(0, total, request.batch_size)]
        done, count = 0, 0
        predicted: list[int] = []
        failed: list[tuple[int, str]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prelabel-read") as pool:
            upcoming: Future[list[np.ndarray | str]] | None = (
                pool.submit(read_batch, project, batches[0]) if batches else None)
            for index, batch in enumerate(batches):
                check_cancelled(is_cancelled)
                assert upcoming is not None  # submitted before the loop and for every batch but the last
                read = upcoming.result()
                upcoming = pool.submit(read_batch, project, batches[index + 1]) if index + 1 < len(batches) else None
                readable = [(image, pixels) for image, pixels in zip(batch, read) if not isinstance(pixels, str)]
                failed += [(image.id, reason) for image, reason in zip(batch, read) if isinstance(reason, str)]
                if readable:
                    # Candidates below the storing threshold still count for the review priority.
                    outputs = predict(built, [p for _, p in readable], device,
                                      score_threshold=min(request.score_threshold, CANDIDATE_SCORE))
                    priorities = {image.id: image_priority(out) for (image, _), out in zip(readable, outputs)}
                    rows = [
                        (image, to_predictions(keep_above(out, request.score_threshold), image.id, version.classes,
                                               version.id, built.spec.output, known))
                        for (image, _), out in zip(readable, outputs)
                    ]
                    count += store_batch(project, rows, priorities, model_version_id=version.id)
                    predicted += [image.id for image, _ in readable]
                done += len(batch)
                progress(done, total, f"image {batch[-1].id}")
    if images and not predicted:
        raise EngineInputError(f"no image could be read ({len(failed)} failed): "
                               + "; ".join(reason for _, reason in failed[:5]))
    return PrelabelResult(version.id, tuple(predicted), count, time.perf_counter() - started,
                          tuple(skipped), tuple(failed))


def read_batch(project: Project, batch: Sequence[Image]) -> list[np.ndarray | str]:
    """Per image of ``batch``: its (H, W, 3) uint8 RGB pixels, or the reason (a message naming
    the image id and file) it cannot be read: missing, undecodable, or not the recorded size."""
    out: list[np.ndarray | str] = []
    for image in batch:
        try:
            out.append(read_rgb(project.image_path(image), size_hw=image.size_hw, image_id=image.id))
        except EngineInputError as exc:
            out.append(str(exc))
    return out
