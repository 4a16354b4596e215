"""What the assist panels share: the main window, the engine bridge, and change notifications
for the data the engine writes (predictions, model versions)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from annotations.model import Command
from annotations.model.changes import Change
from annotations.store import Project
from app.assist.bridge import EngineBridge
from app.assist.host import AssistHost
from engine.protocol import PrelabelResult, TrainResult

log = logging.getLogger(__name__)


class AssistContext(QObject):
    """Shared state of the assist features of one main window.

    Signals: ``predictionsChanged()`` when the engine or an accept/reject changed the stored
    predictions; ``modelVersionsChanged()`` when a training job added a version;
    ``reviewMarksShown(bool)`` when the review's marks appear on (or leave) the canvas.
    """

    predictionsChanged = Signal()
    modelVersionsChanged = Signal()
    reviewMarksShown = Signal(bool)

    def __init__(self, window: AssistHost, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.bridge = bridge
        bridge.jobSucceeded.connect(self._on_job_succeeded)

    @property
    def project(self) -> Project:
        """The open project."""
        return self.window.project

    @property
    def project_path(self) -> str:
        """Absolute path of the project file, as the engine requests want it."""
        return str(Path(self.project.path).absolute())

    def current_image_id(self) -> int | None:
        """The id of the image on the canvas, or None."""
        image = self.window.current_image()
        return image.id if image is not None else None

    def execute(self, command: Command) -> Change:
        """Run an undoable command through the window (so its views follow); returns what changed."""
        return self.window.execute(command)

    def refresh_window(self) -> None:
        """Ask the window to re-read the store (image statuses, annotation list)."""
        try:
            self.window.refresh()
        except Exception:  # a view refresh must never take the bridge down
            log.exception("window.refresh() failed")

    def _on_job_succeeded(self, _job_id: str, result: object) -> None:
        if isinstance(result, TrainResult):
            self.modelVersionsChanged.emit()
            self.predictionsChanged.emit()
            self.refresh_window()
        elif isinstance(result, PrelabelResult):
            self.modelVersionsChanged.emit()  # a pretrained model used for the first time gets a version
            self.predictionsChanged.emit()
            self.refresh_window()
