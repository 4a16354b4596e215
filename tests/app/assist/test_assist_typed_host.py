"""The assist features work against a typed host (app.workspace.AssistHost): no ``Any`` fields,
no ``getattr``/``hasattr`` probes of the window, job results dispatched by type."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from annotations.model import Image
from app.assist import AssistFeatures, install
from app.assist.bridge import EngineBridge, JobState
from app.assist.host import AssistHost
from engine.protocol import Segment, Succeeded
from tests.app.assist.fakes import FakeClient, make_fake_window

ASSIST = Path(__file__).resolve().parents[3] / "app" / "assist"


def test_no_probes_of_the_host_in_app_assist() -> None:
    probes = []
    for path in sorted(ASSIST.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr"):
                probes.append(f"{path.name}:{node.lineno}")
    assert probes == []


def test_assist_features_fields_are_typed() -> None:
    annotations = AssistFeatures.__annotations__  # strings (postponed evaluation)
    assert annotations["bridge"] == "EngineBridge"
    assert not [name for name, hint in annotations.items() if "Any" in str(hint)], annotations


def test_a_job_result_of_an_unknown_type_fails_the_job(qtbot, new_project) -> None:
    client = FakeClient()
    bridge = EngineBridge(lambda: client, poll_interval_ms=5)
    job_id = bridge.submit(Segment(project_path=str(new_project.path), image_id=1), "Segment")
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    failures: list[str] = []
    bridge.jobFailed.connect(lambda _id, _type, message, _tb: failures.append(message))
    client.emit(Succeeded(job_id, {"counts": b""}))  # a dict, not a SegmentResult
    qtbot.waitUntil(lambda: bridge.job(job_id).state.is_terminal, timeout=3000)
    assert bridge.job(job_id).state is JobState.FAILED and bridge.job(job_id).result is None
    assert failures and "unknown result" in failures[0]
    bridge.shutdown()


def test_the_segmenter_reads_image_order_and_class_from_the_hosts_session(qtbot, new_project) -> None:
    new_project.add_images([Image(0, "second.png", 100, 80)])
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    assert isinstance(window, AssistHost)
    features = install(window, lambda: FakeClient())
    window.open_image(1)
    assert features.segmenter.next_image_id() == 2  # the session's image order, not a probe
    window.session.set_current_category(2)
    assert features.segmenter.current_category_id() == 2
    window.close()


def test_the_main_window_is_an_assist_host(window) -> None:
    assert isinstance(window, AssistHost)
    assert isinstance(window.assist, AssistFeatures)
    assert window.main_widget is window
