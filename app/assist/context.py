"""What the assist panels share: the main window, the engine bridge, and change notifications
for the data the engine writes (predictions, model versions)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from annotations.model import Command
from annotations.model.changes import Change
from app.assist.bridge import EngineBridge
from engine.protocol import PrelabelResult, TrainResult

log = logging.getLogger(__name__)


def image_id_of(value: Any) -> int | None:
    """The image id of what ``window.current_image()`` returns (an Image, an id, or None)."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    image_id = getattr(value, "id", None)
    return int(image_id) if image_id else None


class AssistContext(QObject):
    """Shared state of the assist features of one main window.

    Signals: ``predictionsChanged()`` when the engine or an accept/reject changed the stored
    predictions; ``modelVersionsChanged()`` when a training job added a version.
    """

    predictionsChanged = Signal()
    modelVersionsChanged = Signal()

    def __init__(self, window: Any, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.bridge = bridge
        bridge.jobSucceeded.connect(self._on_job_succeeded)

    @property
    def project(self) -> Any:
        """The open ``annotations.store.Project`` (None when no project is open)."""
        return getattr(self.window, "project", None)

    @property
    def project_path(self) -> str:
        """Absolute path of the project file, as the engine requests want it."""
        project = self.project
        return str(Path(project.path).absolute()) if project is not None else ""

    def current_image_id(self) -> int | None:
        """The id of the image on the canvas, or None."""
        getter = getattr(self.window, "current_image", None)
        return image_id_of(getter() if callable(getter) else None)

    def execute(self, command: Command) -> Change:
        """Run an undoable command through the window (so its views follow); returns what changed."""
        execute = getattr(self.window, "execute", None)
        if callable(execute):
            return execute(command)
        return self.project.execute_change(command)

    def refresh_window(self) -> None:
        """Ask the window to re-read the store (image statuses, annotation list)."""
        refresh = getattr(self.window, "refresh", None)
        if callable(refresh):
            try:
                refresh()
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
