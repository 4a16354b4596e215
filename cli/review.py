"""``python main.py review``: IoU-based review reports.

    main.py review PROJECT [--against PROJECT2 | --gt COCO_JSON] [--json OUT] [--html OUT]
    main.py review --gt COCO_JSON --dt RESULTS_JSON [--iou-type bbox|segm] [--json OUT] [--html OUT]

PROJECT alone compares the model's pre-labels with the final annotations (model vs final);
``--against`` compares two annotators' projects; ``--gt`` compares the project with a COCO file.
Prints a summary (COCO stats, precision / recall / F1, pixel accuracy / mIoU, the worst images);
``--no-semantic`` skips the pixel-level part. ``--json`` writes the
versioned report (schema in annotations/metrics/report_json.py), ``--html`` a self-contained page.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from cli.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("review", help="IoU review: model vs final, project vs project, vs COCO ground truth",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", nargs="?", type=Path, default=None, help="a .segproj file")
    parser.add_argument("--against", type=Path, default=None, help="a second project (annotator B) over the same images")
    parser.add_argument("--gt", type=Path, default=None, help="COCO instances JSON taken as ground truth")
    parser.add_argument("--dt", type=Path, default=None, help="COCO results JSON (with --gt and no PROJECT)")
    parser.add_argument("--iou-type", choices=["auto", "bbox", "segm"], default="auto",
                        help="compare boxes or masks (auto: boxes if every shape is a box; segm for --dt)")
    parser.add_argument("--iou-threshold", type=float, default=0.5, help="IoU for a match (default 0.5)")
    parser.add_argument("--model-version", type=int, default=None, help="model vs final: the version to evaluate")
    parser.add_argument("--no-boundary", action="store_true", help="skip boundary IoU (faster)")
    parser.add_argument("--no-semantic", action="store_true",
                        help="skip the pixel-level section (label maps, mIoU, pixel accuracy; faster)")
    parser.add_argument("--evaluator", choices=["auto", "pycocotools", "faster_coco_eval"], default="auto",
                        help="COCO mAP evaluator (identical numbers; auto = the fastest installed)")
    parser.add_argument("--json", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--html", type=Path, default=None, help="write the HTML report here")
    parser.add_argument("--worst", type=int, default=10, help="how many worst images to print")
    parser.set_defaults(func=run)


def _load_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: {what} is not valid JSON: {exc}") from exc


def _open_project(path: Path):
    from annotations.store import Project

    if not path.exists():
        raise UsageError(f"{path}: no such project file")
    return Project.open(path, readonly=True)


def run(args: argparse.Namespace) -> int:
    from annotations.metrics import review as review_mod
    from annotations.metrics.review_core import review_coco

    if not 0.0 <= args.iou_threshold <= 1.0:
        raise UsageError(f"--iou-threshold must be in [0, 1], got {args.iou_threshold}")
    common = dict(boundary=not args.no_boundary, backend=args.evaluator, semantic=not args.no_semantic)
    if args.project is None:
        if args.gt is None or args.dt is None:
            raise UsageError("give a PROJECT, or --gt COCO_JSON with --dt RESULTS_JSON")
        if args.against is not None:
            raise UsageError("--against needs a PROJECT")
        gt = _load_json(args.gt, "COCO ground truth")
        dt = _load_json(args.dt, "COCO results")
        if isinstance(dt, dict) and "annotations" in dt:
            dt = dt["annotations"]
        iou_type = "segm" if args.iou_type == "auto" else args.iou_type
        if isinstance(gt, dict) and not all(isinstance(i, dict) and i.get("height") and i.get("width")
                                            for i in gt.get("images") or []):
            common["semantic"] = False  # label maps need every image's size (a bbox-only file may lack it)
        report = review_coco(gt, dt, iou_type, args.iou_threshold, reference=str(args.gt), compared=str(args.dt),
                             **common)
    else:
        if args.dt is not None:
            raise UsageError("--dt is for plain files: main.py review --gt GT.json --dt RESULTS.json")
        if args.against is not None and args.gt is not None:
            raise UsageError("use either --against PROJECT2 or --gt COCO_JSON, not both")
        project = _open_project(args.project)
        try:
            if args.against is not None:
                other = _open_project(args.against)
                try:
                    report = review_mod.project_vs_project(project, other, args.iou_threshold,
                                                           iou_type=args.iou_type, **common)
                finally:
                    other.close()
            elif args.gt is not None:
                if not args.gt.exists():
                    raise UsageError(f"{args.gt}: no such COCO file")
                report = review_mod.project_vs_coco(project, args.gt, args.iou_threshold, iou_type=args.iou_type,
                                                    **common)
            else:
                report = review_mod.model_vs_final(project, args.model_version, args.iou_threshold,
                                                   iou_type=args.iou_type, **common)
        finally:
            project.close()
    _print_summary(report, args.worst)
    if args.json is not None:
        from annotations.metrics.report_json import write_json

        write_json(report, args.json)
        print(f"JSON report: {args.json}")
    if args.html is not None:
        from annotations.metrics.report_html import write_html

        write_html(report, args.html)
        print(f"HTML report: {args.html}")
    return 0


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "  n/a"
    return f"{value:.3f}"


def _print_summary(report, worst: int) -> None:
    s = report.summary
    print(f"{report.kind}: {report.compared} vs {report.reference} ({report.iou_type}, IoU >= {report.iou_threshold})")
    print("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in report.coco.items()))
    print(f"  images={s['images']} gt={s['gt']} pred={s['pred']} tp={s['tp']} fp={s['fp']} fn={s['fn']} "
          f"label_mismatches={s['label_mismatches']} precision={_fmt(s['precision'])} recall={_fmt(s['recall'])} "
          f"f1={_fmt(s['f1'])} mean_iou={_fmt(s['mean_iou'])} boundary_iou={_fmt(s['mean_boundary_iou'])}")
    unpaired = s.get("unmatched_images") or {}
    if unpaired.get("reference_only") or unpaired.get("compared_only"):
        print(f"  unpaired images: {unpaired.get('reference_only', 0)} only in the reference, "
              f"{unpaired.get('compared_only', 0)} only in the compared project (not evaluated)")
    if report.semantic:
        sem = report.semantic
        print(f"  pixels: pixel_accuracy={_fmt(sem['pixel_accuracy'])} miou={_fmt(sem['miou'])} "
              f"miou_foreground={_fmt(sem['miou_foreground'])} mean_class_accuracy={_fmt(sem['mean_class_accuracy'])} "
              f"fw_iou={_fmt(sem['fw_iou'])} mean_dice={_fmt(sem['mean_dice'])}")
        shown = [c for c in sem["per_class"] if c["gt_pixels"] or c["pred_pixels"]]
        print("  pixel IoU per class: " + " ".join(f"{c['class']}={_fmt(c['iou'])}" for c in shown))
    if report.model_outcomes:
        t = report.model_outcomes["totals"]
        print("  predictions: " + " ".join(f"{k}={t[k]}" for k in
                                           ("accepted_unchanged", "edited", "rejected", "still_proposed", "superseded", "missed")))
    for row in report.worst_images(worst):
        if row.fp + row.fn == 0:
            break
        print(f"  worst: image {row.image_id} {row.path}: f1={_fmt(row.f1)} fp={row.fp} fn={row.fn} "
              f"mismatches={row.label_mismatches}")
