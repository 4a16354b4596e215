"""The GUI's (and CLI's) handle on the engine worker process. Never imports torch.

    with EngineClient() as engine:
        job_id = engine.submit(Prelabel(project_path="a.segproj"))
        while True:
            for event in engine.poll(timeout=0.1):   # call from a Qt timer in the GUI
                ...

The worker is started with the ``spawn`` multiprocessing context (never ``fork``: CUDA and Qt do
not survive a fork). :meth:`EngineClient.poll` notices a dead worker: it emits
:class:`WorkerDied` and a :class:`Failed` for each job in flight, then restarts the worker (at
most ``max_restarts`` times).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import multiprocessing.queues
import queue
import time
from collections.abc import Callable

from engine.errors import WorkerError
from engine.policy import RetrainPolicy, RetrainState, retrain_state  # re-exported for the GUI
from engine.protocol import (
    TERMINAL_EVENTS,
    Cancel,
    Event,
    Failed,
    JobRequest,
    Prelabel,
    Request,
    Segment,
    Shutdown,
    Train,
    WorkerDied,
)
from engine.worker import worker_main  # torch-free: the worker loads job code and torch by name

__all__ = ["EngineClient", "RetrainPolicy", "RetrainState", "retrain_state"]

_POLL_SLICE_S = 0.05


class EngineClient:
    """Starts, feeds and watches the engine worker process.

    ``worker_env`` is applied to the worker's environment before torch loads (e.g.
    ``TORCH_HOME``, ``CUDA_VISIBLE_DEVICES``, ``SEGSTUDIO_GPU_MEMORY_FRACTION``). Not
    thread-safe: use it from one thread (the GUI thread).
    """

    def __init__(self, *, max_restarts: int = 3, worker_env: dict[str, str] | None = None) -> None:
        self.max_restarts = max_restarts
        self.worker_env = dict(worker_env or {})
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")
        self._process: multiprocessing.context.SpawnProcess | None = None
        self._requests: multiprocessing.queues.Queue[Request] | None = None
        self._events: multiprocessing.queues.Queue[Event] | None = None
        self._in_flight: dict[str, JobRequest] = {}
        self._pending: list[Event] = []  # events noticed outside poll(), returned by the next poll()
        self._closing = False

    # ----------------------------------------------------------------- life cycle
    def start(self) -> None:
        """Start the worker (no-op when it runs). Raises :class:`WorkerError` if it cannot."""
        if self._process is not None and self._process.is_alive():
            return
        self._closing = False
        self._requests = self._context.Queue()
        self._events = self._context.Queue()
        self._process = self._context.Process(
            target=worker_main,
            args=(self._requests, self._events, self.worker_env),
            name="segstudio-engine",
            daemon=True,
        )
        try:
            self._process.start()
        except Exception as exc:  # any start failure is reported the same way
            self._process = None
            raise WorkerError(f"cannot start the engine worker: {exc}") from exc

    def is_alive(self) -> bool:
        """Whether the worker process runs."""
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        """The worker's process id (None before :meth:`start`)."""
        return None if self._process is None else self._process.pid

    @property
    def in_flight(self) -> tuple[str, ...]:
        """Ids of the jobs submitted and not finished yet."""
        return tuple(self._in_flight)

    def kill(self) -> None:
        """SIGKILL the worker (tests, or a stuck CUDA kernel). The next :meth:`poll` reports it."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Ask the worker to stop (the job in flight is cancelled), wait ``timeout`` seconds,
        then terminate it. Jobs in flight get no further events."""
        self._closing = True
        process = self._process
        if process is None:
            return
        if process.is_alive():
            try:
                if self._requests is not None:
                    self._requests.put(Shutdown())
            except (OSError, ValueError):
                pass
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(1.0)
            if process.is_alive():
                process.kill()
                process.join(1.0)
        self._close_queues()
        self._process = None
        self._in_flight.clear()

    def _close_queues(self) -> None:
        for q in (self._requests, self._events):
            if q is None:
                continue
            try:
                q.cancel_join_thread()
                q.close()
            except (OSError, ValueError):
                pass
        self._requests = self._events = None

    def __enter__(self) -> EngineClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            if self._process is not None and self._process.is_alive():
                self._process.kill()
        except Exception:  # noqa: BLE001 - best-effort kill at interpreter exit: nothing may escape __del__
            pass

    # ----------------------------------------------------------------- requests
    def submit(self, request: JobRequest) -> str:
        """Queue a job (``Prelabel``, ``Train``, ``Segment``); returns its job id. Starts the
        worker if needed. A ``Cancel`` is forwarded to :meth:`cancel`."""
        if isinstance(request, Cancel):
            self.cancel(request.job_id)
            return request.job_id
        if not isinstance(request, (Prelabel, Train, Segment)):
            raise TypeError(f"not a job request: {type(request).__name__}")
        if self._process is not None and not self._process.is_alive() and not self._closing:
            # Died since the last poll: report it (next poll) before starting a new worker.
            self._pending.extend(self._collect_and_check())
        if not self.is_alive():
            self.start()
        requests = self._requests
        if requests is None:  # start() always makes the queues; a broken start raised already
            raise WorkerError("the engine worker has no request queue")
        self._in_flight[request.job_id] = request
        requests.put(request)
        return request.job_id

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop at its next batch or iteration (it then emits ``Cancelled``)."""
        if self._requests is not None and self.is_alive():
            self._requests.put(Cancel(job_id))

    # ----------------------------------------------------------------- events
    def poll(self, timeout: float = 0.0) -> list[Event]:
        """Drain the events the worker emitted, waiting up to ``timeout`` seconds for the first.

        Also notices a dead worker: emits ``WorkerDied(exit_code, restarted)`` and a ``Failed``
        for each job in flight, and restarts it (up to ``max_restarts`` times).
        """
        events, self._pending = self._pending, []
        if self._process is None:
            return events
        if events:
            timeout = 0.0
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            got = self._get(min(_POLL_SLICE_S, max(deadline - time.monotonic(), 0.0)))
            if got is not None:
                events.append(got)
                break
            if not self._process.is_alive() or time.monotonic() >= deadline:
                break
        self._settle(events)
        return events + self._collect_and_check()

    def _settle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, TERMINAL_EVENTS):
                self._in_flight.pop(event.job_id, None)

    def _collect_and_check(self) -> list[Event]:
        """Drain the queue, settle finished jobs, and handle a dead worker."""
        events = self._drain()
        self._settle(events)
        if not self._closing and self._process is not None and not self._process.is_alive():
            events.extend(self._handle_death())
        return events

    def _get(self, timeout: float) -> Event | None:
        if self._events is None:  # closed: nothing more to read
            return None
        try:
            if timeout <= 0:
                return self._events.get_nowait()
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None
        except (EOFError, OSError, ValueError, TypeError, AttributeError):
            # A worker killed mid-write leaves a truncated message: nothing more to read.
            return None

    def _drain(self) -> list[Event]:
        drained: list[Event] = []
        while True:
            event = self._get(0.0)
            if event is None:
                return drained
            drained.append(event)

    def _handle_death(self) -> list[Event]:
        exit_code = None if self._process is None else self._process.exitcode
        lost = list(self._in_flight.values())
        self._in_flight.clear()
        self._close_queues()
        self._process = None
        restarted = False
        if self.restarts < self.max_restarts:
            self.restarts += 1
            try:
                self.start()
                restarted = True
            except WorkerError:
                restarted = False
        events: list[Event] = [WorkerDied(exit_code, restarted)]
        for request in lost:
            events.append(
                Failed(
                    request.job_id,
                    "WorkerDied",
                    f"the engine worker died (exit code {exit_code}) while this job was queued or running"
                    + ("; it was restarted" if restarted else ""),
                )
            )
        return events

    def run(
        self,
        request: JobRequest,
        on_event: Callable[[Event], None] | None = None,
        timeout: float | None = None,
    ) -> Event:
        """Submit ``request`` and block until its terminal event, which is returned.

        Every event (of any job) is passed to ``on_event``. Raises :class:`WorkerError` on
        timeout (the job is cancelled first).
        """
        job_id = self.submit(request)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for event in self.poll(timeout=0.2):
                if on_event is not None:
                    on_event(event)
                if isinstance(event, TERMINAL_EVENTS) and event.job_id == job_id:
                    return event
            if deadline is not None and time.monotonic() > deadline:
                self.cancel(job_id)
                raise WorkerError(f"job {job_id} did not finish within {timeout} s")
