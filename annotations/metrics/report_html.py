"""A self-contained HTML review report: one file, plots embedded as base64 PNG (matplotlib, Agg).

Sections: summary and COCO stats, the worst images first, per-class table, PR curves per class,
the confusion matrix (with "unmatched"), the IoU histogram and, for model vs final, what became
of the predictions per class and per model version. A binary review (one class, or a class and
background) adds the foreground/background (saliency) measures; a stuff-only review (every class
``is_thing=False``) leads with the pixel measures and leaves out the instance measures (COCO AP,
instance matching, PR curves, confusion, IoU histogram), which do not apply to stuff.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from annotations.metrics.report import ReviewReport
from annotations.metrics.saliency_review import detection_measures_apply

MAX_IMAGE_ROWS = 200
MAX_PR_CLASSES = 12


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _pr_plot(report: ReviewReport) -> str:
    plt = _pyplot()
    recall = report.pr_curves["recall"]
    curves = [c for c in report.pr_curves["curves"] if c["iou"] == 0.5]
    # the classes with most ground truth, plus the mean
    by_gt = sorted(report.per_class, key=lambda r: -r.gt)
    keep = {r.category_id for r in by_gt[:MAX_PR_CLASSES] if r.gt > 0}
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for c in curves:
        if c["category_id"] is None:
            ax.plot(recall, [math.nan if v is None else v for v in c["precision"]], "k-", lw=2.5, label="mean")
        elif c["category_id"] in keep:
            ax.plot(recall, [math.nan if v is None else v for v in c["precision"]], lw=1.2, label=c["name"])
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision-recall at IoU 0.50 (COCO interpolation)")
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    ax.grid(alpha=0.3)
    return _png(fig)


def _confusion_plot(report: ReviewReport) -> str:
    import numpy as np

    plt = _pyplot()
    matrix = np.asarray(report.confusion.matrix, dtype=float)
    names = list(report.confusion.names) + ["unmatched"]
    used = (matrix.sum(axis=0) + matrix.sum(axis=1)) > 0
    used[-1] = True
    matrix = matrix[np.ix_(used, used)]
    names = [n for n, u in zip(names, used) if u]
    n = len(names)
    size = min(12.0, 2.5 + 0.35 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    ax.set_xticks(range(n), names, rotation=90, fontsize=7)
    ax.set_yticks(range(n), names, fontsize=7)
    ax.set_xlabel("prediction")
    ax.set_ylabel("ground truth")
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=6,
                            color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_title("Confusion (instances; last row/column: unmatched)")
    return _png(fig)


def _histogram_plot(report: ReviewReport) -> str:
    plt = _pyplot()
    hist = report.iou_histogram
    edges = hist["bin_edges"]
    centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
    width = edges[1] - edges[0]
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.bar(centers, hist["best_per_gt"], width=width * 0.9, color="#cccccc", label="best IoU of each GT shape")
    ax.bar(centers, hist["matched"], width=width * 0.6, color="#1f77b4", label="matched pairs")
    ax.axvline(report.iou_threshold, color="red", lw=1, ls="--", label=f"threshold {report.iou_threshold}")
    ax.set_xlabel("IoU")
    ax.set_ylabel("count")
    ax.legend(fontsize=8)
    ax.set_title("IoU histogram")
    return _png(fig)


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.bad{background:#fde8e8}.plots img{max-width:100%;margin:6px 12px 6px 0;vertical-align:top}
.kv span{display:inline-block;margin:2px 14px 2px 0}
"""


