"""``python main.py export PROJECT --format coco|coco-panoptic|voc|cityscapes|yolo OUT``.

Options: ``--split val=0.2`` (seeded split by image, ``--seed``), ``--only-done``,
``--overwrite`` (replace a non-empty OUT), ``--copy-images`` (COCO: copy instead of
reference), ``--predictions`` (COCO: also a results file), ``--mapping`` (Cityscapes: project
class -> Cityscapes label), ``--city`` (Cityscapes), ``--yolo-task detect|segment``,
``--workers N`` (COCO: encode annotations in N processes).
A progress line goes to stderr; the summary to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

FORMATS = ("coco", "coco-panoptic", "voc", "cityscapes", "yolo",
           "label-png", "instance-png", "mask-folders", "palette-png", "rle-csv")


class ProgressLine:
    """A ``done/total`` line on a terminal (rewritten in place, at most 10 times a second)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.interactive = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.interactive = False
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.interactive or (done < total and now - self._last < 0.1):
            return
        self._last = now
        percent = 100.0 * done / total if total else 100.0
        self.stream.write(f"\r{self.label} {done}/{total} images ({percent:5.1f}%)")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """End the line (if one was drawn)."""
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()


class ExportFaultError(RuntimeError):
    """The export could not be written (disk full); main.py prints it in one line, exit 1."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export the project as a COCO, VOC, Cityscapes or YOLO data set")
    parser.add_argument("project", type=Path, help="a .segproj file")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="format_name")
    parser.add_argument("out", type=Path, help="the data set folder to write (created; must be empty unless --overwrite)")
    parser.add_argument("--split", default=None,
                        help="NAME=FRACTION[,NAME=FRACTION]: split images, e.g. val=0.2 (the rest is train)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (default 0)")
    parser.add_argument("--only-done", action="store_true", help="export only images marked done or reviewed")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it is not empty")
    parser.add_argument("--copy-images", action="store_true",
                        help="COCO: copy the images into OUT/images (default: reference them)")
    parser.add_argument("--predictions", action="store_true",
                        help="COCO: also write the newest model's predictions as a results file")
    parser.add_argument("--mapping", default=None,
                        help="Cityscapes: CLASS=LABEL[,CLASS=LABEL] or a JSON file {class: label} "
                             "mapping project classes to Cityscapes labels")
    parser.add_argument("--city", default="segstudio", help="Cityscapes: city name for images without one (no underscores)")
    parser.add_argument("--yolo-task", choices=("segment", "detect"), default="segment", help="YOLO: polygon or box labels")
    parser.add_argument("--yolo-multipart", choices=("merge", "largest"), default="merge",
                        help="YOLO: a multi-part shape as one bridged polygon (default) or its largest part")
    parser.add_argument("--workers", type=int, default=1, help="COCO: processes encoding annotations (default 1)")
    parser.set_defaults(func=run)


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """``a=b,c=d`` or a JSON file -> ``{"a": "b", "c": "d"}``."""
    from cli.errors import UsageError

    if not text:
        return None
    path = Path(text)
    if path.suffix.lower() == ".json" and not path.is_file():
        raise UsageError(f"--mapping {path}: file not found")
    if path.suffix.lower() == ".json" and path.is_file():
        from annotations.formats.readers import load_json

        data = load_json(path, what="mapping file")
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise UsageError(f"{path}: a mapping file must hold a JSON object of class name -> label name")
        return dict(data)
    mapping = {}
    for chunk in text.split(","):
        name, sep, label = chunk.partition("=")
        if not sep or not name.strip() or not label.strip():
            raise UsageError(f"bad mapping {chunk!r}: expected CLASS=LABEL")
        mapping[name.strip()] = label.strip()
    return mapping


def run(args: argparse.Namespace) -> int:
    from annotations.formats import ExportOptions, export_project, parse_split
    from annotations.formats.atomic import is_disk_full
    from annotations.formats.common import guard_target
    from annotations.store import Project
    from cli.errors import UsageError

    if not args.project.is_file():
        raise UsageError(f"{args.project}: no such project file")
    format_options: dict = {}
    if args.predictions:
        if args.format_name != "coco":
            raise UsageError("--predictions is only for --format coco")
        format_options["predictions"] = True
    if args.format_name == "cityscapes":
        format_options["mapping"] = parse_mapping(args.mapping)
        format_options["city"] = args.city
    elif args.mapping:
        raise UsageError("--mapping is only for --format cityscapes")
    if args.format_name == "yolo":
        format_options["task"] = args.yolo_task
        format_options["multipart"] = args.yolo_multipart
    progress = ProgressLine(f"exporting {args.format_name}")
    options = ExportOptions(
        split=parse_split(args.split) if args.split else {},
        seed=args.seed,
        only_done=args.only_done,
        overwrite=args.overwrite,
        copy_images=args.copy_images,
        progress=progress,
        workers=max(1, args.workers),
    )
    with Project.open(args.project, readonly=True) as project:
        if args.only_done and not any(im.status.is_finished for im in project.images()):
            raise UsageError("no finished images to export; mark images done or drop --only-done")
        # Every format: never replace a folder holding the project file, its images or its models,
        # whatever --overwrite says (checked before anything is written).
        guard_target(project, args.out)
        try:
            report = export_project(project, args.format_name, args.out, options, **format_options)
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            raise ExportFaultError(
                f"{args.out}: the disk is full ({exc.strerror}); the export was abandoned and the target folder was "
                "left as it was. Free some space and export again"
            ) from exc
        finally:
            progress.close()
    print(report.summary())
    for line in report.skipped[:20]:
        print(f"  left out: {line}")
    if len(report.skipped) > 20:
        print(f"  ... and {len(report.skipped) - 20} more")
    return 0
