"""Closing the main window while the REAL engine worker trains: the window closes at once
(no hang on the job in flight) and the worker process is gone a few seconds later."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("torch")  # the worker process needs it (the GUI process never imports it)

from app.assist.bridge import JobState
from engine.protocol import Train
from tests.app.assist.fakes import make_shapes_project

pytestmark = pytest.mark.slow

START_TIMEOUT_MS = 180_000  # the worker imports torch on a shared 2-core machine
GONE_WITHIN_S = 12.0  # the client waits 5 s for a clean exit, then terminates / kills


def _process_exists(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:
        return "zombie" not in status.read_text().lower()
    except OSError:
        return False


def test_closing_the_window_mid_training_stops_the_worker(qtbot, tmp_path: Path) -> None:
    from annotations.store import Project
    from app.main_window import MainWindow

    project = Project.open(make_shapes_project(tmp_path / "shapes", images=4, finished=4))
    window = MainWindow(project, owns_project=True)
    window.resize(1000, 700)
    window.show()
    bridge = window.assist.bridge
    # Far more training than the test waits for: the job is certainly running at close.
    job_id = bridge.submit(Train(str(Path(project.path).absolute()), model="unet_tiny", epochs=500, reprelabel=False), "Train")
    qtbot.waitUntil(lambda: bridge.job(job_id).state == JobState.RUNNING and bridge.job(job_id).done >= 1
                    or bridge.job(job_id).state.is_terminal, timeout=START_TIMEOUT_MS)
    info = bridge.job(job_id)
    assert info.state == JobState.RUNNING, f"{info.state}: {info.error_type} {info.error_message}"
    client = bridge.client
    pid = getattr(client, "pid", None)
    assert isinstance(pid, int) and _process_exists(pid)

    started = time.monotonic()
    assert window.close()
    close_s = time.monotonic() - started
    deadline = started + GONE_WITHIN_S
    while _process_exists(pid) and time.monotonic() < deadline:
        qtbot.wait(100)
    assert not _process_exists(pid), f"worker {pid} still runs {GONE_WITHIN_S} s after the window closed"
    assert close_s < GONE_WITHIN_S, f"closing the window took {close_s:.1f} s"
    print(f"\nwindow closed in {close_s:.2f} s; worker gone {time.monotonic() - started:.2f} s after close")
    assert bridge.client is None
