"""Job functions: ``run_prelabel``, ``run_train``, ``run_segment`` (pure: request, progress
callback, cancel token in; a result dataclass out) and :func:`run_job`, which dispatches.

Nothing heavy is imported here, so the worker can import this module before torch is loaded.
"""

from __future__ import annotations

from typing import Any, cast

from engine.errors import EngineInputError
from engine.jobs.context import IsCancelled, ProgressFn, never_cancelled, no_progress
from engine.protocol import JobRequest, Prelabel, Segment, Train
from engine.protocol import job_kind as protocol_job_kind


def job_kind(request: JobRequest) -> str:
    """``"prelabel"``, ``"train"`` or ``"segment"``; :class:`EngineInputError` otherwise."""
    try:
        return protocol_job_kind(request)
    except TypeError as exc:
        raise EngineInputError(str(exc)) from exc


def run_job(request: JobRequest, progress: ProgressFn = no_progress, is_cancelled: IsCancelled = never_cancelled) -> Any:
    """Run one job in this process and return its result dataclass.

    Raises :class:`engine.errors.JobCancelled` when cancelled, :class:`EngineInputError` for bad
    input, anything else for internal failures.
    """
    kind = job_kind(request)
    if kind == "prelabel":
        from engine.jobs.prelabel import run_prelabel

        return run_prelabel(cast(Prelabel, request), progress, is_cancelled)
    if kind == "train":
        from engine.jobs.train import run_train

        return run_train(cast(Train, request), progress, is_cancelled)
    from engine.jobs.segment import run_segment

    return run_segment(cast(Segment, request), progress, is_cancelled)
