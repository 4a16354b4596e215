"""The train job: retrain on the finished images and promote the result only if it validates
better than what it would replace.

1. Read a frozen snapshot of the finished images' annotations (its revision is recorded).
2. Split by image (seeded); build the model: from a user-chosen weight file when given, else warm
   start from the current promoted version of the architecture, else from pretrained weights on
   disk, else from scratch.
3. Validate that starting point: the baseline.
4. Train ``epochs`` epochs with augmentations; validate and checkpoint after each epoch (the
   best epoch's checkpoint becomes the version's weight file, renamed into place).
5. Add the ModelVersion row last (metrics, baseline, lineage, promoted or not); a cancel or a
   failure before that leaves no row and no weight file.
6. After a promotion, re-predict the unfinished images with the new version.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from annotations.model import ModelVersion
from annotations.store import Project
from engine import checkpoints
from engine.data import ImageCache, Snapshot, split_by_image, take_snapshot
from engine.errors import EngineInputError
from engine.evaluation import epoch_rank, evaluate, primary_metric, promotion_decision
from engine.inference import resolve_device
from engine.jobs.context import IsCancelled, ProgressFn, check_cancelled, never_cancelled, no_progress
from engine.losses import PixelCriterionModel, training_criterion
from engine.models.registry import BuiltModel, build_model, class_labels, default_architecture, get_spec, rebuild
from engine.protocol import Prelabel, Train, TrainResult
from engine.training import (
    InputChoosingModel,
    Stepper,
    TrainingData,
    batch_indices,
    iterations_per_epoch,
    make_optimizer,
    make_schedule,
    seed_everything,
)
from engine.versions import new_weights_path, project_classes


def _check_request(request: Train) -> None:
    if request.epochs < 1:
        raise EngineInputError(f"epochs must be >= 1, got {request.epochs}")
    if request.batch_size < 1:
        raise EngineInputError(f"batch size must be >= 1, got {request.batch_size}")
    if not 0.0 < request.val_fraction < 1.0:
        raise EngineInputError(f"validation fraction must be in (0, 1), got {request.val_fraction}")
    if request.iterations_per_epoch < 0 or request.learning_rate < 0:
        raise EngineInputError("iterations per epoch and learning rate must not be negative")


def _choose(project: Project, model: str) -> tuple[str, ModelVersion | None]:
    """(architecture, parent version to warm-start from)."""
    model = model.strip()
    if model.isdigit():
        version = project.get_model_version(int(model))
        return version.architecture, version
    if model:
        spec = get_spec(model)
        return spec.name, project.current_model_version(spec.name)
    current = project.current_model_version()
    if current is not None:
        return current.architecture, current
    return default_architecture(project.categories()), None


def _build(architecture: str, names: list[str], class_ids: tuple[int, ...], parent: ModelVersion | None,
           project_path: Path, weights_file: str) -> BuiltModel:
    """A user-chosen weight file wins; else the parent version; else pretrained or scratch."""
    if weights_file:
        return build_model(architecture, names, weights_file=weights_file)
    if parent is not None and parent.weights_path:
        parent_path = checkpoints.resolve(project_path, parent.weights_path)
        if not parent_path.is_file():
            raise EngineInputError(
                f"model version {parent.id} ({parent.architecture}), which training would continue from, has lost "
                f"its weight file {parent_path}; start from a weight file (--weights FILE) or another version "
                "(--model VERSION_ID)"
            )
        saved = checkpoints.read_model(parent_path)
        built = rebuild(architecture, class_labels(names), adapted=saved.adapted, options=saved.build_options)
        built.report = checkpoints.warm_start(built, class_ids, parent_path)
        return built
    return build_model(architecture, names, weights_file=weights_file or None)


def run_train(request: Train, progress: ProgressFn = no_progress,
              is_cancelled: IsCancelled = never_cancelled) -> TrainResult:
    """Train, validate, maybe promote (see the module docstring)."""
    started = time.perf_counter()
    _check_request(request)
    device = resolve_device(request.device)
    project_path = Path(request.project_path).absolute()
    with Project.open(project_path, readonly=True) as project:
        class_ids, names = project_classes(project)
        try:
            architecture, parent = _choose(project, request.model)
        except Exception as exc:  # NotFoundError for a version id
            if isinstance(exc, EngineInputError):
                raise
            raise EngineInputError(str(exc)) from exc
        snapshot: Snapshot = take_snapshot(project)
    spec = get_spec(architecture)
    if request.weights_file:
        parent = None  # an explicit starting point: the new version descends from the file, not a version
    if not any(item.shapes for item in snapshot.images):
        raise EngineInputError(f"{project_path}: no annotations on finished images; finish some images first")
    train_ids, val_ids = split_by_image(snapshot.image_ids, request.val_fraction, request.seed)
    by_id = {item.image.id: item for item in snapshot.images}
    train_items, val_items = [by_id[i] for i in train_ids], [by_id[i] for i in val_ids]

    seed_everything(request.seed)
    built = _build(architecture, names, class_ids, parent, project_path, request.weights_file)
    cache = ImageCache()
    input_choice = ""  # from scratch only: a warm start keeps the choice saved with its weights
    if parent is None and not request.weights_file and isinstance(built.module, InputChoosingModel):
        input_choice = built.module.choose_input([cache.get(item) for item in train_items])
    built.module.to(device)
    key = primary_metric(spec.output)
    progress(0, 1, f"validating the starting point ({built.report.source})")
    baseline = evaluate(built, val_items, class_ids, cache, device, batch_size=request.batch_size,
                        is_cancelled=is_cancelled)

    class_index = {cid: i + 1 for i, cid in enumerate(class_ids)}
    data = TrainingData(train_items, built, class_index, cache, spec.recipe)
    per_epoch = iterations_per_epoch(len(data), request.batch_size, spec.recipe, request.iterations_per_epoch)
    total = per_epoch * request.epochs
    optimizer = make_optimizer(built, spec.recipe, request.learning_rate)
    # engine.losses: the loss and why; instance models with dense targets (computed here once, as training would)
    # get theirs from those maps' pixel frequencies and take it as their pixel_criterion.
    criterion, loss_used = training_criterion(request.loss, spec.output.is_detection, train_items, class_index,
                                              built.class_labels, dense_label_maps=data.dense_label_maps())
    if isinstance(built.module, PixelCriterionModel):
        built.module.pixel_criterion, criterion = criterion, None
    stepper = Stepper(built, optimizer, make_schedule(optimizer, spec.recipe.warmup_iterations, total), device,
                      criterion=criterion)

    run_dir = checkpoints.models_dir(project_path) / "runs" / request.job_id
    final_path: Path | None = None
    history: list[dict[str, Any]] = []
    best: tuple[int, dict[str, Any], Path, tuple[float, float, float]] | None = None
    try:
        done = 0
        for epoch in range(1, request.epochs + 1):
            built.module.train()
            losses = []
            for indices in batch_indices(len(data), request.batch_size, per_epoch, request.seed, epoch):
                check_cancelled(is_cancelled)
                loss, _ = stepper.step([data.sample(i) for i in indices])
                losses.append(loss)
                done += 1
                progress(done, total, f"epoch {epoch}/{request.epochs} loss {loss:.4f}")
            val = evaluate(built, val_items, class_ids, cache, device, batch_size=request.batch_size,
                           is_cancelled=is_cancelled)
            epoch_loss = sum(losses) / len(losses)
            record = {"epoch": epoch, "loss": epoch_loss, "val": val}
            history.append(record)
            path = run_dir / f"epoch-{epoch:03d}.pt"
            checkpoints.save_model(built, class_ids, path)
            rank = epoch_rank(val, key, epoch_loss)
            if best is None or rank > best[3]:  # keep the best epoch's weights, not the first or the last
                if best is not None:
                    best[2].unlink(missing_ok=True)
                best = (epoch, val, path, rank)
            else:
                path.unlink(missing_ok=True)
            progress(done, total, f"epoch {epoch}/{request.epochs}: {key} {_metric_text(val.get(key))}",
                     {"epoch": epoch, "loss": record["loss"], key: val.get(key), "baseline": baseline.get(key)})
        check_cancelled(is_cancelled)
        assert best is not None
        best_epoch, best_metrics, best_path, _ = best
        decision = promotion_decision(best_metrics, baseline, key)
        promoted = decision.promoted
        final_path = new_weights_path(project_path, architecture, f"r{snapshot.revision}")
        os.replace(best_path, final_path)
        metrics = {**best_metrics, "primary": key, "epoch": best_epoch, "baseline": baseline,
                   "promotion_reason": decision.reason}
        trained_on = {
            "image_ids": sorted(snapshot.image_ids), "train_image_ids": train_ids, "val_image_ids": val_ids,
            "revision": snapshot.revision, "init": built.report.source, "seed": request.seed,
            "epochs": request.epochs, "iterations": total, "loss": loss_used,
            **({"input": input_choice} if input_choice else {}),
        }
        with Project.open(project_path) as project:
            version = project.add_model_version(ModelVersion(
                0, architecture, class_ids, trained_on, metrics,
                checkpoints.relative_to_project(project_path, final_path),
                parent_id=parent.id if parent else None, promoted=promoted,
            ))
        final_path = None  # the row owns the file now
    finally:
        checkpoints.remove_tree(run_dir)
        if final_path is not None:
            final_path.unlink(missing_ok=True)

    result = TrainResult(
        version.id, promoted, {**best_metrics, "promotion_reason": decision.reason}, baseline, request.epochs, tuple(history),
        time.perf_counter() - started, version.weights_path, key, loss=loss_used,
    )
    if promoted and request.reprelabel:
        from engine.jobs.prelabel import run_prelabel

        relabel = run_prelabel(
            Prelabel(str(project_path), model=str(version.id), device=request.device,
                     batch_size=max(request.batch_size, 1)),
            lambda d, t, m="", x=None: progress(d, t, f"re-predicting unfinished images: {m}", x),
            is_cancelled,
        )
        result = replace(result, prelabel=relabel, seconds=time.perf_counter() - started)
    return result


def _metric_text(value: object) -> str:
    """A metric for a progress message: 3 decimals (``0.434``), or as it is when not a number."""
    return f"{value:.3f}" if isinstance(value, float) else str(value)
