"""The training panel: choose a model, start/stop training, the auto-retrain policy, the model
versions with their validation metrics (and which one made the pre-labels on screen), and the
learning curve of the running or selected training."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.assist.bridge import JobState
from app.assist.charts import LineChart, Series
from app.assist.context import AssistContext
from app.assist.models import default_model, model_choices
from app.assist.retrain_policy import RetrainSettings, decide
from app.assist.text_format import tidy_numbers
from app.table_cells import filled_cell
from engine.loss_choice import LossKind
from engine.protocol import Device, Train, TrainResult

HISTORY_SETTING = "assist.train_history"


def flatten_metrics(metrics: Mapping[str, object], prefix: str = "") -> dict[str, float]:
    """Finite scalar numbers of a (nested) metrics dict as ``{"val.miou": 0.61, ...}``; the
    ``per_image`` scores (one per validation image, for the promotion's bootstrap) are left out."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        if key == "per_image":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_metrics(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value)):
            flat[name] = float(value)
    return flat


def format_metrics(metrics: Mapping[str, object], limit: int = 4) -> str:
    """A short ``key value · key value`` line of the scalar metrics (history and counts left out)."""
    flat = {k: v for k, v in flatten_metrics(metrics).items() if not k.startswith(("history", "epoch"))}
    flat = {k: v for k, v in flat.items() if "per_class" not in k and not k.endswith(("images", "objects"))}
    parts = [f"{k} {v:.3f}" if abs(v) < 100 else f"{k} {v:.0f}" for k, v in list(flat.items())[:limit]]
    return " · ".join(parts) if parts else "—"


_NOT_PLOTTED = ("epoch", "done", "total", "iteration", "lr", "seconds")
MAX_VALIDATION_LINES = 3


def curve_series(history: Iterable[Mapping[str, object]]) -> list[Series]:
    """Learning-curve lines from per-epoch metric dicts: training losses on the left axis, up to
    three validation metrics on the right axis (per-class values and counts left out), and the
    untrained model's score (``baseline``) as a grey dashed line; x is ``epoch`` when given."""
    rows = [flatten_metrics(h) for h in history]
    if not rows:
        return []
    xs = [row.get("epoch", float(i + 1)) for i, row in enumerate(rows)]
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    losses, metrics, baseline = [], [], []
    for key in keys:
        leaf = key.rsplit(".", 1)[-1]
        if key in _NOT_PLOTTED or "per_class" in key or leaf.endswith(("_images", "_objects", "images", "objects")):
            continue
        ys = [row.get(key, math.nan) for row in rows]
        if "loss" in leaf:
            losses.append(Series(key.replace(".", " "), xs, ys))
        elif leaf == "baseline":
            baseline.append(Series("untrained", xs, ys, color="#999999", dashed=True, right_axis=True))
        else:
            metrics.append(Series(key.replace(".", " "), xs, ys, dashed=False, right_axis=True))
    return losses[:2] + metrics[:MAX_VALIDATION_LINES] + baseline[:1]


class TrainingPanel(QWidget):
    """Training controls, auto-retrain, model versions and the learning curve."""

    def __init__(self, context: AssistContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.bridge = context.bridge
        self.train_job_id: str | None = None
        self.histories: dict[int, list[dict[str, object]]] = {}  # version id -> per-epoch metrics
        self._last_auto_trigger: float | None = None

        # --- controls
        self.model_combo = QComboBox()
        # Long model names must not widen the dock (and push the combo off screen): elide.
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(16)
        for choice in model_choices():
            self.model_combo.addItem(choice.label, choice.name)
            self.model_combo.setItemData(self.model_combo.count() - 1, choice.description, Qt.ItemDataRole.ToolTipRole)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 1000)
        self.epochs_spin.setValue(10)
        self.device_combo = QComboBox()
        for device in Device:
            self.device_combo.addItem(device.value, device)
        self.loss_combo = QComboBox()  # semantic models' training loss (engine.loss_choice, torch-free)
        for kind in LossKind:
            self.loss_combo.addItem(kind.label, kind.value)
        self.loss_combo.setToolTip("Semantic models only. Automatic: cross-entropy, or class-weighted cross-entropy "
                                   "when the classes' pixel counts differ 10x or more; the result says which and why.")
        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_training)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.data_label = QLabel()
        self.data_label.setObjectName("trainingData")
        self.data_label.setToolTip("A training learns from the finished (done or reviewed) images only.")
        self.data_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Loss", self.loss_combo)
        form.addRow(buttons)
        form.addRow(self.data_label)
        form.addRow(self.status_label)
        train_box = QGroupBox("Train")
        train_box.setLayout(form)

        # --- auto-retrain
        self.auto_check = QCheckBox("Retrain automatically every")
        self.auto_every = QSpinBox()
        self.auto_every.setRange(1, 10000)
        self.auto_every.setSuffix(" finished images")
        self.auto_status = QLabel()
        self.auto_status.setStyleSheet("color: #555;")
        self.auto_status.setWordWrap(True)
        auto_row = QHBoxLayout()
        auto_row.addWidget(self.auto_check)
        auto_row.addWidget(self.auto_every, 1)
        auto_layout = QVBoxLayout()
        auto_layout.addLayout(auto_row)
        auto_layout.addWidget(self.auto_status)
        auto_box = QGroupBox("Auto-retrain")
        auto_box.setLayout(auto_layout)

        # --- versions
        self.on_screen_label = QLabel()
        self.on_screen_label.setWordWrap(True)
        self.versions_table = QTableWidget(0, 6)
        self.versions_table.setHorizontalHeaderLabels(["Version", "Model", "Promoted", "Images", "Validation", "On screen"])
        self.versions_table.verticalHeader().setVisible(False)
        self.versions_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.versions_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.versions_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.versions_table.horizontalHeader()
        for column in range(6):  # whole texts; the table scrolls sideways when the dock is narrow
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.versions_table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.versions_table.itemSelectionChanged.connect(self._on_version_selected)
        versions_box = QGroupBox("Model versions")
        versions_layout = QVBoxLayout(versions_box)
        versions_layout.addWidget(self.on_screen_label)
        versions_layout.addWidget(self.versions_table)

        # --- learning curve
        self.curve = LineChart("Learning curve", "epoch", "loss", "validation", integer_x=True,
                               empty_text="start a training to see its curve")

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(train_box)
        controls_layout.addWidget(auto_box)
        controls_layout.addStretch(1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(versions_box)
        splitter.addWidget(self.curve)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 3)
        splitter.setChildrenCollapsible(False)
        # The versions table gets real room (its columns used to be cut to a few letters).
        versions_box.setMinimumWidth(320)
        splitter.setSizes([300, 460, 360])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        # --- wiring
        self.bridge.jobProgress.connect(self._on_progress)
        self.bridge.jobFinished.connect(self._on_job_finished)
        self.bridge.jobStarted.connect(lambda *_: self._update_buttons())
        context.modelVersionsChanged.connect(self.refresh_versions)
        context.predictionsChanged.connect(self.refresh_on_screen)
        context.window.imageChanged.connect(lambda *_: self.refresh_on_screen())
        self._load_settings()
        self.auto_check.toggled.connect(self._save_settings)
        self.auto_every.valueChanged.connect(self._save_settings)
        # statuses changed: the training data line follows
        context.window.session.imagesChanged.connect(self._update_training_data)
        self.auto_timer = QTimer(self)
        self.auto_timer.setInterval(3000)
        self.auto_timer.timeout.connect(self.check_auto_retrain)
        self._update_training_data()
        self.refresh_versions()
        ids = self.version_ids_listed()
        if ids:
            self.select_version(ids[0])  # the newest version's curve
        self._update_buttons()
        self.check_auto_retrain()

    # ------------------------------------------------------------------ settings
    def _load_settings(self) -> None:
        settings = RetrainSettings.load(self.context.project)
        self.auto_check.setChecked(settings.enabled)
        self.auto_every.setValue(settings.every_n_finished)
        model = settings.model or default_model(self.context.project)
        if model:
            index = self.model_combo.findData(model)
            if index >= 0:
                self.model_combo.setCurrentIndex(index)
        self.epochs_spin.setValue(settings.epochs)

    def settings(self) -> RetrainSettings:
        """The auto-retrain settings shown in the panel."""
        return RetrainSettings(
            self.auto_check.isChecked(), self.auto_every.value(), self.selected_model(), self.epochs_spin.value()
        )

    def _save_settings(self) -> None:
        project = self.context.project
        if not project.readonly:
            self.settings().save(project)
        self.check_auto_retrain()

    # ------------------------------------------------------------------ training
    def selected_model(self) -> str:
        return str(self.model_combo.currentData() or "")

    def training_running(self) -> bool:
        return bool(self.bridge.active_jobs("train"))

    def start_training(self) -> str | None:
        """Submit a Train job for the chosen model; returns its job id (None without a project)."""
        if self.training_running():
            return None
        request = Train(
            project_path=self.context.project_path,
            model=self.selected_model(),
            epochs=self.epochs_spin.value(),
            device=self.device_combo.currentData() or Device.AUTO,
            loss=str(self.loss_combo.currentData() or LossKind.AUTO.value),
        )
        return self._submit(request, f"Train {request.model or 'model'} ({request.epochs} epochs)")

    def _submit(self, request: Train, title: str) -> str:
        self.train_job_id = self.bridge.submit(request, title)
        self.curve.set_series([])
        self.curve.title = f"Learning curve — {request.model} (running)"
        self.curve.empty_text = "waiting for the first epoch…"
        self.status_label.setText("Training queued…")
        self._update_buttons()
        return self.train_job_id

    def stop_training(self) -> None:
        """Cancel the running training (cooperative: it stops after the current iteration)."""
        for job in self.bridge.active_jobs("train"):
            self.bridge.cancel(job.job_id)
        self.status_label.setText("Stopping…")
        self._update_buttons()

    def training_data_text(self) -> str:
        """One line on what a training would learn from (finished images of the project)."""
        session = self.context.window.session  # its counts are current (no store reads, no scan)
        total, finished = len(session.images), session.finished_count
        return f"Training data: {finished} finished of {total} images"

    def _update_training_data(self) -> None:
        self.data_label.setText(self.training_data_text())

    def _update_buttons(self) -> None:
        running = self.training_running()
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running and not all(j.cancel_requested for j in self.bridge.active_jobs("train")))

    def _on_progress(self, job_id: str, done: int, total: int, message: str, _metrics: dict) -> None:
        if job_id != self.train_job_id:
            return
        info = self.bridge.job(job_id)
        text = tidy_numbers(message or "training")
        self.status_label.setText(f"{text} ({done}/{total})" if total else text)
        self.curve.set_series(curve_series(info.history))
        self._update_buttons()

    def _on_job_finished(self, job_id: str) -> None:
        info = self.bridge.job(job_id)
        if info.kind != "train":
            return
        result = info.result
        if info.state == JobState.SUCCEEDED and isinstance(result, TrainResult):
            history = list(result.history) or list(info.history)
            self.histories[int(result.model_version_id)] = history
            self._store_history(int(result.model_version_id), history)
            verdict = "promoted" if result.promoted else "kept the previous version (validation did not improve)"
            self.status_label.setText(f"Trained v{result.model_version_id}: {verdict}. {format_metrics(result.metrics)}"
                                      + (f"\nLoss: {result.loss}" if result.loss else ""))
            self.curve.title = f"Learning curve — v{result.model_version_id}"
            self.curve.set_series(curve_series(history))
            self.refresh_versions()
            self.select_version(int(result.model_version_id))
        elif info.state == JobState.CANCELLED:
            self.status_label.setText("Training stopped; no version was written.")
        elif info.state == JobState.FAILED:
            self.status_label.setText(f"Training failed: {info.error_message}")
        if job_id == self.train_job_id:
            self.curve.title = self.curve.title.replace(" (running)", "")
            self.curve.update()
            if info.state != JobState.SUCCEEDED:  # back to the selected version's curve
                self._on_version_selected()
        self._update_buttons()
        self.check_auto_retrain()

    def _store_history(self, version_id: int, history: list[dict[str, object]]) -> None:
        """Keep a version's per-epoch metrics in the project, so its curve survives a restart."""
        project = self.context.project
        if project.readonly:
            return
        try:
            project.set_setting(f"{HISTORY_SETTING}.{version_id}", [flatten_metrics(h) for h in history])
        except Exception:  # noqa: BLE001 - the curve is a convenience; never fail a finished training over it
            pass

    def stored_history(self, version_id: int) -> list[dict[str, object]]:
        """Per-epoch metrics of ``version_id``: this session's, the project's, or the version's own."""
        if version_id in self.histories:
            return self.histories[version_id]
        project = self.context.project
        stored = project.get_setting(f"{HISTORY_SETTING}.{version_id}", None)
        if isinstance(stored, list):
            return [h for h in stored if isinstance(h, dict)]
        try:
            metrics = project.get_model_version(version_id).metrics
        except Exception:  # noqa: BLE001 - a missing or unreadable version just has no stored curve
            return []
        history = metrics.get("history", []) if isinstance(metrics, dict) else []
        return [h for h in history if isinstance(h, dict)] if isinstance(history, list) else []

    # ------------------------------------------------------------------ auto-retrain
    def check_auto_retrain(self, now_s: float | None = None) -> str | None:
        """Start a training when the engine's retrain policy says so; returns the job id when
        one was started. ``now_s``: a ``time.monotonic()`` reading (tests pass their own)."""
        project = self.context.project
        now = time.monotonic() if now_s is None else now_s
        settings = self.settings()
        if not settings.enabled:  # nothing runs by itself: say so, and read nothing
            self.auto_timer.stop()
            self.auto_status.setText("Off: trainings start only with Start training.")
            return None
        if not self.auto_timer.isActive():
            self.auto_timer.start()
        try:
            decision = decide(project, settings, training_running=self.training_running(),
                              last_trigger_s=self._last_auto_trigger, now_s=now)
        except Exception:  # noqa: BLE001 - the store may be busy or closing; try again at the next tick
            return None
        self.auto_status.setText(("Retraining: " if decision.retrain else "Waiting: ") + decision.reason + ".")
        if not decision.retrain:
            return None
        self._last_auto_trigger = now
        request = Train(project_path=self.context.project_path, model=settings.model, epochs=settings.epochs,
                        device=self.device_combo.currentData() or Device.AUTO)
        return self._submit(request, f"Auto-retrain {settings.model or 'model'} ({decision.reason})")

    # ------------------------------------------------------------------ versions
    def on_screen_versions(self) -> set[int]:
        """Model versions of the proposed predictions on the current image."""
        project, image_id = self.context.project, self.context.current_image_id()
        if image_id is None:
            return set()
        from annotations.model import PredictionState

        return {p.model_version_id for p in project.predictions(image_id, state=PredictionState.PROPOSED)}

    def refresh_versions(self) -> None:
        """Re-read the model versions from the store."""
        project = self.context.project
        versions = project.model_versions()
        on_screen = self.on_screen_versions()
        selected = self.selected_version_id()
        self.versions_table.setRowCount(len(versions))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, version in enumerate(reversed(versions)):  # newest first
            trained_on = version.trained_on or {}
            n_images = len(trained_on.get("image_ids", ()) or ()) or (
                len(trained_on.get("train_image_ids", ()) or ()) + len(trained_on.get("val_image_ids", ()) or ()))
            cells = [
                f"v{version.id}" + (f" ← v{version.parent_id}" if version.parent_id else ""),
                version.architecture,
                "★ promoted" if version.promoted else "",
                str(n_images) if n_images else "—",
                format_metrics(version.metrics, limit=2),
                "● on screen" if version.id in on_screen else "",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, version.id)
                if column == 4:
                    item.setToolTip("\n".join(f"{k}: {v:.4g}" for k, v in flatten_metrics(version.metrics).items()))
                if version.id in on_screen:
                    item.setBackground(QBrush(QColor("#fff3c4")))
                    item.setFont(bold)
                self.versions_table.setItem(row, column, item)
        if selected is not None:
            self.select_version(selected)
        self._update_on_screen_label(on_screen)

    def refresh_on_screen(self) -> None:
        """Re-mark the version(s) that made the pre-labels of the current image."""
        self.refresh_versions()

    def _update_on_screen_label(self, on_screen: set[int]) -> None:
        if not self.versions_table.rowCount():
            self.on_screen_label.setText("No model versions yet: Start training makes the first one from the "
                                         "finished images; each later training adds a version here.")
        elif self.context.current_image_id() is None:
            self.on_screen_label.setText("No image open.")
        elif not on_screen:
            self.on_screen_label.setText("No pre-labels on the image on screen.")
        else:
            names = ", ".join(f"v{v}" for v in sorted(on_screen))
            self.on_screen_label.setText(f"Pre-labels on screen made by <b>{names}</b>.")

    def version_ids_listed(self) -> list[int]:
        """Version ids in table order (newest first)."""
        table = self.versions_table
        return [int(filled_cell(table, r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(table.rowCount())]

    def selected_version_id(self) -> int | None:
        rows = self.versions_table.selectionModel().selectedRows() if self.versions_table.selectionModel() else []
        if not rows:
            return None
        return int(filled_cell(self.versions_table, rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def select_version(self, version_id: int) -> None:
        ids = self.version_ids_listed()
        if version_id in ids:
            self.versions_table.selectRow(ids.index(version_id))

    def _on_version_selected(self) -> None:
        version_id = self.selected_version_id()
        if version_id is None or (self.train_job_id and not self.bridge.job(self.train_job_id).state.is_terminal):
            return  # the running training's curve stays on screen
        history = self.stored_history(version_id)
        self.curve.title = f"Learning curve — v{version_id}"
        self.curve.empty_text = "no per-epoch history stored for this version"
        self.curve.set_series(curve_series(history))
