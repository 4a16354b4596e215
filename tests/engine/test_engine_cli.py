"""``main.py train`` and ``main.py prelabel``: the worker behind a progress bar, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.store import Project

REPO = Path(__file__).resolve().parents[2]


def main(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "main.py", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_train_then_prelabel_from_the_command_line(membrane_project: Callable[..., Path], tmp_path: Path) -> None:
    project = membrane_project(n_done=3, n_new=1, size=96)
    out = tmp_path / "train.json"
    done = main("train", str(project), "--model", "unet_tiny", "--epochs", "1", "--iterations-per-epoch", "2",
                "--device", "cpu", "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "model version 1: miou" in done.stdout
    assert "train [" in done.stderr
    result = json.loads(out.read_text())
    assert result["model_version_id"] == 1 and result["primary_metric"] == "miou" and len(result["history"]) == 1

    relabel = main("prelabel", str(project), "--model", "1", "--images", "4", "--in-process")
    assert relabel.returncode == 0, relabel.stderr
    assert "pre-labeled 1 images with model version 1" in relabel.stdout
    with Project.open(project, readonly=True) as p:
        assert {pred.model_version_id for pred in p.predictions(4)} == {1}

    not_due = main("train", str(project), "--if-due", "5")
    assert not_due.returncode == 0 and "not due" in not_due.stdout


def test_bad_input_exits_2_before_any_worker(tmp_path: Path, membrane_project: Callable[..., Path]) -> None:
    missing = main("prelabel", str(tmp_path / "none.segproj"))
    assert missing.returncode == 2 and "no such project file" in missing.stderr
    project = membrane_project(n_done=1, n_new=0, size=32)
    bad_ids = main("prelabel", str(project), "--images", "x1")
    assert bad_ids.returncode == 2 and "--images" in bad_ids.stderr
    bad_weights = main("train", str(project), "--weights", str(tmp_path / "w.pt"))
    assert bad_weights.returncode == 2 and "--weights" in bad_weights.stderr


def test_progress_on_a_pipe_shows_every_phase_start() -> None:
    """On a pipe (CI logs) the bar prints one line per 10 % step; a new phase that starts at 0
    (validating the starting point, re-predicting after training) still gets its line, so a
    long validation is not a silent gap after "started"."""
    import io

    from engine.console import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(stream, label="train ")
    bar.update(0, 1, "started", force=True)
    bar.update(0, 1, "validating the starting point (random)")
    for done in range(1, 21):
        bar.update(done, 20, f"epoch 1/1 loss {1 / done:.3f}")
    bar.update(0, 3, "re-predicting unfinished images: pre-labeling 3 images")
    bar.update(1, 3, "re-predicting unfinished images: image 7")
    lines = stream.getvalue().splitlines()
    assert any("validating the starting point" in line for line in lines)
    assert any("re-predicting unfinished images: pre-labeling" in line for line in lines)
    assert sum("epoch 1/1" in line for line in lines) == 10  # one line per 10 % step, not per update
    assert all("\r" not in line for line in lines)