def _semantic_section(sem: dict[str, Any]) -> str:
    """Pixel accuracy / mIoU and a per-class IoU table (classes present on either side)."""
    keys = [("pixel accuracy", "pixel_accuracy"), ("mIoU", "miou"), ("mIoU without background", "miou_foreground"),
            ("mean class accuracy", "mean_class_accuracy"), ("frequency-weighted IoU", "fw_iou"),
            ("mean Dice", "mean_dice")]
    head = ("<h2>Pixels (semantic)</h2><p>Shapes painted into one label map per side and image (back to front); "
            f"{sem.get('images', 0)} images; crowd regions of the reference are left out.</p>")
    kv = "<div class='kv'>" + "".join(f"<span><b>{label}</b> {_fmt(sem.get(key))}</span>" for label, key in keys) + "</div>"
    rows = [(c["class"], c["iou"], c["dice"], c["accuracy"], c["precision"], c["gt_pixels"], c["pred_pixels"])
            for c in sem.get("per_class", []) if c["gt_pixels"] or c["pred_pixels"]]
    return head + kv + _table(["class", "IoU", "Dice", "accuracy", "precision", "reference px", "compared px"], rows)


SALIENCY_KEYS = (("precision", "precision"), ("recall", "recall"), ("F-beta", "fbeta"), ("max F-beta", "fbeta_max"),
                 ("mean F-beta", "fbeta_mean"), ("adaptive F-beta", "fbeta_adaptive"), ("MAE", "mae"),
                 ("weighted F-beta", "weighted_fbeta"), ("S-measure", "s_measure"), ("E-measure", "e_measure"),
                 ("max E-measure", "e_max"), ("mean E-measure", "e_mean"), ("adaptive E-measure", "e_adaptive"))


def _saliency_section(sal: dict[str, Any]) -> str:
    """Foreground/background measures overall (the soft-map variants only when they exist) and
    per image, lowest S-measure first."""
    shown = [(label, key) for label, key in SALIENCY_KEYS if sal.get(key) is not None]
    head = (f"<h2>Foreground / background ({html.escape(str(sal.get('foreground')))})</h2>"
            f"<p>{sal.get('images', 0)} images; F-beta with beta&sup2; = {sal.get('fbeta_beta_squared')}, weighted "
            f"F-beta with beta&sup2; = {sal.get('weighted_fbeta_beta_squared')}; masks as drawn"
            f"{'' if sal.get('soft') else ' (no probability map: no max / mean / adaptive variants)'}; "
            "means over images (pysodmetrics conventions).</p>")
    kv = "<div class='kv'>" + "".join(f"<span><b>{label}</b> {_fmt(sal.get(key))}</span>" for label, key in shown) + "</div>"
    per_image = sal.get("per_image", [])
    columns = [(label, key) for label, key in shown if key not in ("fbeta_max", "fbeta_mean", "e_max", "e_mean")]
    rows = [(r.get("image"), *[r.get(key) for _, key in columns]) for r in per_image[:MAX_IMAGE_ROWS]]
    table = _table(["image (lowest S-measure first)", *[label for label, _ in columns]], rows)
    hidden = len(per_image) - MAX_IMAGE_ROWS
    more = f"<p>… {hidden} more images in the JSON report.</p>" if hidden > 0 else ""
    return head + kv + table + more


