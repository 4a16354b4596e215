"""``python main.py review``: IoU-based review reports.

    main.py review PROJECT [--against PROJECT2 | --gt COCO_JSON [--predictions]] [--json OUT] [--html OUT]
    main.py review --gt COCO_JSON --dt RESULTS_JSON [--iou-type bbox|segm] [--json OUT] [--html OUT]

PROJECT alone compares the model's pre-labels with the final annotations (model vs final);
``--against`` compares two annotators' projects; ``--gt`` compares the project's annotations (or,
with ``--predictions``, its model's pre-labels) with a COCO file, pairing images by file name.
``--iou-type auto`` follows the ground truth (masks when it has masks). ``--max-dets`` sets COCO's
detections-per-image cap (100; a warning says when it cut results). ``--area-rule`` picks how a
segm result is put in the small/medium/large bucket: ``mask`` (its pixel count, as Detectron2;
default) or ``bbox`` (its box's w*h, as plain pycocotools on a results file that has a bbox).
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
                        help="compare boxes or masks (auto: follows the ground truth: boxes when no reference "
                             "shape has a mask or polygon)")
    parser.add_argument("--predictions", action="store_true",
                        help="with PROJECT --gt: score the project's pre-labels (--model-version, default the newest)")
    parser.add_argument("--max-dets", type=int, default=100,
                        help="COCO detections-per-image cap for AP (default 100; warned when it truncates)")
    parser.add_argument("--area-rule", choices=["mask", "bbox"], default="mask",
                        help="size bucket (APs/APm/APl) of a segm result: mask area (default, Detectron2) or bbox w*h "
                             "(plain pycocotools when results carry a bbox)")
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
    if args.max_dets < 1:
        raise UsageError(f"--max-dets must be >= 1, got {args.max_dets}")
    if args.predictions and (args.project is None or args.gt is None):
        raise UsageError("--predictions needs PROJECT and --gt COCO_JSON")
    common = {"boundary": not args.no_boundary, "backend": args.evaluator, "semantic": not args.no_semantic,
              "max_dets": args.max_dets, "area_rule": args.area_rule}
    if args.project is None:
        if args.gt is None or args.dt is None:
            raise UsageError("give a PROJECT, or --gt COCO_JSON with --dt RESULTS_JSON")
        if args.against is not None:
            raise UsageError("--against needs a PROJECT")
        gt = _load_json(args.gt, "COCO ground truth")
        dt = _load_json(args.dt, "COCO results")
        if isinstance(dt, dict) and "annotations" in dt:
            dt = dt["annotations"]
        if not isinstance(gt, dict):
            raise UsageError(f"{args.gt}: not a COCO instances file")
        iou_type = review_mod.coco_file_iou_type(args.iou_type, gt).value
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
                                                    predictions=args.predictions,
                                                    model_version_id=args.model_version, **common)
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
    stuff_only = bool(s.get("stuff_only"))
    if stuff_only:  # no object classes: AP and object matching do not apply, the pixel measures below do
        print(f"  images={s['images']} (stuff-only classes: pixel measures, no AP)")
    else:
        print("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in report.coco.items()))
        print(f"  images={s['images']} gt={s['gt']} pred={s['pred']} tp={s['tp']} fp={s['fp']} fn={s['fn']} "
              f"label_mismatches={s['label_mismatches']} precision={_fmt(s['precision'])} recall={_fmt(s['recall'])} "
              f"f1={_fmt(s['f1'])} mean_iou={_fmt(s['mean_iou'])} boundary_iou={_fmt(s['mean_boundary_iou'])}")
    for line in list(s.get("warnings") or []) + list(s.get("notes") or []):
        print(f"  warning: {line}" if line in (s.get("warnings") or []) else f"  note: {line}")
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
    if report.saliency:  # binary reviews: foreground/background measures (annotations.metrics.saliency_review)
        sal = report.saliency
        measures = ("s_measure", "e_measure", "weighted_fbeta", "fbeta", "mae", "precision", "recall")
        print(f"  {sal['foreground']} vs background: " + " ".join(f"{k}={_fmt(sal[k])}" for k in measures))
    if report.model_outcomes:
        t = report.model_outcomes["totals"]
        outcomes = ("accepted_unchanged", "edited", "rejected", "still_proposed", "superseded", "missed")
        print("  predictions: " + " ".join(f"{k}={t[k]}" for k in outcomes))
    for row in report.worst_images(worst):
        if row.fp + row.fn == 0:
            break
        print(f"  worst: image {row.image_id} {row.path}: f1={_fmt(row.f1)} fp={row.fp} fn={row.fn} "
              f"mismatches={row.label_mismatches}")
