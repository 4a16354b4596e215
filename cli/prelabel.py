"""``python main.py prelabel PROJECT [--model NAME|VERSION] [--device auto|cpu|cuda] [--images ...]``:
predict shapes for the unfinished images on the engine worker, with a progress bar on stderr."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from annotations.store import Project
from cli.errors import UsageError
from engine.protocol import Device, Prelabel


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``prelabel`` parser."""
    parser = subparsers.add_parser("prelabel", help="pre-label unfinished images with a model (engine worker)")
    parser.add_argument("project", type=Path, help="a project file (*.segproj)")
    parser.add_argument("--model", default="",
                        help="a registry name (e.g. maskrcnn_resnet50_fpn, unet) or a model version id; "
                             "default: the project's current promoted version")
    parser.add_argument("--device", choices=[d.value for d in Device], default="auto")
    parser.add_argument("--images", nargs="+", default=[], metavar="ID",
                        help="image ids (space or comma separated); default: every unfinished image")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="drop detections below this score")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--allow-untrained", action="store_true",
                        help="testing only: store the output of a network that was never trained (noise)")
    parser.add_argument("--in-process", action="store_true", help="run in this process, without the worker (debugging)")
    parser.set_defaults(func=run)


def parse_ids(values: list[str]) -> tuple[int, ...]:
    """``["1,2", "5"]`` -> (1, 2, 5); :class:`UsageError` on anything else."""
    ids: list[int] = []
    for value in values:
        for part in value.replace(",", " ").split():
            if not part.isdigit() or int(part) < 1:
                raise UsageError(f"--images: {part!r} is not an image id (a positive integer)")
            ids.append(int(part))
    return tuple(ids)


def check_project(path: Path) -> None:
    """Fail fast (exit 2) on a missing or unreadable project, before starting the worker."""
    Project.open(path, readonly=True).close()


def run(args: argparse.Namespace) -> int:
    """Run the job; print a summary on stdout."""
    from engine.console import run_with_progress

    check_project(args.project)
    request = Prelabel(str(args.project.absolute()), model=args.model, image_ids=parse_ids(args.images),
                       device=Device(args.device), score_threshold=args.score_threshold, batch_size=args.batch_size,
                       allow_untrained=args.allow_untrained)
    if args.in_process:
        from engine.console import ProgressBar
        from engine.jobs.prelabel import run_prelabel

        bar = ProgressBar(label="prelabel ")
        try:
            result = run_prelabel(request, lambda d, t, m="", x=None: bar.update(d, t, m))
        finally:
            bar.close()
    else:
        result = run_with_progress(request, label="prelabel ")
    for line in summary_lines(result):
        print(line)
    return 0


def summary_lines(result: Any) -> list[str]:
    """What ``prelabel`` prints for a PrelabelResult: the totals, the finished images skipped,
    and one line per image that failed (``failed_images``: (image id, reason) pairs, when the
    engine reports them)."""
    lines = [(f"pre-labeled {len(result.image_ids)} images with model version {result.model_version_id}: "
              f"{result.prediction_count} predictions in {result.seconds:.1f} s")]
    skipped = getattr(result, "skipped_image_ids", ())
    if skipped:
        lines.append(f"skipped finished images: {', '.join(map(str, skipped))}")
    failed = tuple(getattr(result, "failed_images", ()) or ())
    if failed:
        lines.append(f"{len(failed)} image(s) failed (left without predictions):")
        lines += [f"  image {image_id}: {reason}" for image_id, reason in failed]
    return lines
