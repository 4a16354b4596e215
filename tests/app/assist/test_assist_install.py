"""install(window) on a window with the MainWindow seams (the real MainWindow is tested in
test_assist_real_worker / the screenshots test)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from app.assist import MASK_TOOL_NAME, install
from tests.app.assist.fakes import FakeClient, make_fake_window


def test_install_registers_panels_tool_and_menu(qtbot, new_project) -> None:
    window = make_fake_window(new_project)
    qtbot.addWidget(window)
    client = FakeClient()
    features = install(window, lambda: client)
    assert {"jobs", "training", "review", "predictions"} <= set(window.panels)
    assert window.tools[MASK_TOOL_NAME] is features.mask_tool
    assert features.bridge.client is None  # the worker starts on first use only
    titles = [a.text() for a in window.menus["Model"].actions()]
    assert "Pre-label all unfinished images" in titles
    features.actions["prelabel_unfinished"].trigger()
    qtbot.waitUntil(lambda: len(client.submitted) == 1, timeout=3000)
    assert client.submitted[0].image_ids == ()
    window.close()
    assert client.shut_down
