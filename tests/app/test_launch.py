"""``main.py PROJECT --screenshot OUT.png [--panel NAME]`` and the error paths of run_gui."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PySide6.QtWidgets import QMessageBox

from app.launch import run_gui

REPO = Path(__file__).resolve().parents[2]


def test_main_py_screenshot_renders_the_window(gui_project_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), str(gui_project_path), "--screenshot", str(out), "--panel", "annotations"],
        capture_output=True, text=True, timeout=120, env=env, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    pixels = np.asarray(PILImage.open(out).convert("RGB"))
    assert pixels.shape[:2] == (1000, 1600)
    # The canvas shows the image: many distinct colours, not a blank widget.
    centre = pixels[300:700, 500:1100].reshape(-1, 3)
    assert len(np.unique(centre, axis=0)) > 500
    # The box of class 'nucleus' (#e6194b) is drawn: its outline colour is present.
    red = (np.abs(centre.astype(int) - (0xE6, 0x19, 0x4B)).sum(axis=1) < 40).sum()
    assert red > 50


def test_screenshot_errors_exit_2_with_a_message(gui_project_path: Path, tmp_path: Path, capsys, qapp) -> None:
    out = tmp_path / "x.png"
    assert run_gui(tmp_path / "missing.segproj", screenshot=out) == 2
    assert "missing.segproj" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.segproj"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    assert run_gui(corrupt, screenshot=out) == 2
    assert "corrupt.segproj" in capsys.readouterr().err
    assert run_gui(gui_project_path, screenshot=out, panel="nope") == 2
    err = capsys.readouterr().err
    assert "unknown panel 'nope'" in err and "annotations" in err
    assert not out.exists()
    assert run_gui(gui_project_path, screenshot=out, panel="properties") == 0
    assert out.stat().st_size > 10_000


def test_without_screenshot_errors_show_a_dialog(tmp_path: Path, monkeypatch, qapp) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    assert run_gui(tmp_path / "missing.segproj") == 2
    assert shown and "missing.segproj" in shown[0]
