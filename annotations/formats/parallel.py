"""Spreading an export over processes: chunks of image ids, each handled by a worker that
opens the project read-only, results returned in chunk order.

Workers are forked where that is safe (Linux, one Python thread, no Qt loaded: a CLI export)
and spawned otherwise (the GUI process), so a Qt application is never forked.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, TypeVar

from annotations.store import Project

T = TypeVar("T")
ChunkFunction = Callable[[Project, Sequence[int]], T]

_worker_project: Project | None = None


def _open(path: str) -> None:
    global _worker_project
    _worker_project = Project.open(path, readonly=True)


def _run(function: ChunkFunction[Any], chunk: Sequence[int]) -> Any:
    assert _worker_project is not None
    return function(_worker_project, chunk)


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux") and threading.active_count() == 1 and "PySide6" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def chunked(ids: Sequence[int], workers: int, per_worker: int = 8) -> list[list[int]]:
    """Split ids into about ``workers * per_worker`` consecutive chunks (at least one id each)."""
    if not ids:
        return []
    count = max(1, min(len(ids), workers * per_worker))
    size = -(-len(ids) // count)
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def map_chunks(
    project: Project,
    function: ChunkFunction[Any],
    chunks: Sequence[Sequence[int]],
    *,
    workers: int = 1,
    on_chunk_done: Callable[[int], None] | None = None,
) -> list[Any]:
    """``[function(project, chunk) for chunk in chunks]``, in ``workers`` processes when > 1.

    ``function`` must be a module-level function (it is pickled). ``on_chunk_done(n_ids)`` is
    called in this process as chunks finish (for progress). Errors in a worker are re-raised.
    """
    if workers <= 1 or len(chunks) <= 1:
        results = []
        for chunk in chunks:
            results.append(function(project, chunk))
            if on_chunk_done is not None:
                on_chunk_done(len(chunk))
        return results
    results_by_index: dict[int, Any] = {}
    path = str(Path(project.path).absolute())
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=_context(),
                             initializer=_open, initargs=(path,)) as pool:
        futures = {pool.submit(_run, function, chunk): index for index, chunk in enumerate(chunks)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                results_by_index[index] = future.result()
                if on_chunk_done is not None:
                    on_chunk_done(len(chunks[index]))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return [results_by_index[i] for i in range(len(chunks))]
