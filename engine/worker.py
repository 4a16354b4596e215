"""The engine worker process: a loop over job requests.

:func:`worker_main` is the target the client spawns (spawn context, never fork). This module
does not import torch at import time (the client references :func:`worker_main`); torch is
loaded in the worker process only.

Threads inside the worker:

* the **listener** reads the request queue: ``Segment`` requests and one-image ``Prelabel``
  requests (the annotator's "This image") go to the interactive lane,
  other job requests to the batch lane, ``Cancel`` sets the cancel token of the job (queued or
  running), ``Shutdown`` cancels everything and stops both lanes. It also notices a dead parent
  and stops the worker.
* the **main thread** is the batch lane: pre-label and train jobs, one at a time, in order.
* the **interactive thread** is the interactive lane: ``Segment`` jobs, one at a time, so an
  annotator's box-to-mask request never waits behind a training run (GrabCut and torch both
  release the GIL while they compute).

Every job emits ``Started``, ``Progress``..., then exactly one of ``Succeeded``, ``Failed``,
``Cancelled``.

**No static import chain from here to torch** (checked by the ``engine-gateway-no-torch`` and
``app-no-torch`` contracts in ``pyproject.toml``): the client imports this module for
:func:`worker_main`, and the GUI imports the client. The job code (:data:`JOBS_MODULE`) and torch
(:data:`TORCH_MODULE`) are loaded *by name* with :func:`importlib.import_module`, in the worker
process only.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from engine.errors import EngineInputError, JobCancelled
from engine.protocol import (
    Cancel,
    Cancelled,
    Event,
    Failed,
    JobRequest,
    Prelabel,
    Progress,
    Request,
    Segment,
    Shutdown,
    Started,
    Succeeded,
    Train,
)
from engine.protocol import job_kind as protocol_job_kind

log = logging.getLogger(__name__)

# Loaded by name inside the worker process (see the module docstring).
JOBS_MODULE = "engine.jobs"  # provides run_job(request, progress, is_cancelled) -> result dataclass
TORCH_MODULE = "torch"


class RequestSource(Protocol):
    """The request queue as the worker reads it (a ``multiprocessing`` queue)."""

    def get(self, block: bool = True, timeout: float | None = None) -> Request: ...


class EventSink(Protocol):
    """The event queue as the worker writes it (a ``multiprocessing`` queue)."""

    def put(self, obj: Event, /) -> None: ...


class ClosableEventSink(EventSink, Protocol):
    """The event queue of the worker process, flushed and closed when the worker ends."""

    def close(self) -> None: ...

    def join_thread(self) -> None: ...


class ProgressCallback(Protocol):
    """``engine.jobs.context.ProgressFn`` (not imported: importing it would import ``engine.jobs``)."""

    def __call__(self, done: int, total: int, message: str = "", metrics: dict[str, Any] | None = None) -> None: ...


class JobRunner(Protocol):
    """``engine.jobs.run_job``: runs one job in this process and returns its result dataclass."""

    def __call__(self, request: JobRequest, progress: ProgressCallback, is_cancelled: Callable[[], bool], /) -> object: ...


def load_job_runner() -> JobRunner:
    """``run_job`` of :data:`JOBS_MODULE`, imported now (in the worker process: it loads torch)."""
    runner: JobRunner = importlib.import_module(JOBS_MODULE).run_job
    return runner


PARENT_CHECK_S = 1.0
GPU_MEMORY_FRACTION_ENV = "SEGSTUDIO_GPU_MEMORY_FRACTION"
DEFAULT_GPU_MEMORY_FRACTION = 0.85


def _is_input_error(exc: BaseException) -> bool:
    if isinstance(exc, EngineInputError):
        return True
    try:
        from annotations.errors import AnnotationsError
    except ImportError:  # pragma: no cover - annotations is always there
        return False
    return isinstance(exc, AnnotationsError)


def describe_failure(exc: BaseException, kind: str) -> tuple[str, str]:
    """(error type, readable message) for a failed job; CUDA/CPU out-of-memory errors get a
    message that says what to do."""
    error_type = type(exc).__name__
    text = str(exc) or error_type
    oom = error_type == "OutOfMemoryError" or "out of memory" in text.lower() or isinstance(exc, MemoryError)
    if oom:
        where = "the CPU" if isinstance(exc, MemoryError) else "the GPU"
        return "OutOfMemoryError", (
            f"{where} ran out of memory during the {kind} job. Try a smaller batch size, a smaller "
            f"model, smaller images, or another device (--device cpu). ({text.splitlines()[0][:300]})"
        )
    return error_type, text


def _release_gpu_memory() -> None:
    torch: Any = sys.modules.get(TORCH_MODULE)  # only when a job loaded it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def configure_torch() -> None:
    """Load torch in the worker; cap its share of GPU memory when CUDA exists
    (``SEGSTUDIO_GPU_MEMORY_FRACTION``, default 0.85) so the desktop keeps some."""
    torch: Any = importlib.import_module(TORCH_MODULE)  # by name: see the module docstring
    if torch.cuda.is_available():
        fraction = float(os.environ.get(GPU_MEMORY_FRACTION_ENV, DEFAULT_GPU_MEMORY_FRACTION))
        for index in range(torch.cuda.device_count()):
            torch.cuda.set_per_process_memory_fraction(min(max(fraction, 0.05), 1.0), index)


class _Worker:
    def __init__(self, requests: RequestSource, events: EventSink) -> None:
        self.requests = requests
        self.events = events
        self.jobs: queue.Queue[JobRequest | None] = queue.Queue()
        self.interactive: queue.Queue[JobRequest | None] = queue.Queue()
        self.lock = threading.Lock()
        self.cancelled: set[str] = set()
        self.stopping = threading.Event()

    # ----------------------------------------------------------------- listener thread
    def listen(self) -> None:
        parent = multiprocessing.parent_process()
        while not self.stopping.is_set():
            try:
                message = self.requests.get(timeout=PARENT_CHECK_S)
            except queue.Empty:
                if parent is not None and not parent.is_alive():
                    log.info("engine worker: parent process is gone; stopping")
                    self.stop()
                    return
                continue
            except (EOFError, OSError):
                self.stop()
                return
            if isinstance(message, Cancel):
                with self.lock:
                    self.cancelled.add(message.job_id)
            elif isinstance(message, Shutdown):
                self.stop()
                return
            elif isinstance(message, Segment) or (isinstance(message, Prelabel) and len(message.image_ids) == 1):
                # An annotator waits on these: a one-image pre-label ("This image") must not queue
                # behind a training run and its re-predict of the whole project.
                self.interactive.put(message)
            elif isinstance(message, (Prelabel, Train)):
                self.jobs.put(message)
            else:
                log.warning("engine worker: ignoring unknown message %r", type(message).__name__)

    def stop(self) -> None:
        self.stopping.set()
        self.jobs.put(None)
        self.interactive.put(None)

    def is_cancelled(self, job_id: str) -> bool:
        if self.stopping.is_set():
            return True
        with self.lock:
            return job_id in self.cancelled

    # ----------------------------------------------------------------- main thread
    def emit(self, event: Event) -> None:
        self.events.put(event)

    def serve(self, lane: queue.Queue[JobRequest | None]) -> None:
        """Run the jobs of one lane in order until the lane's stop marker."""
        while True:
            request = lane.get()
            if request is None:
                return
            self.run_one(request)

    def run(self) -> None:
        listener = threading.Thread(target=self.listen, name="engine-listener", daemon=True)
        listener.start()
        interactive = threading.Thread(target=self.serve, args=(self.interactive,), name="engine-interactive",
                                       daemon=True)
        interactive.start()
        self.serve(self.jobs)
        interactive.join()
        # Jobs still queued at shutdown are reported cancelled.
        for lane in (self.jobs, self.interactive):
            while True:
                try:
                    request = lane.get_nowait()
                except queue.Empty:
                    break
                if request is not None:
                    self.emit(Started(request.job_id, _kind(request)))
                    self.emit(Cancelled(request.job_id))

    def run_one(self, request: JobRequest) -> None:
        run_job = load_job_runner()
        job_id = request.job_id
        kind = _kind(request)
        self.emit(Started(job_id, kind))
        if self.is_cancelled(job_id):
            self.emit(Cancelled(job_id))
            return

        def progress(done: int, total: int, message: str = "", metrics: dict[str, Any] | None = None) -> None:
            self.emit(Progress(job_id, int(done), int(total), message, dict(metrics or {})))

        failed = False
        try:
            result = run_job(request, progress, lambda: self.is_cancelled(job_id))
        except JobCancelled:
            self.emit(Cancelled(job_id))
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            error_type, message = describe_failure(exc, kind)
            self.emit(Failed(job_id, error_type, message, traceback.format_exc(), _is_input_error(exc)))
            failed = True
        else:
            self.emit(Succeeded(job_id, result))
        finally:
            with self.lock:
                self.cancelled.discard(job_id)
        if failed:
            # Out of the except block: the exception's traceback (the job's frames: model,
            # optimizer, activations) is gone, so the cache really returns their memory.
            _release_gpu_memory()


def _kind(request: JobRequest) -> str:
    try:
        return protocol_job_kind(request)
    except TypeError as exc:
        raise EngineInputError(str(exc)) from exc


def worker_main(requests: RequestSource, events: ClosableEventSink, env: dict[str, str] | None = None) -> None:
    """Entry point of the worker process: apply ``env`` (before torch loads), configure torch,
    run the job loop until ``Shutdown`` or the parent's death."""
    if env:
        os.environ.update({str(k): str(v) for k, v in env.items()})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s engine-worker: %(message)s")
    configure_torch()
    worker = _Worker(requests, events)
    try:
        worker.run()
    finally:
        events.close()
        events.join_thread()
