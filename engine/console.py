"""Driving a job from a terminal: a progress bar on a text stream and the event loop around an
:class:`engine.client.EngineClient` (used by ``main.py prelabel`` and ``main.py train``).

Torch-free. Writes only to the stream it is given (stderr in the CLI).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from engine.errors import EngineError, EngineInputError
from engine.protocol import Cancelled, Event, Failed, JobRequest, Progress, Started, Succeeded, WorkerDied

BAR_WIDTH = 28


class ProgressBar:
    """``[#######-----]  12/40  30%  message`` redrawn in place on a terminal; on a pipe or a
    file, one line per 10 % step and one at the start (``done`` 0) of each new phase."""

    def __init__(self, stream: TextIO | None = None, *, label: str = "") -> None:
        self.stream = stream or sys.stderr
        self.label = label
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_step = -1
        self._last_message = ""
        self._last_draw = 0.0
        self._open_line = False

    def update(self, done: int, total: int, message: str = "", *, force: bool = False) -> None:
        """Show ``done`` of ``total`` with ``message``."""
        fraction = 0.0 if total <= 0 else min(max(done / total, 0.0), 1.0)
        filled = int(round(fraction * BAR_WIDTH))
        line = f"{self.label}[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {fraction:4.0%} {message}"
        if self.tty:
            now = time.monotonic()
            if force or now - self._last_draw > 0.1 or done >= total:
                self.stream.write("\r" + line[:160].ljust(100))
                self.stream.flush()
                self._last_draw = now
                self._open_line = True
            return
        step = int(fraction * 10)
        phase_start = done <= 0 and message != self._last_message  # e.g. validating, re-predicting
        if force or step != self._last_step or phase_start:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last_step = step
            self._last_message = message

    def note(self, text: str) -> None:
        """A line of its own (ends the bar's line first)."""
        self.close()
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def run_with_progress(request: JobRequest, *, stream: TextIO | None = None, label: str = "",
                      client_factory: Callable[[], Any] | None = None,
                      on_progress: Callable[[Progress, ProgressBar], None] | None = None) -> Any:
    """Run ``request`` on a fresh engine worker, drawing progress; return the job's result.

    Raises :class:`EngineInputError` when the job failed on bad input (the CLI exits 2),
    :class:`EngineError` for other failures, and ``KeyboardInterrupt`` after cancelling the job
    on Ctrl-C.
    """
    from engine.client import EngineClient

    bar = ProgressBar(stream, label=label)
    client = client_factory() if client_factory else EngineClient(max_restarts=0)

    def on_event(event: Event) -> None:
        if isinstance(event, Progress):
            if on_progress is not None:
                on_progress(event, bar)
            bar.update(event.done, event.total, event.message)
        elif isinstance(event, Started):
            bar.update(0, 1, "started", force=True)
        elif isinstance(event, WorkerDied):
            bar.note(f"the engine worker died (exit code {event.exit_code})")

    try:
        with client:
            try:
                end = client.run(request, on_event=on_event)
            except KeyboardInterrupt:
                bar.note("cancelling ...")
                client.cancel(request.job_id)
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    if any(isinstance(e, (Cancelled, Succeeded, Failed)) for e in client.poll(timeout=0.2)):
                        break
                raise
    finally:
        bar.close()
    if isinstance(end, Succeeded):
        return end.result
    if isinstance(end, Failed):
        if end.input_error:
            raise EngineInputError(end.message)
        raise EngineError(f"{end.error_type}: {end.message}\n{end.traceback_text}".rstrip())
    raise EngineError(f"the job was cancelled ({type(end).__name__})")
