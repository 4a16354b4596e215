"""An event-loop latency probe: how late does a periodic timer fire?

A ``QTimer`` with a short interval is started; each time it fires, the delay beyond its interval
is recorded. A stalled event loop (a blocking call on the GUI thread) shows up as one long delay.
Used by the tests and by ``python bench/gui_latency.py``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer


@dataclass(frozen=True)
class LatencyStats:
    """Lateness of a periodic timer, in milliseconds."""

    samples: int
    interval_ms: float
    max_ms: float
    p99_ms: float
    p50_ms: float
    stalls_over_100ms: int

    def summary(self) -> str:
        """One line for logs and bench output."""
        return (
            f"{self.samples} ticks of {self.interval_ms:.0f} ms: lateness median {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, stalls > 100 ms: {self.stalls_over_100ms}"
        )


class EventLoopProbe(QObject):
    """Record how late a precise ``interval_ms`` timer fires while the event loop runs."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)
        self._last: float | None = None
        self.lateness_ms: list[float] = []

    def start(self) -> None:
        """Start (or restart) recording."""
        self.lateness_ms.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> LatencyStats:
        """Stop recording and summarize."""
        self._timer.stop()
        return self.stats()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.lateness_ms.append(max(0.0, (now - self._last) * 1000.0 - self.interval_ms))
        self._last = now

    def stats(self) -> LatencyStats:
        """Summary of the lateness recorded so far."""
        values = sorted(self.lateness_ms)
        if not values:
            return LatencyStats(0, float(self.interval_ms), 0.0, 0.0, 0.0, 0)

        def pct(q: float) -> float:
            return values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))]

        return LatencyStats(
            samples=len(values),
            interval_ms=float(self.interval_ms),
            max_ms=values[-1],
            p99_ms=pct(0.99),
            p50_ms=pct(0.5),
            stalls_over_100ms=sum(1 for v in values if v > 100.0),
        )
