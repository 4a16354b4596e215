"""The engine bridge: the GUI's only door to the engine worker.

:class:`EngineBridge` owns an ``engine.client.EngineClient`` (built lazily on first use by a
factory, so tests can hand in a fake), polls it from a ``QTimer`` with ``poll(timeout=0.0)`` — the
event loop never waits on the worker — and re-emits the protocol events as Qt signals. It keeps a
:class:`JobInfo` per job for the jobs panel.

Starting the worker may take a while (a fresh interpreter); the client's ``start()`` therefore
runs in a short-lived thread and requests submitted meanwhile are queued and sent once it is up.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from engine.protocol import (
    Cancelled,
    Event,
    Failed,
    JobRequest,
    PrelabelResult,
    Progress,
    SegmentResult,
    Started,
    Succeeded,
    TrainResult,
    WorkerDied,
    job_kind,
)

JobResult = PrelabelResult | TrainResult | SegmentResult
"""What a succeeded job returns (``Succeeded.result``); anything else fails the job."""

log = logging.getLogger(__name__)


class ClientLike(Protocol):
    """What the bridge needs from ``engine.client.EngineClient``."""

    @property
    def pid(self) -> int | None: ...  # the worker process (None while none runs)
    def start(self) -> None: ...
    def submit(self, request: JobRequest) -> str: ...
    def cancel(self, job_id: str) -> None: ...
    def poll(self, timeout: float = 0.0) -> list[Event]: ...
    def is_alive(self) -> bool: ...
    def shutdown(self, timeout: float = 5.0) -> None: ...


QUIT_GRACE_S = 0.3
"""Seconds a closing window gives the engine worker to stop before it is terminated (it used to
wait 5 s for a worker still importing torch or inside a training epoch)."""


class JobState(str, Enum):
    """Where a job is, as the GUI sees it."""

    QUEUED = "queued"  # submitted, no Started yet (or waiting for the worker to start)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Succeeded, failed or cancelled: no more events will come."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class WorkerState(str, Enum):
    """The worker process as the GUI sees it."""

    NOT_STARTED = "not started"
    STARTING = "starting"
    RUNNING = "running"
    DOWN = "down"  # died and the client gave up restarting it (or start failed)


@dataclass
class JobInfo:
    """What the GUI knows about one job. ``history`` collects the ``metrics`` dicts of its
    Progress events in order (e.g. one per training epoch)."""

    job_id: str
    kind: str
    title: str
    request: JobRequest
    state: JobState = JobState.QUEUED
    done: int = 0
    total: int = 0
    message: str = ""
    history: list[dict[str, object]] = field(default_factory=list)
    result: JobResult | None = None
    error_type: str = ""
    error_message: str = ""
    traceback_text: str = ""
    submitted_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    cancel_requested: bool = False

    @property
    def fraction(self) -> float | None:
        """done / total in [0, 1], or None while the total is unknown."""
        if self.total <= 0:
            return None
        return max(0.0, min(1.0, self.done / self.total))


WORKER_NICENESS = 10
"""How much lower than the GUI the worker's CPU priority is (POSIX nice increment): on a machine
busy with training, the scheduler then serves the event loop first."""


def lower_priority(pid: int | None, increment: int) -> bool:
    """Raise the nice value of process ``pid`` by ``increment`` (POSIX only; a no-op elsewhere
    or when not permitted). Returns whether it was applied."""
    if pid is None or increment <= 0 or os.name != "posix":
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        os.setpriority(os.PRIO_PROCESS, pid, min(19, current + increment))
    except OSError:
        return False
    return True


def _default_client_factory() -> ClientLike:
    from engine.client import EngineClient  # torch-free by contract

    return EngineClient(max_restarts=3)


class EngineBridge(QObject):
    """Engine events as Qt signals; jobs submitted and cancelled from the GUI thread.

    Signals (all emitted on the GUI thread, from the poll timer):
    ``jobAdded(job_id)``, ``jobChanged(job_id)`` (any change of a job's JobInfo),
    ``jobStarted(job_id, kind)``, ``jobProgress(job_id, done, total, message, metrics)``,
    ``jobSucceeded(job_id, result)``, ``jobFailed(job_id, error_type, message, traceback_text)``,
    ``jobCancelled(job_id)``, ``jobFinished(job_id)`` (after any terminal event),
    ``workerStateChanged(state_value)``, ``workerDied(exit_code, restarted)``.
    """

    jobAdded = Signal(str)
    jobChanged = Signal(str)
    jobStarted = Signal(str, str)
    jobProgress = Signal(str, int, int, str, object)
    jobSucceeded = Signal(str, object)
    jobFailed = Signal(str, str, str, str)
    jobCancelled = Signal(str)
    jobFinished = Signal(str)
    workerStateChanged = Signal(str)
    workerDied = Signal(object, bool)

    def __init__(
        self,
        client_factory: Callable[[], ClientLike] | None = None,
        *,
        poll_interval_ms: int = 20,
        max_events_per_tick: int = 500,
        worker_niceness: int = WORKER_NICENESS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker_niceness = worker_niceness
        self._niced_pid: int | None = None
        self._factory = client_factory or _default_client_factory
        self._client: ClientLike | None = None
        self._worker_state = WorkerState.NOT_STARTED
        self._start_thread: threading.Thread | None = None
        self._closing = False
        self._start_error: BaseException | None = None
        self._pending: list[JobRequest] = []  # requests waiting for the worker to come up
        self._jobs: dict[str, JobInfo] = {}
        self._backlog: deque[Event] = deque()
        self._max_events = max_events_per_tick
        self.last_worker_death: WorkerDied | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(poll_interval_ms)
        self._timer.timeout.connect(self._tick)

    # ------------------------------------------------------------------ state
    @property
    def worker_state(self) -> WorkerState:
        return self._worker_state

    @property
    def client(self) -> ClientLike | None:
        """The client, once started (None before first use)."""
        return self._client

    def jobs(self) -> list[JobInfo]:
        """Every job this session, oldest first."""
        return list(self._jobs.values())

    def job(self, job_id: str) -> JobInfo:
        """The JobInfo of ``job_id`` (KeyError if unknown)."""
        return self._jobs[job_id]

    def active_jobs(self, kind: str | None = None) -> list[JobInfo]:
        """Jobs not finished yet (of ``kind`` if given)."""
        return [j for j in self._jobs.values() if not j.state.is_terminal and (kind is None or j.kind == kind)]

    def _set_worker_state(self, state: WorkerState) -> None:
        if state != self._worker_state:
            self._worker_state = state
            self.workerStateChanged.emit(state.value)

    # ------------------------------------------------------------------ starting
    def ensure_started(self) -> None:
        """Start the worker if it is not running (non-blocking: the start runs in a thread)."""
        if self._worker_state in (WorkerState.STARTING, WorkerState.RUNNING):
            return
        self._start_error = None
        self._closing = False
        self._set_worker_state(WorkerState.STARTING)
        self._start_thread = threading.Thread(target=self._start_client, name="engine-start", daemon=True)
        self._start_thread.start()
        self._timer.start()

    def _start_client(self) -> None:
        try:
            client = self._factory()
            client.start()
        except BaseException as exc:  # noqa: BLE001 - any start failure is reported on the GUI thread by _tick
            self._start_error = exc
            return
        if self._closing:  # the window closed while the worker started
            client.shutdown(timeout=QUIT_GRACE_S)
            return
        self._client = client

    def wait_started(self, timeout_s: float = 60.0) -> bool:
        """Block until the start thread is done (tests and the CLI only, never the GUI)."""
        if self._start_thread is not None:
            self._start_thread.join(timeout_s)
        self._tick()
        return self._worker_state == WorkerState.RUNNING

    def restart(self) -> None:
        """Throw the current client away and start a fresh worker (after the client gave up)."""
        old, self._client = self._client, None
        if old is not None:
            try:
                old.shutdown()
            except Exception:  # a dead client may fail to shut down; it is gone either way
                log.exception("shutting down the old engine client failed")
        for job in self.active_jobs():
            if job.request is not None and job not in self._pending_jobs():
                self._finish_failed(job.job_id, "WorkerRestarted", "the engine was restarted", "")
        self._worker_state = WorkerState.DOWN
        self.ensure_started()

    def _pending_jobs(self) -> list[JobInfo]:
        ids = {r.job_id for r in self._pending}
        return [self._jobs[i] for i in ids if i in self._jobs]

    # ------------------------------------------------------------------ jobs
    def submit(self, request: JobRequest, title: str = "") -> str:
        """Queue a Prelabel, Train or Segment request; returns its job id at once."""
        kind = job_kind(request)
        info = JobInfo(request.job_id, kind, title or kind.capitalize(), request)
        self._jobs[info.job_id] = info
        self.jobAdded.emit(info.job_id)
        if self._worker_state == WorkerState.RUNNING and self._client is not None:
            self._send(request)
        else:
            self._pending.append(request)
            self.ensure_started()
        return info.job_id

    def _send(self, request: JobRequest) -> None:
        assert self._client is not None
        try:
            self._client.submit(request)
        except Exception as exc:
            log.exception("submitting %s failed", request.job_id)
            self._finish_failed(request.job_id, type(exc).__name__, f"could not send the job to the engine: {exc}", "")

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop (cooperative: the worker stops at its next batch or iteration)."""
        info = self._jobs.get(job_id)
        if info is None or info.state.is_terminal:
            return
        info.cancel_requested = True
        for i, request in enumerate(self._pending):
            if request.job_id == job_id:  # never reached the worker
                del self._pending[i]
                self._on_event(Cancelled(job_id))
                return
        if self._client is not None:
            try:
                self._client.cancel(job_id)
            except Exception:
                log.exception("cancelling %s failed", job_id)
        self.jobChanged.emit(job_id)

    def forget_finished(self) -> None:
        """Drop finished jobs from the list (the jobs panel's Clear button)."""
        for job_id in [j.job_id for j in self._jobs.values() if j.state.is_terminal]:
            del self._jobs[job_id]
            self.jobChanged.emit(job_id)

    def shutdown(self, grace_s: float = QUIT_GRACE_S) -> None:
        """Stop polling and shut the worker down (the main window is closing) without making
        the user wait: the worker gets ``grace_s`` seconds to stop, then it is terminated (its
        project writes are SQLite transactions: a cut one is rolled back). A worker still
        starting is shut down by its start thread once it is up."""
        self._timer.stop()
        self._closing = True
        if self._client is not None:
            try:
                self._client.shutdown(timeout=grace_s)
            except Exception:
                log.exception("engine shutdown failed")
            self._client = None
        self._set_worker_state(WorkerState.NOT_STARTED)

    # ------------------------------------------------------------------ polling
    def _tick(self) -> None:
        """One timer tick: finish a pending start, then drain the client without waiting."""
        if self._worker_state == WorkerState.STARTING:
            if self._start_error is not None:
                exc, self._start_error = self._start_error, None
                self._set_worker_state(WorkerState.DOWN)
                for request in self._pending:
                    self._finish_failed(request.job_id, type(exc).__name__, f"the engine did not start: {exc}", "")
                self._pending.clear()
                return
            if self._client is None:
                return  # still starting
            self._set_worker_state(WorkerState.RUNNING)
            pending, self._pending = self._pending, []
            for request in pending:
                self._send(request)
        if self._client is None:
            return
        pid = self._client.pid
        if pid is not None and pid != self._niced_pid:  # a new or restarted worker
            self._niced_pid = pid
            lower_priority(pid, self.worker_niceness)
        if not self._backlog:
            try:
                self._backlog.extend(self._client.poll(0.0))
            except Exception:
                log.exception("polling the engine failed")
                return
        # A bounded number per tick keeps one tick short; the rest waits for the next tick.
        for _ in range(min(self._max_events, len(self._backlog))):
            self._on_event(self._backlog.popleft())

    def process_events_now(self) -> None:
        """Poll once immediately (tests)."""
        self._tick()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, WorkerDied):
            self.last_worker_death = event
            self.workerDied.emit(event.exit_code, bool(event.restarted))
            if not event.restarted:
                self._set_worker_state(WorkerState.DOWN)
            return
        info = self._jobs.get(event.job_id)
        if info is None:
            return  # a job of another session or one forgotten by the user
        if isinstance(event, Started):
            info.state = JobState.RUNNING
            self.jobStarted.emit(info.job_id, event.kind)
        elif isinstance(event, Progress):
            info.state = JobState.RUNNING
            info.done, info.total, info.message = int(event.done), int(event.total), event.message
            if event.metrics:
                info.history.append(dict(event.metrics))
            self.jobProgress.emit(info.job_id, info.done, info.total, info.message, dict(event.metrics))
        elif isinstance(event, Succeeded):
            result = event.result
            if not isinstance(result, (PrelabelResult, TrainResult, SegmentResult)):
                self._finish_failed(info.job_id, "ProtocolError",
                                    f"the engine answered with an unknown result ({result!r:.80})", "")
                return
            info.state, info.result, info.finished_at = JobState.SUCCEEDED, result, time.monotonic()
            if info.total > 0:
                info.done = info.total
            self.jobSucceeded.emit(info.job_id, result)
            self.jobFinished.emit(info.job_id)
        elif isinstance(event, Failed):
            self._finish_failed(info.job_id, event.error_type, event.message, event.traceback_text)
            return
        elif isinstance(event, Cancelled):
            info.state, info.finished_at = JobState.CANCELLED, time.monotonic()
            self.jobCancelled.emit(info.job_id)
            self.jobFinished.emit(info.job_id)
        self.jobChanged.emit(info.job_id)

    def _finish_failed(self, job_id: str, error_type: str, message: str, traceback_text: str) -> None:
        info = self._jobs.get(job_id)
        if info is None or info.state.is_terminal:
            return
        info.state, info.finished_at = JobState.FAILED, time.monotonic()
        info.error_type, info.error_message, info.traceback_text = error_type, message, traceback_text
        self.jobFailed.emit(job_id, error_type, message, traceback_text)
        self.jobFinished.emit(job_id)
        self.jobChanged.emit(job_id)
