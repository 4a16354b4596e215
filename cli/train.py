"""``python main.py train PROJECT [--model NAME] [--epochs N] [--device ...]``: retrain on the
finished images on the engine worker (progress bar on stderr); the new version is promoted only
if its validation metric beats the version it would replace."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from annotations.store import Project
from cli.errors import UsageError
from engine.loss_choice import LossKind
from engine.protocol import Device, Progress, Train


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` parser."""
    parser = subparsers.add_parser("train", help="train a model on the finished images (engine worker)")
    parser.add_argument("project", type=Path, help="a project file (*.segproj)")
    parser.add_argument("--model", default="",
                        help="a registry name or a version id to continue from; default: the architecture "
                             "of the current promoted version (U-Net for stuff-only projects, Mask R-CNN otherwise)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", choices=[d.value for d in Device], default="auto")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of finished images held out")
    parser.add_argument("--iterations-per-epoch", type=int, default=0, help="0: one pass (at least the recipe's minimum)")
    parser.add_argument("--lr", type=float, default=0.0, help="learning rate (0: the architecture's default)")
    parser.add_argument("--loss", choices=[k.value for k in LossKind], default="auto",
                        help="training loss of semantic models and of the instance U-Net's maps "
                             "(engine.loss_choice.LossKind); auto: cross-entropy, or median-frequency weighted "
                             "cross-entropy when class pixel counts differ 10x or more; the instance U-Net keeps its "
                             "own weights under auto (the result says what was used and why)")
    parser.add_argument("--weights", type=Path, default=None,
                        help="start from this weight file (loaded with weights_only=True) instead of torchvision's cache")
    parser.add_argument("--no-reprelabel", action="store_true", help="do not re-predict unfinished images after promotion")
    parser.add_argument("--if-due", type=int, default=0, metavar="N",
                        help="train only when N images were finished since the newest version (the retrain policy)")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON to this file")
    parser.add_argument("--in-process", action="store_true", help="run in this process, without the worker (debugging)")
    parser.set_defaults(func=run)


def due(project_path: Path, model: str, every: int) -> tuple[bool, str]:
    """The retrain policy's decision for ``--if-due``."""
    from engine.policy import RetrainPolicy, retrain_state

    with Project.open(project_path, readonly=True) as project:
        state = retrain_state(project, model if model and not model.isdigit() else "")
    decision = RetrainPolicy(every_n_finished=every, min_finished=2, cooldown_s=0).decide(state, time.monotonic())
    return decision.retrain, decision.reason


def run(args: argparse.Namespace) -> int:
    """Run the job; print the outcome on stdout."""
    from engine.console import ProgressBar, run_with_progress

    Project.open(args.project, readonly=True).close()  # missing/corrupt project: exit 2 before the worker starts
    if args.weights is not None and not args.weights.is_file():
        raise UsageError(f"--weights: {args.weights} is not a file")
    if args.if_due:
        go, reason = due(args.project, args.model, args.if_due)
        if not go:
            print(f"not due: {reason}")
            return 0
    request = Train(
        str(args.project.absolute()), model=args.model, epochs=args.epochs, device=Device(args.device),
        batch_size=args.batch_size, seed=args.seed, val_fraction=args.val_fraction,
        weights_file=str(args.weights.absolute()) if args.weights else "", reprelabel=not args.no_reprelabel,
        iterations_per_epoch=args.iterations_per_epoch, learning_rate=args.lr, loss=args.loss,
    )

    def epoch_line(event: Progress, bar: ProgressBar) -> None:
        if "epoch" in event.metrics:
            bar.note("  " + ", ".join(f"{k} {_fmt(v)}" for k, v in event.metrics.items()))

    if args.in_process:
        from engine.jobs.train import run_train

        bar = ProgressBar(label="train ")

        def progress(done: int, total: int, message: str = "", metrics: dict | None = None) -> None:
            if metrics:
                epoch_line(Progress("", done, total, message, metrics), bar)
            bar.update(done, total, message)

        try:
            result = run_train(request, progress)
        finally:
            bar.close()
    else:
        result = run_with_progress(request, label="train ", on_progress=epoch_line)
    key = result.primary_metric
    reason = result.metrics.get("promotion_reason", "")
    verdict = ("promoted" if result.promoted else "not promoted") + (f" ({reason})" if reason else "")
    print(f"model version {result.model_version_id}: {key} {_fmt(result.metrics.get(key))} vs "
          f"{_fmt(result.baseline_metrics.get(key))} before training; {verdict}; {result.seconds:.1f} s")
    if result.loss:
        print(f"loss: {result.loss}")
    if result.prelabel is not None:
        print(f"re-predicted {len(result.prelabel.image_ids)} unfinished images "
              f"({result.prelabel.prediction_count} predictions)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "model_version_id": result.model_version_id, "promoted": result.promoted, "primary_metric": key,
            "metrics": _class_names_in(result.metrics, args.project), "baseline_metrics": result.baseline_metrics,
            "history": list(result.history),
            "seconds": result.seconds, "weights_path": result.weights_path, "loss": result.loss,
        }, indent=2))
    return 0


def _class_names_in(metrics: dict[str, Any], project_path: Path) -> dict[str, Any]:
    """``metrics`` with ``iou_per_class`` keyed by class name (the engine keys it by category id,
    as a string; ``background`` stays); ids that are no longer in the project keep their id."""
    per_class = metrics.get("iou_per_class")
    if not isinstance(per_class, dict):
        return metrics
    with Project.open(project_path, readonly=True) as project:
        names = {str(category.id): category.name for category in project.categories()}
    return {**metrics, "iou_per_class": {names.get(key, key): value for key, value in per_class.items()}}


def _fmt(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
