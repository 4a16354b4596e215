"""Model-assisted labeling in the GUI (engine bridge, pre-label layer, interactive mask tool,
training panel, review dashboard). ``install(window)`` is called once by the main window."""

from __future__ import annotations

from typing import Any


def install(window: Any) -> None:
    """Attach the assist panels and tools to ``window`` (a MainWindow). Placeholder until the
    model-assisted-labeling issue fills it."""
