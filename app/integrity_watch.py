"""The project file's integrity check, off the GUI thread.

``Project.open(path, defer_check=True)`` skips ``PRAGMA quick_check`` when the file was closed
cleanly (it still checks a file that was not: see ``Project.open``), because the check reads the
whole file (~0.7 s per 170 MB) and would freeze the window while a large project opens. The
window then runs the check here, in a daemon thread on its own read-only connection; a damaged
file is reported through :attr:`IntegrityWatch.damaged` (queued to the GUI thread) and the
window stops writing to it. Closing the window stops the check first (:meth:`IntegrityWatch.stop`):
a check still reading when the program exits would keep the file's ``-wal`` log in place, and the
next opening would then take it for a crash and check the whole file while the user waits.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from annotations.errors import StoreError
from annotations.store.integrity import FileCheck

log = logging.getLogger(__name__)


class IntegrityWatch(QObject):
    """Signals: ``damaged(str)`` with the message naming the file and the repair command;
    ``finished(bool)`` once the check ran (True: the file is sound)."""

    damaged = Signal(str)
    finished = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None
        self._check: FileCheck | None = None
        self.result: bool | None = None
        """None while the check runs (or before it starts), then whether the file is sound."""
        self.finished.connect(self._remember)

    def start(self, path: str | Path) -> None:
        """Check project file ``path`` in a background thread."""
        check = self._check = FileCheck(path)

        def work() -> None:
            try:
                if not check.run():
                    return  # stopped: the window is closing, nothing to report
            except StoreError as exc:  # CorruptProjectError, StoreFaultError: name the file
                log.error("integrity check of %s failed: %s", path, exc)
                self._report(str(exc))
                return
            self._report(None)

        self._thread = threading.Thread(target=work, name="integrity-check", daemon=True)
        self._thread.start()

    def _report(self, problem: str | None) -> None:
        """Emit the outcome from the check thread (queued to the GUI thread); nothing when the
        window closed meanwhile (its watch is gone)."""
        try:
            if problem is not None:
                self.damaged.emit(problem)
            self.finished.emit(problem is None)
        except RuntimeError:  # the C++ object was deleted with its window
            log.info("integrity check finished after its window closed")

    def _remember(self, sound: bool) -> None:
        self.result = sound

    def stop(self, timeout_s: float = 5.0) -> None:
        """Interrupt a running check and wait (at most ``timeout_s`` seconds) until its thread
        has closed its connection; nothing is reported for a stopped check."""
        if self._check is not None:
            self._check.stop()
        self.wait(timeout_s)

    def wait(self, timeout_s: float = 30.0) -> None:
        """Block until the check thread ends (tests and benchmarks; the GUI never waits)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