def render_html(report: ReviewReport) -> str:
    """The report as one HTML string (no external resources)."""
    if not detection_measures_apply({"summary": report.summary}):
        return _render_stuff_only(report)
    s = report.summary
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>SegStudio review</title><style>{_CSS}</style>"
              "</head><body>")]
    parts.append(f"<h1>Review: {html.escape(report.compared)} vs {html.escape(report.reference)}</h1>")
    parts.append(f"<p>{html.escape(report.kind)} &middot; {report.iou_type} &middot; match at IoU &ge; "
                 f"{report.iou_threshold} &middot; evaluator {html.escape(str(s.get('evaluator')))}</p>")
    keys = ("images", "gt", "pred", "tp", "fp", "fn", "label_mismatches", "ignored", "precision", "recall", "f1",
            "macro_f1", "mean_iou", "mean_boundary_iou")
    parts.append("<div class='kv'>" + "".join(f"<span><b>{k}</b> {_fmt(s.get(k))}</span>" for k in keys) + "</div>")
    parts.append("<h2>COCO</h2>" + _table(list(report.coco), [list(report.coco.values())]))

    parts.append("<h2>Worst images first</h2>")
    rows = [(r.image_id, r.path, r.gt, r.pred, r.tp, r.fp, r.fn, r.label_mismatches, r.precision, r.recall, r.f1,
             r.mean_iou, r.mean_boundary_iou) for r in report.per_image[:MAX_IMAGE_ROWS]]
    parts.append(_table(["image", "path", "gt", "pred", "tp", "fp", "fn", "mismatch", "precision", "recall", "f1",
                         "mean IoU", "boundary IoU"], rows))
    if len(report.per_image) > MAX_IMAGE_ROWS:
        parts.append(f"<p>… {len(report.per_image) - MAX_IMAGE_ROWS} more images in the JSON report.</p>")

    parts.append("<h2>Per class</h2>")
    parts.append(_table(
        ["class", "id", "gt", "pred", "tp", "fp", "fn", "precision", "recall", "f1", "mean IoU", "boundary IoU",
         "AP", "AP50", "AP75", "mismatch (gt)", "mismatch (pred)"],
        [(r.name, r.category_id, r.gt, r.pred, r.tp, r.fp, r.fn, r.precision, r.recall, r.f1, r.mean_iou,
          r.mean_boundary_iou, r.ap, r.ap50, r.ap75, r.label_mismatch_as_gt, r.label_mismatch_as_pred)
         for r in report.per_class if r.gt or r.pred]))

    if report.semantic:
        parts.append(_semantic_section(report.semantic))
    if report.saliency:
        parts.append(_saliency_section(report.saliency))

    if report.model_outcomes:
        mo = report.model_outcomes
        cols = ["accepted_unchanged", "edited", "rejected", "still_proposed", "superseded", "class_changed", "missed",
                "mean_edit_iou", "acceptance_rate"]
        parts.append("<h2>What became of the predictions</h2>")
        parts.append(_table(["", *cols], [("all", *[mo["totals"][c] for c in cols])]))
        parts.append("<h3>Per model version</h3>")
        parts.append(_table(["version", "architecture", *cols, "AP", "AP50"],
                            [(v["model_version_id"], v["architecture"], *[v[c] for c in cols],
                              v["coco"].get("AP"), v["coco"].get("AP50")) for v in mo["per_model_version"]]))
        parts.append("<h3>Per class</h3>")
        parts.append(_table(["class", *cols], [(c["name"], *[c[k] for k in cols]) for c in mo["per_class"]
                                                if any(c[k] for k in cols[:7])]))

    parts.append("<h2>Plots</h2><div class='plots'>")
    parts.append(_pr_plot(report))
    parts.append(_histogram_plot(report))
    parts.append(_confusion_plot(report))
    parts.append("</div></body></html>")
    return "".join(parts)


def _render_stuff_only(report: ReviewReport) -> str:
    """A stuff-only review: pixel measures first, no instance measures."""
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>SegStudio review</title><style>{_CSS}</style>"
              "</head><body>")]
    parts.append(f"<h1>Review: {html.escape(report.compared)} vs {html.escape(report.reference)}</h1>")
    parts.append(f"<p>{html.escape(report.kind)} &middot; {report.summary.get('images', 0)} images &middot; every class "
                 "is stuff, so instance measures (COCO AP, instance matching, PR curves) are left out.</p>")
    if report.saliency:
        parts.append(_saliency_section(report.saliency))
    if report.semantic:
        parts.append(_semantic_section(report.semantic))
    if not report.saliency and not report.semantic:
        parts.append("<p>No pixel-level section was computed (review run without the semantic section).</p>")
    parts.append("</body></html>")
    return "".join(parts)


def write_html(report: ReviewReport, path: str | Path) -> Path:
    """Write the self-contained HTML report to ``path`` (atomically) and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return path
