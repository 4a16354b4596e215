"""What a job function receives besides its request: a progress callback and a cancel token.

Job functions (``run_prelabel``, ``run_train``, ``run_segment``) are pure: callable without any
process, from tests and the CLI. The worker passes callbacks that emit protocol events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.errors import JobCancelled


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "", metrics: dict[str, Any] | None = None) -> None:
        """Report ``done`` of ``total`` units (images, iterations) with a message."""


IsCancelled = Callable[[], bool]


def no_progress(done: int, total: int, message: str = "", metrics: dict[str, Any] | None = None) -> None:
    """A progress callback that ignores everything."""


def never_cancelled() -> bool:
    """A cancel token that is never set."""
    return False


def check_cancelled(is_cancelled: IsCancelled) -> None:
    """Raise :class:`JobCancelled` when the token is set (call between batches/iterations)."""
    if is_cancelled():
        raise JobCancelled("cancelled")
