"""The jobs panel: one row per engine job (title, state, progress bar, Cancel), failures as a
readable line with the traceback one click away (Details…), and the worker's health on top."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.assist.bridge import EngineBridge, JobInfo, JobState, WorkerState
from app.assist.text_format import tidy_numbers
from engine.protocol import PrelabelResult, SegmentResult, TrainResult

_STATE_COLORS = {
    JobState.QUEUED: "#7f8c8d",
    JobState.RUNNING: "#2471a3",
    JobState.SUCCEEDED: "#1e8449",
    JobState.FAILED: "#c0392b",
    JobState.CANCELLED: "#9a7d0a",
}


def describe_result(info: JobInfo) -> str:
    """A one-line human summary of a finished job's result."""
    result = info.result
    if info.state == JobState.FAILED:
        return f"{info.error_type}: {info.error_message}" if info.error_type else info.error_message
    if info.state == JobState.CANCELLED:
        return "cancelled"
    if info.state != JobState.SUCCEEDED or result is None:
        return tidy_numbers(info.message)
    if isinstance(result, PrelabelResult):
        return f"{result.prediction_count} predictions on {len(result.image_ids)} images (model v{result.model_version_id})"
    if isinstance(result, TrainResult):
        verdict = "promoted" if result.promoted else "not promoted (validation did not improve)"
        return f"model v{result.model_version_id}, {result.epochs_run} epochs, {verdict}"
    if isinstance(result, SegmentResult):
        return f"mask in {result.milliseconds:.0f} ms ({result.method.value})"
    return "done"


class JobRow(QFrame):
    """One job: title and state, progress bar, message, Cancel and Details buttons."""

    def __init__(self, bridge: EngineBridge, job_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.job_id = job_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"job-{job_id}")
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(16)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this job at its next batch or epoch")
        self.cancel_button.clicked.connect(lambda: self.bridge.cancel(self.job_id))
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("Show the error and the worker's traceback")
        self.details_button.clicked.connect(self.show_details)
        self.details_box: QMessageBox | None = None

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.details_button)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        self.update_from_job()

    def update_from_job(self) -> None:
        """Redraw from the bridge's JobInfo."""
        info = self.bridge.job(self.job_id)
        color = _STATE_COLORS[info.state]
        state = info.state.value
        if info.cancel_requested and not info.state.is_terminal:
            state = "cancelling…"
        self.title.setText(f"<b>{info.title}</b> &nbsp;<span style='color:{color}'>{state}</span>")
        fraction = info.fraction
        if info.state == JobState.RUNNING and fraction is None:
            self.progress.setRange(0, 0)  # busy indicator until the first Progress
        else:
            self.progress.setRange(0, 1000)
            value = 1000 if info.state == JobState.SUCCEEDED else int(1000 * (fraction or 0.0))
            self.progress.setValue(value)
            if info.state == JobState.SUCCEEDED:
                self.progress.setFormat("done")
            else:
                self.progress.setFormat(f"{info.done}/{info.total}" if info.total else "%p%")
        self.progress.setVisible(not info.state.is_terminal or info.state == JobState.SUCCEEDED)
        text = describe_result(info) if info.state.is_terminal else tidy_numbers(info.message)
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {color};" if info.state == JobState.FAILED else "")
        self.cancel_button.setVisible(not info.state.is_terminal)
        self.cancel_button.setEnabled(not info.cancel_requested)
        self.details_button.setVisible(info.state == JobState.FAILED)

    def show_details(self) -> QMessageBox:
        """Open (non-modally) a message box with the error and the traceback as details."""
        info = self.bridge.job(self.job_id)
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle(f"{info.title} failed")
        box.setText(f"{info.title} failed.")
        box.setInformativeText(f"{info.error_type}: {info.error_message}" if info.error_type else info.error_message)
        box.setDetailedText(info.traceback_text or "(the worker sent no traceback)")
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.open()
        self.details_box = box
        return box


class JobsPanel(QWidget):
    """All jobs of the session, newest on top, and the worker's health."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.rows: dict[str, JobRow] = {}
        self.worker_label = QLabel()
        self.worker_label.setWordWrap(True)
        self.worker_label.setTextFormat(Qt.TextFormat.RichText)
        self.restart_button = QPushButton("Restart engine")
        self.restart_button.clicked.connect(self.bridge.restart)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.clicked.connect(self._clear_finished)
        self.empty_label = QLabel(
            "No jobs in this session yet. Pre-labeling (Model ▸ Pre-label this image / all unfinished images) and "
            "training run here, in the engine's own process, with their progress, Cancel and results; the window "
            "never waits for them.")
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #7f8c8d;")

        header = QHBoxLayout()
        header.addWidget(self.worker_label, 1)
        header.addWidget(self.restart_button)
        header.addWidget(self.clear_button)

        self._list = QWidget()
        self._list_layout = QVBoxLayout(self._list)
        self._list_layout.setContentsMargins(0, 0, 0, 0)
        self._list_layout.addWidget(self.empty_label)
        self._list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._list)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(scroll, 1)

        bridge.jobAdded.connect(self._on_job_added)
        bridge.jobChanged.connect(self._on_job_changed)
        bridge.workerStateChanged.connect(lambda _state: self._update_worker())
        bridge.workerDied.connect(lambda _code, _restarted: self._update_worker())
        for info in bridge.jobs():
            self._on_job_added(info.job_id)
        self._update_worker()

    @staticmethod
    def shows(info: JobInfo) -> bool:
        """Interactive segment jobs are listed only when they fail (they come by the dozen)."""
        return info.kind != "segment" or info.state == JobState.FAILED

    def _on_job_added(self, job_id: str) -> None:
        info = self.bridge.job(job_id)
        if not self.shows(info) or job_id in self.rows:
            return
        row = JobRow(self.bridge, job_id)
        self.rows[job_id] = row
        self._list_layout.insertWidget(0, row)  # newest on top
        self.empty_label.setVisible(False)

    def _on_job_changed(self, job_id: str) -> None:
        try:
            self.bridge.job(job_id)
        except KeyError:  # forgotten
            row = self.rows.pop(job_id, None)
            if row is not None:
                row.setParent(None)
                row.deleteLater()
            self.empty_label.setVisible(not self.rows)
            return
        if job_id not in self.rows:
            self._on_job_added(job_id)
        row = self.rows.get(job_id)
        if row is not None:
            row.update_from_job()

    def _clear_finished(self) -> None:
        self.bridge.forget_finished()

    def _update_worker(self) -> None:
        state = self.bridge.worker_state
        pid = self.bridge.client.pid if self.bridge.client is not None else None
        text = f"Engine: <b>{state.value}</b>"
        if state == WorkerState.RUNNING and pid is not None:
            text += f" (pid {pid})"
        elif state == WorkerState.NOT_STARTED:
            text += " — it starts on the first pre-label, training or interactive-mask request"
        death = self.bridge.last_worker_death
        if death is not None:
            code = "unknown" if death.exit_code is None else str(death.exit_code)
            then = "and was restarted" if death.restarted else "and could not be restarted"
            text += f"<br><span style='color:#c0392b'>The worker died (exit code {code}) {then}.</span>"
        self.worker_label.setText(text)
        self.restart_button.setVisible(state == WorkerState.DOWN)
