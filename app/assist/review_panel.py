"""The review dashboard: model vs final annotations, vs a ground-truth COCO file, or vs another
project. Per-class table, PR curves and confusion matrix plotted in the app, IoU histogram, the
worst images first (clicking one opens it with the matched pairs coloured by IoU and the misses
marked), and the HTML report export. A binary review (one class, or a class and background) adds
the foreground/background (saliency) measures, per image and overall; a stuff-only review (every
class is stuff) hides the instance measures (AP, PR curves, instance confusion, IoU histogram)
and shows the pixel measures instead.

The review itself runs in a background thread on its own read-only connection to the project,
so the event loop never waits for it.
"""

from __future__ import annotations

import logging
import math
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from annotations.metrics.report import ReviewReport
from annotations.store import Project
from app.assist.charts import HeatmapChart, LineChart, Series
from app.assist.context import AssistContext
from app.assist.review_json import (
    CLASS_COUNT_KEYS,
    CLASS_METRIC_KEYS,
    PIXEL_METRIC_KEYS,
    ClassRowJson,
    ImageRowJson,
    PrCurvesJson,
    ReviewJson,
    SaliencyJson,
    SaliencyKey,
    SemanticJson,
    review_json,
)
from app.assist.review_overlay import Mark, ReviewKind, ReviewOverlay, finite, image_sides, read_coco_shapes, review_marks
from app.table_cells import filled_cell

log = logging.getLogger(__name__)

SALIENCY_COLUMNS: tuple[tuple[str, SaliencyKey], ...] = (
    ("S-measure", "s_measure"), ("E-measure", "e_measure"), ("wFβ", "weighted_fbeta"),
    ("Fβ", "fbeta"), ("MAE", "mae"), ("Precision", "precision"), ("Recall", "recall"))
SALIENCY_SUMMARY: tuple[tuple[str, SaliencyKey], ...] = (
    ("S-measure", "s_measure"), ("E-measure", "e_measure"), ("weighted Fβ", "weighted_fbeta"),
    ("Fβ", "fbeta"), ("max Fβ", "fbeta_max"), ("mean Fβ", "fbeta_mean"), ("adaptive Fβ", "fbeta_adaptive"),
    ("MAE", "mae"), ("precision", "precision"), ("recall", "recall"))

KIND_LABELS = {
    ReviewKind.MODEL_VS_FINAL: "Model vs final annotations",
    ReviewKind.VS_COCO: "Project vs ground-truth COCO file",
    ReviewKind.VS_PROJECT: "Project vs another project",
}


@dataclass(frozen=True)
class ReviewRequest:
    """One review to compute. ``other`` is the COCO file or the other project (unused for
    model vs final)."""

    kind: ReviewKind
    project_path: str
    other: str = ""
    iou_threshold: float = 0.5
    iou_type: str = "auto"


def compute_review(request: ReviewRequest) -> ReviewReport:
    """Run the review (any thread: it opens its own read-only project connections) and return
    its report."""
    from annotations.metrics import review

    iou, iou_type = request.iou_threshold, request.iou_type
    with Project.open(request.project_path, readonly=True) as project:
        if request.kind == ReviewKind.MODEL_VS_FINAL:
            return review.model_vs_final(project, iou_threshold=iou, iou_type=iou_type)
        if request.kind == ReviewKind.VS_COCO:
            return review.project_vs_coco(project, request.other, iou_threshold=iou, iou_type=iou_type)
        with Project.open(request.other, readonly=True) as other:
            return review.project_vs_project(project, other, iou_threshold=iou, iou_type=iou_type)


class _Relay(QObject):
    """Carries a background thread's outcome to the GUI thread (queued signal)."""

    done = Signal(object, object, str)  # request, report or None, error text


def _fmt(value: object, digits: int = 3) -> str:
    """A metric for a table cell: "—" when undefined, integers without decimals."""
    number = finite(value)
    if math.isnan(number):
        return "—"
    return f"{number:.0f}" if float(number).is_integer() else f"{number:.{digits}f}"


def _item(text: str, numeric: bool = True, data: int | str | None = None) -> QTableWidgetItem:
    """A read-only cell: numbers right-aligned, text left-aligned; ``data`` kept as UserRole."""
    item = QTableWidgetItem(text)
    if data is not None:
        item.setData(Qt.ItemDataRole.UserRole, data)
    align = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
    item.setTextAlignment(align | Qt.AlignmentFlag.AlignVCenter)
    return item


