"""Autosave: a GUI process killed with SIGKILL right after its edits leaves a project that holds
every committed edit (no save step exists; each edit is one SQLite transaction)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotations.geometry import Box, Mask, Polygon
from annotations.model import ImageStatus
from annotations.store import Project

DRIVER = Path(__file__).with_name("kill_driver.py")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_after_edits_loses_nothing(gui_project_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), str(gui_project_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    state = None
    deadline = time.monotonic() + 90
    try:
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if line.startswith("EDITS "):
                state = json.loads(line[len("EDITS "):])
                break
        stderr = process.stderr.read() if process.poll() is not None else ""
        assert state is not None, f"driver did not report its edits: {stderr}"
        assert process.poll() is None, "the GUI must still be running when it is killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL
    assert sorted(state["added"].values()) == ["box", "mask", "polygon"]
    assert state["status"] == "done"

    with Project.open(gui_project_path) as project:
        stored = {a.id: a for a in project.annotations(state["image_id"])}
        for ann_id, kind in state["added"].items():
            annotation = stored[int(ann_id)]
            assert annotation.geometry.kind.value == kind
        kinds = {type(stored[int(i)].geometry) for i in state["added"]}
        assert kinds == {Box, Polygon, Mask}
        assert project.get_image(state["image_id"]).status is ImageStatus.DONE
        # The undo history was committed with the edits.
        assert project.undo_label() == "Mark image done"
