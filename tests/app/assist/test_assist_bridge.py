"""The engine bridge and the jobs panel against a scripted client (no worker process)."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")

from app.assist.bridge import EngineBridge, JobState, WorkerState
from app.assist.jobs_panel import JobsPanel
from engine.protocol import (
    Cancelled,
    Failed,
    Prelabel,
    PrelabelResult,
    Progress,
    Segment,
    Started,
    Succeeded,
    Train,
    WorkerDied,
)
from tests.app.assist.fakes import FakeClient


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def bridge(qtbot, client):
    b = EngineBridge(lambda: client, poll_interval_ms=5)
    yield b
    b.shutdown()


def test_worker_starts_on_first_use_and_requests_wait_for_it(qtbot) -> None:
    gate = threading.Event()
    client = FakeClient(start_gate=gate)
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    assert bridge.worker_state == WorkerState.NOT_STARTED
    job_id = bridge.submit(Prelabel("p.segproj"), "Pre-label")
    assert bridge.worker_state == WorkerState.STARTING  # submit returned although start() blocks
    assert bridge.job(job_id).state == JobState.QUEUED
    assert client.submitted == []
    gate.set()
    qtbot.waitUntil(lambda: bridge.worker_state == WorkerState.RUNNING, timeout=3000)
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    assert client.submitted[0].job_id == job_id
    bridge.shutdown()
    assert client.shut_down


def test_events_become_signals_and_job_state(qtbot, bridge, client) -> None:
    job_id = bridge.submit(Prelabel("p.segproj", image_ids=(1, 2)), "Pre-label 2 images")
    qtbot.waitUntil(lambda: bool(client.submitted), timeout=3000)
    progress: list[tuple] = []
    bridge.jobProgress.connect(lambda *args: progress.append(args))
    result = PrelabelResult(3, (1, 2), 7, 0.5)
    with qtbot.waitSignal(bridge.jobSucceeded, timeout=3000) as blocker:
        client.emit(Started(job_id, "prelabel"), Progress(job_id, 1, 2, "image 1", {"loss": 0.5}),
                    Succeeded(job_id, result))
    assert blocker.args == [job_id, result]
    info = bridge.job(job_id)
    assert info.state == JobState.SUCCEEDED and info.result == result
    assert (info.done, info.total) == (2, 2)
    assert progress == [(job_id, 1, 2, "image 1", {"loss": 0.5})]
    assert info.history == [{"loss": 0.5}]


def test_failure_is_kept_with_traceback(qtbot, bridge, client) -> None:
    job_id = bridge.submit(Train("p.segproj", model="unet"), "Train")
    qtbot.waitUntil(lambda: bool(client.submitted), timeout=3000)
    with qtbot.waitSignal(bridge.jobFailed, timeout=3000):
        client.emit(Started(job_id, "train"), Failed(job_id, "ValueError", "no finished images", "Traceback ...\nValueError"))
    info = bridge.job(job_id)
    assert info.state == JobState.FAILED
    assert (info.error_type, info.error_message) == ("ValueError", "no finished images")
    assert "Traceback" in info.traceback_text


def test_cancel_before_the_worker_is_up_never_reaches_it(qtbot) -> None:
    gate = threading.Event()
    client = FakeClient(start_gate=gate)
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    job_id = bridge.submit(Train("p.segproj"))
    with qtbot.waitSignal(bridge.jobCancelled, timeout=1000):
        bridge.cancel(job_id)
    gate.set()
    qtbot.waitUntil(lambda: bridge.worker_state == WorkerState.RUNNING, timeout=3000)
    assert client.submitted == [] and bridge.job(job_id).state == JobState.CANCELLED
    bridge.shutdown()


def test_cancel_of_a_running_job_goes_to_the_client(qtbot, bridge, client) -> None:
    job_id = bridge.submit(Train("p.segproj"))
    qtbot.waitUntil(lambda: bool(client.submitted), timeout=3000)
    client.emit(Started(job_id, "train"))
    qtbot.waitUntil(lambda: bridge.job(job_id).state == JobState.RUNNING, timeout=3000)
    bridge.cancel(job_id)
    assert client.cancelled == [job_id]
    assert bridge.job(job_id).cancel_requested
    with qtbot.waitSignal(bridge.jobCancelled, timeout=3000):
        client.emit(Cancelled(job_id))
    assert bridge.job(job_id).state == JobState.CANCELLED


def test_worker_death_reported_and_down_when_not_restarted(qtbot, bridge, client) -> None:
    bridge.submit(Segment("p.segproj", 1, box_xyxy=(0, 0, 5, 5)))
    qtbot.waitUntil(lambda: bridge.worker_state == WorkerState.RUNNING, timeout=3000)
    with qtbot.waitSignal(bridge.workerDied, timeout=3000) as blocker:
        client.emit(WorkerDied(-9, True))
    assert blocker.args == [-9, True]
    assert bridge.worker_state == WorkerState.RUNNING
    with qtbot.waitSignal(bridge.workerDied, timeout=3000):
        client.emit(WorkerDied(-9, False))
    assert bridge.worker_state == WorkerState.DOWN


def test_start_failure_fails_the_waiting_jobs(qtbot) -> None:
    bridge = EngineBridge(lambda: FakeClient(fail_start=True), poll_interval_ms=5)
    job_id = bridge.submit(Prelabel("p.segproj"))
    with qtbot.waitSignal(bridge.jobFailed, timeout=3000):
        pass
    assert bridge.worker_state == WorkerState.DOWN
    assert "did not start" in bridge.job(job_id).error_message
    bridge.shutdown()


def test_jobs_panel_rows_progress_cancel_and_details(qtbot, bridge, client) -> None:
    panel = JobsPanel(bridge)
    qtbot.addWidget(panel)
    panel.resize(420, 300)
    panel.show()
    train_id = bridge.submit(Train("p.segproj"), "Train unet")
    seg_id = bridge.submit(Segment("p.segproj", 1, box_xyxy=(0, 0, 5, 5)))
    assert train_id in panel.rows and seg_id not in panel.rows  # segment jobs are interactive
    qtbot.waitUntil(lambda: len(client.submitted) == 2, timeout=3000)
    client.emit(Started(train_id, "train"), Progress(train_id, 3, 10, "epoch 3/10"))
    row = panel.rows[train_id]
    qtbot.waitUntil(lambda: row.progress.value() == 300, timeout=3000)
    assert "epoch 3/10" in row.message.text()
    assert row.cancel_button.isVisible() and not row.details_button.isVisible()
    qtbot.mouseClick(row.cancel_button, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
    assert client.cancelled == [train_id]
    assert not row.cancel_button.isEnabled()
    client.emit(Failed(train_id, "RuntimeError", "CUDA out of memory", "Traceback (most recent call last):\n  ...\nRuntimeError"))
    qtbot.waitUntil(lambda: bridge.job(train_id).state == JobState.FAILED, timeout=3000)
    assert "RuntimeError: CUDA out of memory" in row.message.text()
    assert row.details_button.isVisible() and not row.cancel_button.isVisible()
    box = row.show_details()
    assert "Traceback" in box.detailedText()
    box.close()
    client.emit(WorkerDied(-9, True))
    qtbot.waitUntil(lambda: "died" in panel.worker_label.text(), timeout=3000)
    assert "restarted" in panel.worker_label.text()
    panel.clear_button.click()
    assert train_id not in panel.rows


def test_worker_priority_is_lowered(qtbot) -> None:
    import os
    import subprocess
    import sys

    from app.assist.bridge import lower_priority

    if not hasattr(os, "setpriority"):
        pytest.skip("no POSIX process priorities on this platform")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        before = os.getpriority(os.PRIO_PROCESS, child.pid)
        assert lower_priority(child.pid, 5)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, before + 5)
        assert not lower_priority(None, 5) and not lower_priority(child.pid, 0)
    finally:
        child.kill()
        child.wait()


def test_bridge_lowers_the_priority_of_each_new_worker(qtbot, monkeypatch) -> None:
    import app.assist.bridge as bridge_module

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(bridge_module, "lower_priority", lambda pid, inc: calls.append((pid, inc)) or True)
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5, worker_niceness=7)
    bridge.ensure_started()
    qtbot.waitUntil(lambda: calls == [(4242, 7)], timeout=3000)
    client.pid = 4343  # restarted by the client
    qtbot.waitUntil(lambda: calls == [(4242, 7), (4343, 7)], timeout=3000)
    bridge.shutdown()


def test_restart_after_the_client_gave_up(qtbot) -> None:
    clients: list[FakeClient] = []

    def factory() -> FakeClient:
        clients.append(FakeClient())
        return clients[-1]

    bridge = EngineBridge(factory, poll_interval_ms=5)
    running = bridge.submit(Train("p.segproj"))
    qtbot.waitUntil(lambda: bool(clients) and bool(clients[0].submitted), timeout=3000)
    clients[0].emit(WorkerDied(-11, False))
    qtbot.waitUntil(lambda: bridge.worker_state == WorkerState.DOWN, timeout=3000)
    bridge.restart()
    assert clients[0].shut_down and bridge.job(running).state == JobState.FAILED
    qtbot.waitUntil(lambda: bridge.worker_state == WorkerState.RUNNING and len(clients) == 2, timeout=3000)
    job = bridge.submit(Prelabel("p.segproj"))
    qtbot.waitUntil(lambda: [r.job_id for r in clients[1].submitted] == [job], timeout=3000)
    bridge.shutdown()