class ReviewPanel(QWidget):
    """Compute and browse a review of the project."""

    reviewReady = Signal()

    def __init__(self, context: AssistContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.report: ReviewReport | None = None
        self.report_json: ReviewJson | None = None  # the report's documented JSON (annotations.metrics.report_json)
        self.request: ReviewRequest | None = None
        self.error_text = ""
        self._thread: threading.Thread | None = None
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._coco_cache: tuple[str, dict] | None = None
        self.overlay = ReviewOverlay()
        self.overlay.shown.connect(context.reviewMarksShown)
        context.window.canvas.add_overlay(self.overlay)
        context.window.imageChanged.connect(self._on_image_changed)

        # --- what to compare
        self.kind_combo = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind)
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.other_edit = QLineEdit()
        self.other_edit.setPlaceholderText("ground-truth COCO JSON or another .segproj")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.iou_type_combo = QComboBox()
        self.iou_type_combo.addItems(["auto", "segm", "bbox"])
        self.iou_type_combo.setToolTip("auto: exact boxes for boxes, masks for anything else")
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setRange(0.05, 0.95)
        self.threshold_spin.setSingleStep(0.05)
        self.threshold_spin.setValue(0.5)
        self.threshold_spin.setPrefix("IoU ≥ ")
        self.run_button = QPushButton("Run review")
        self.run_button.clicked.connect(self.run_review)
        self.export_button = QPushButton("Export HTML…")
        self.export_button.clicked.connect(self._export_clicked)
        self.export_button.setEnabled(False)
        self.status_label = QLabel("Choose what to compare and run the review.")
        self.status_label.setWordWrap(True)
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)

        row1 = QHBoxLayout()
        row1.addWidget(self.kind_combo, 1)
        row1.addWidget(self.iou_type_combo)
        row1.addWidget(self.threshold_spin)
        row1.addWidget(self.run_button)
        row1.addWidget(self.export_button)
        row2 = QHBoxLayout()
        row2.addWidget(self.other_edit, 1)
        row2.addWidget(self.browse_button)

        # --- results
        self.images_table = QTableWidget(0, 7)
        self.images_table.setToolTip("Click an image to open it with its matches (colour = IoU) and misses")
        self.images_table.setHorizontalHeaderLabels(["Image", "F1", "TP", "FP", "FN", "Mism.", "Mean IoU"])
        self.class_table = QTableWidget(0, 9)
        self.class_table.setHorizontalHeaderLabels(["Class", "GT", "Pred", "TP", "FP", "FN", "Precision", "Recall", "AP"])
        self.saliency_table = QTableWidget(0, len(SALIENCY_COLUMNS) + 1)
        self.saliency_table.setHorizontalHeaderLabels(["Image", *[label for label, _ in SALIENCY_COLUMNS]])
        self.saliency_table.setToolTip("Foreground/background measures per image, lowest S-measure first; click to open")
        self.pixel_table = QTableWidget(0, 5)
        self.pixel_table.setHorizontalHeaderLabels(["Class", "IoU", "Dice", "Accuracy", "Precision"])
        for table in (self.images_table, self.class_table, self.saliency_table, self.pixel_table):
            table.verticalHeader().setVisible(False)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            header = table.horizontalHeader()
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.images_table.cellClicked.connect(lambda row, _col: self.open_row(row))
        self.images_table.cellActivated.connect(lambda row, _col: self.open_row(row))
        self.saliency_table.cellClicked.connect(lambda row, _col: self._open_saliency_row(row))
        self.pr_chart = LineChart("Precision–recall", "recall", "precision", x_range=(0.0, 1.0), y_range=(0.0, 1.02),
                                  empty_text="run a review")
        self.confusion_chart = HeatmapChart("Confusion (instances)", "reference", "compared")
        self.histogram_chart = LineChart("IoU of matched pairs", "IoU", "pairs", x_range=(0.0, 1.0), empty_text="run a review")
        self.saliency_chart = LineChart("Per image, lowest S-measure first", "image", "score", y_range=(0.0, 1.02),
                                        integer_x=True, empty_text="run a review")
        self.pixel_confusion_chart = HeatmapChart("Confusion (pixels)", "reference", "compared")
        self.tables = QTabWidget()
        self.tables.addTab(self.images_table, "Worst images")
        self.tables.addTab(self.class_table, "Per class")
        self.tables.addTab(self.saliency_table, "Foreground / background")
        self.tables.addTab(self.pixel_table, "Pixels per class")
        self.charts = QTabWidget()
        self.charts.addTab(self.pr_chart, "PR curves")
        self.charts.addTab(self.confusion_chart, "Confusion")
        self.charts.addTab(self.histogram_chart, "IoU histogram")
        self.charts.addTab(self.saliency_chart, "Per image")
        self.charts.addTab(self.pixel_confusion_chart, "Pixel confusion")
        self._show_sections(detection=True, saliency=False, pixels=False)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(row1)
        left_layout.addLayout(row2)
        left_layout.addWidget(self.status_label)
        left_layout.addWidget(self.summary_label)
        left_layout.addWidget(self.tables, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.charts)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)
        self._on_kind()

    # ------------------------------------------------------------------ inputs
    def kind(self) -> ReviewKind:
        return ReviewKind(self.kind_combo.currentData())

    def set_kind(self, kind: ReviewKind, other: str = "") -> None:
        """Choose what to compare (and the COCO file or other project)."""
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(kind))
        self.other_edit.setText(other)

    def _on_kind(self) -> None:
        needs_other = self.kind() != ReviewKind.MODEL_VS_FINAL
        self.other_edit.setEnabled(needs_other)
        self.browse_button.setEnabled(needs_other)
        self.other_edit.setPlaceholderText(
            "ground-truth COCO instances JSON" if self.kind() == ReviewKind.VS_COCO
            else "another .segproj over the same images" if needs_other else "(final annotations are the reference)")

    def _browse(self) -> None:
        if self.kind() == ReviewKind.VS_COCO:
            path, _ = QFileDialog.getOpenFileName(self, "Ground-truth COCO file", "", "COCO JSON (*.json)")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Another project", "", "SegStudio project (*.segproj)")
        if path:
            self.other_edit.setText(path)

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_review(self) -> bool:
        """Start the review in a background thread; False when the inputs are incomplete."""
        if self.running:
            return False
        other = self.other_edit.text().strip()
        if self.kind() != ReviewKind.MODEL_VS_FINAL and not other:
            self.status_label.setText("Choose the file to compare with first.")
            return False
        if other and not Path(other).is_file():
            self.status_label.setText(f"{other}: no such file.")
            return False
        request = ReviewRequest(self.kind(), self.context.project_path, other, self.threshold_spin.value(),
                                self.iou_type_combo.currentText())
        self.status_label.setText(f"Computing: {KIND_LABELS[request.kind].lower()}…")
        self.run_button.setEnabled(False)
        relay = self._relay

        def work() -> None:
            try:
                report = compute_review(request)
            except Exception as exc:  # noqa: BLE001 (shown in the panel, never raised into Qt)
                relay.done.emit(request, None, f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc()}")
                return
            relay.done.emit(request, report, "")

        self._thread = threading.Thread(target=work, name="review", daemon=True)
        self._thread.start()
        return True

    def run_default_review(self) -> bool:
        """Start the default review (model vs final annotations) when none was run yet and the
        project has finished images; False (with the reason in the status line) otherwise."""
        project = self.context.project
        if self.running or self.report is not None:
            return False
        if not any(image.status.is_finished for image in project.images()):
            self.status_label.setText("No finished images yet: mark images done (Ctrl+Enter) to review the "
                                      "model against the final annotations.")
            return False
        self.set_kind(ReviewKind.MODEL_VS_FINAL)
        return self.run_review()

    def wait_for_review(self, timeout_s: float = 60.0) -> bool:
        """Process events until the running review is shown or ``timeout_s`` seconds passed
        (screenshots and tests only: the GUI never waits). True when none is running now."""
        import time

        from PySide6.QtCore import QCoreApplication, QEventLoop

        deadline = time.monotonic() + timeout_s
        while True:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if not self.running and self.run_button.isEnabled():  # _on_done re-enables the button
                return True
            if time.monotonic() >= deadline:
                return False
            if self._thread is not None:
                self._thread.join(0.02)

    def _on_done(self, request: ReviewRequest, report: object, error: str) -> None:
        self.run_button.setEnabled(True)
        self.request = request
        if not isinstance(report, ReviewReport):
            self.error_text = error
            self.status_label.setText("Review failed: " + error.splitlines()[0])
            self.status_label.setToolTip(error)
            self.reviewReady.emit()
            return
        self.error_text = ""
        self.show_report(report, request)
        self.reviewReady.emit()

    # ------------------------------------------------------------------ showing
    def show_report(self, report: ReviewReport, request: ReviewRequest | None = None) -> None:
        """Fill the tables and charts from a review report."""
        self.report = report
        self.request = request or self.request
        data = review_json(report)
        self.report_json = data
        self.export_button.setEnabled(True)
        from annotations.metrics.saliency_review import detection_measures_apply

        detection = detection_measures_apply(data)
        status = f"{data.get('compared', '')} vs {data.get('reference', '')} "
        status += (f"({data.get('iou_type', '')}, IoU ≥ {data.get('iou_threshold', 0.5):g})" if detection
                   else f"({(data.get('summary') or {}).get('images', 0)} images, pixels)")
        summary = data.get("summary") or {}
        if self.request is not None and self.request.kind == ReviewKind.MODEL_VS_FINAL and not summary.get("pred"):
            status += (f". No model pre-labels on the {summary.get('images', 0)} finished image(s) yet, so every final "
                       "shape counts as missed: pre-label images (Model menu), correct and finish them, then run again.")
        self.status_label.setText(status[:1].upper() + status[1:])
        saliency = data.get("saliency") or None
        semantic = data.get("semantic") or None
        self._fill_summary(data, detection)
        self._fill_saliency(saliency)
        self._fill_pixels(semantic)
        self._show_sections(detection, saliency is not None, semantic is not None)
        self._fill_images(data.get("per_image") or [])
        self._fill_classes(data.get("per_class") or [])
        self._fill_pr(data.get("pr_curves") or {})
        confusion = data.get("confusion") or {}
        classes = confusion.get("classes") or []
        self.confusion_chart.set_matrix(confusion.get("matrix") or [], classes, classes)
        histogram = data.get("iou_histogram") or {}
        edges = histogram.get("bin_edges") or []
        counts = histogram.get("matched") or []
        if edges and counts:
            xs, ys = [], []
            for i, count in enumerate(counts):  # a step line over the bins
                xs += [edges[i], edges[i + 1]]
                ys += [count, count]
            self.histogram_chart.set_series([Series("matched pairs", xs, ys, color="#2e86c1", markers=False)])

    def _show_sections(self, detection: bool, saliency: bool, pixels: bool) -> None:
        """Show the instance tabs only where instance measures apply (not for stuff-only
        reviews), the foreground/background tabs for binary reviews, the pixel tabs when the
        review has a semantic section and no instance measures lead."""
        show_pixels = pixels and (not detection or saliency)
        for tabs, widgets in ((self.tables, [(self.images_table, detection), (self.class_table, detection),
                                             (self.saliency_table, saliency), (self.pixel_table, show_pixels)]),
                              (self.charts, [(self.pr_chart, detection), (self.confusion_chart, detection),
                                             (self.histogram_chart, detection), (self.saliency_chart, saliency),
                                             (self.pixel_confusion_chart, show_pixels)])):
            for widget, visible in widgets:
                tabs.setTabVisible(tabs.indexOf(widget), visible)
            if not detection:
                first = next((w for w, visible in widgets if visible), None)
                if first is not None:
                    tabs.setCurrentWidget(first)
            elif not tabs.isTabVisible(tabs.currentIndex()):
                tabs.setCurrentIndex(0)

    def sections_shown(self) -> list[str]:
        """Titles of the visible table and chart tabs (tests and screenshots)."""
        return [tabs.tabText(i) for tabs in (self.tables, self.charts) for i in range(tabs.count()) if tabs.isTabVisible(i)]

    def _fill_summary(self, data: ReviewJson, detection: bool = True) -> None:
        s = data.get("summary") or {}
        coco = data.get("coco") or {}
        parts = [
            f"<b>Precision</b> {_fmt(s.get('precision'))}", f"<b>Recall</b> {_fmt(s.get('recall'))}",
            f"<b>F1</b> {_fmt(s.get('f1'))}", f"<b>mean IoU</b> {_fmt(s.get('mean_iou'))}",
            f"<b>AP</b> {_fmt(coco.get('AP'))}", f"<b>AP50</b> {_fmt(coco.get('AP50'))}",
            f"TP {s.get('tp', '—')} · FP {s.get('fp', '—')} · FN {s.get('fn', '—')}",
        ] if detection else []
        pixel = []
        saliency = data.get("saliency") or {}
        if saliency:
            pixel += [f"<b>{label}</b> {_fmt(saliency.get(key))}" for label, key in SALIENCY_SUMMARY
                      if saliency.get(key) is not None]
        semantic = data.get("semantic") or {}
        if semantic and not detection:
            pixel += [f"<b>mIoU</b> {_fmt(semantic.get('miou'))}",
                      f"<b>pixel accuracy</b> {_fmt(semantic.get('pixel_accuracy'))}"]
        if pixel:
            title = f"{saliency.get('foreground')} vs background" if saliency else "Pixels"
            parts.append(("<br>" if parts else "") + f"<i>{title}</i>: " + " &nbsp; ".join(pixel))
        if not detection:
            parts.append("<br><span style='color:#666'>Every class is stuff: instance measures (AP, matching) "
                         "do not apply and are hidden.</span>")
        text = " &nbsp; ".join(parts)
        outcomes = (data.get("model_outcomes") or {}).get("totals")
        if outcomes:
            missed = f" · missed {outcomes.get('missed', 0)}" if detection else ""  # instance matching: things only
            text += ("<br>Pre-labels: accepted {a} · edited {e} (mean IoU {iou}) · rejected {r}{missed} · "
                     "acceptance rate {rate}").format(
                a=outcomes.get("accepted_unchanged", 0), e=outcomes.get("edited", 0), iou=_fmt(outcomes.get("mean_edit_iou")),
                r=outcomes.get("rejected", 0), missed=missed, rate=_fmt(outcomes.get("acceptance_rate")))
        self.summary_label.setText(text)

    def _fill_images(self, rows: list[ImageRowJson]) -> None:
        self.images_table.setRowCount(len(rows))
        for r, row in enumerate(rows):  # already worst first
            values = [
                _item(Path(str(row.get("path", ""))).name or f"image {row.get('image_id')}", False, int(row.get("image_id", 0))),
                _item(_fmt(row.get("f1"))),
                _item(str(row.get("tp", 0))), _item(str(row.get("fp", 0))), _item(str(row.get("fn", 0))),
                _item(str(row.get("label_mismatches", 0))),
                _item(_fmt(row.get("mean_iou"))),
            ]
            values[0].setToolTip(str(row.get("path", "")))
            for c, item in enumerate(values):
                self.images_table.setItem(r, c, item)

    def _fill_classes(self, rows: list[ClassRowJson]) -> None:
        self.class_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [_item(str(row.get("name", row.get("category_id"))), False, row.get("category_id"))]
            values += [_item(str(row.get(k, 0))) for k in CLASS_COUNT_KEYS]
            values += [_item(_fmt(row.get(k))) for k in CLASS_METRIC_KEYS]
            for c, item in enumerate(values):
                self.class_table.setItem(r, c, item)

    def _fill_saliency(self, saliency: SaliencyJson | None) -> None:
        rows = (saliency or {}).get("per_image") or []
        self.saliency_table.setRowCount(len(rows))
        for r, row in enumerate(rows):  # lowest S-measure first
            values = [_item(Path(str(row.get("image", ""))).name or f"image {row.get('image_id')}", False,
                            int(row.get("image_id", 0)))]
            values += [_item(_fmt(row.get(key))) for _, key in SALIENCY_COLUMNS]
            values[0].setToolTip(str(row.get("image", "")))
            for c, item in enumerate(values):
                self.saliency_table.setItem(r, c, item)
        xs = [float(i + 1) for i in range(len(rows))]
        series = [Series(label, xs, [finite(row.get(key)) for row in rows], color=color, markers=len(rows) <= 40)
                  for label, key, color in (("S-measure", "s_measure", "#2e86c1"), ("E-measure", "e_measure", "#27ae60"),
                                            ("weighted F-beta", "weighted_fbeta", "#8e44ad"), ("MAE", "mae", "#c0392b"))]
        self.saliency_chart.set_series(series if rows else [])

    def _fill_pixels(self, semantic: SemanticJson | None) -> None:
        rows = [c for c in (semantic or {}).get("per_class") or [] if c.get("gt_pixels") or c.get("pred_pixels")]
        self.pixel_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = [_item(str(row.get("class", "")), False)]
            values += [_item(_fmt(row.get(k))) for k in PIXEL_METRIC_KEYS]
            for c, item in enumerate(values):
                self.pixel_table.setItem(r, c, item)
        confusion = (semantic or {}).get("confusion") or {}
        classes = [str(c) for c in confusion.get("classes") or []]
        self.pixel_confusion_chart.set_matrix(confusion.get("matrix") or [], classes, classes)

    def _open_saliency_row(self, row: int) -> None:
        item = self.saliency_table.item(row, 0)
        if item is not None:
            self.open_image(int(item.data(Qt.ItemDataRole.UserRole)))

    def _fill_pr(self, pr: PrCurvesJson) -> None:
        recall = pr.get("recall") or []
        series = []
        for curve in pr.get("curves") or []:
            if abs(finite(curve.get("iou")) - 0.5) > 1e-6:
                continue  # one threshold keeps the chart readable
            precision = [finite(v) for v in curve.get("precision") or []]
            if not any(not math.isnan(v) for v in precision):
                continue
            mean = curve.get("category_id") is None
            series.append(Series(("mean" if mean else str(curve.get("name"))) + " @0.5", recall, precision,
                                 color="#000000" if mean else "", dashed=mean, markers=False))
        self.pr_chart.set_series(series[:10])

    # ------------------------------------------------------------------ images
    def image_ids_listed(self) -> list[int]:
        """Image ids of the worst-images table, in order (worst first)."""
        table = self.images_table
        return [int(filled_cell(table, r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(table.rowCount())]

    def open_row(self, row: int) -> None:
        """Open the image of ``row`` of the worst-images table with its review overlay."""
        ids = self.image_ids_listed()
        if 0 <= row < len(ids):
            self.open_image(ids[row])

    def open_image(self, image_id: int) -> None:
        """Open ``image_id`` in the workspace and mark its matched pairs, misses and extras."""
        self.context.window.open_image(image_id)
        self.show_marks(image_id)

    def show_marks(self, image_id: int) -> list[Mark]:
        """Recompute the matching of ``image_id`` the way the review did and draw it."""
        project, request = self.context.project, self.request
        if request is None:
            self.overlay.clear()
            return []
        other_project = None
        coco_shapes = None
        try:
            if request.kind == ReviewKind.VS_COCO:
                if self._coco_cache is None or self._coco_cache[0] != request.other:
                    ids_by_name = {c.name: c.id for c in project.categories()}
                    self._coco_cache = (request.other, read_coco_shapes(request.other, ids_by_name))
                coco_shapes = self._coco_cache[1]
            elif request.kind == ReviewKind.VS_PROJECT:
                other_project = Project.open(request.other, readonly=True)
            summary = (self.report_json or {}).get("summary") or {}
            version = summary.get("model_version_id") if request.kind == ReviewKind.MODEL_VS_FINAL else None
            gt, pred = image_sides(request.kind, project, image_id, other_project=other_project,
                                   coco_shapes=coco_shapes, model_version_id=version if isinstance(version, int) else None)
            names = {c.id: c.name for c in project.categories()}
            marks, _ = review_marks(gt, pred, project.get_image(image_id).size_hw, names,
                                    request.iou_threshold, request.iou_type)
        except Exception:
            log.exception("review overlay of image %s failed", image_id)
            self.status_label.setText(f"Cannot mark image {image_id}: see the log.")
            self.overlay.clear()
            return []
        finally:
            if other_project is not None:
                other_project.close()
        self.overlay.set_marks(image_id, marks)
        return marks

    def _on_image_changed(self, _image_id: int) -> None:
        if self.overlay.image_id is not None and self.context.current_image_id() != self.overlay.image_id:
            self.overlay.clear()

    # ------------------------------------------------------------------ export
    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the review as HTML", self._default_html_path(), "HTML (*.html)"
        )
        if path:
            self.export_html(path)

    def _default_html_path(self) -> str:
        """``review.html`` in the project's folder (not the program's working folder)."""
        project_path = self.context.project_path
        return str(Path(project_path).parent / "review.html") if project_path else "review.html"

    def export_html(self, path: str | Path) -> Path | None:
        """Write the self-contained HTML report of the current review."""
        if self.report is None:
            return None
        from annotations.metrics.report_html import write_html

        written = write_html(self.report, Path(path))
        out = Path(written) if written is not None else Path(path)
        self.status_label.setText(f"Report written to {out}")
        return out
