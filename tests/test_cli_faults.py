"""The command line on faults (issue 17): one line and exit 1 for internal errors (traceback in
a log file it names, or printed with --debug), disk full during export, engine failures, the
export target policy, and ``repair``."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

import main
from annotations.model import Category, Image
from annotations.store import Project


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    PILImage.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / "a.png")
    with Project.create(tmp_path / "p.segproj", [Category(1, "x")]) as project:
        project.add_images([Image(0, str(folder / "a.png"), 16, 16)])
    return tmp_path / "p.segproj"


def test_internal_error_is_one_line_with_a_log_file(tmp_path: Path, monkeypatch, capsys) -> None:
    import cli.info

    def boom(args):
        raise RuntimeError("something inside broke\nsecond line")

    monkeypatch.setattr(cli.info, "run", boom)
    monkeypatch.setenv("SEGSTUDIO_LOG_DIR", str(tmp_path / "logs"))
    assert main.main(["info", str(_project(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "RuntimeError: something inside broke" in err and "Traceback" not in err
    logs = list((tmp_path / "logs").glob("segstudio-error-*.log"))
    assert len(logs) == 1 and str(logs[0]) in err and "Traceback" in logs[0].read_text()
    assert main.main(["info", str(tmp_path / "p.segproj"), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_engine_failure_during_train_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    import cli.train
    from engine.errors import EngineError

    def died(args):
        raise EngineError("the engine worker died (exit code -9) while training; it was restarted")

    monkeypatch.setattr(cli.train, "run", died)
    monkeypatch.setenv("SEGSTUDIO_LOG_DIR", str(tmp_path / "logs"))
    assert main.main(["train", str(_project(tmp_path))]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "worker died" in err and "Traceback" not in err


def test_disk_full_during_export_is_one_clear_line_and_the_target_is_intact(tmp_path: Path, monkeypatch, capsys) -> None:
    import annotations.formats as formats

    project = _project(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.json").write_text("{}")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(formats, "export_project", full)
    assert main.main(["export", str(project), "--format", "coco", str(out), "--overwrite"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "disk is full" in err and "left as it was" in err
    assert (out / "previous.json").read_text() == "{}"


def test_export_into_the_image_folder_is_refused_whatever_overwrite_says(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path)
    for fmt in ("coco", "voc", "yolo"):
        code = main.main(["export", str(project), "--format", fmt, str(tmp_path / "imgs"), "--overwrite"])
        assert code == 2, fmt
        assert "holds images" in capsys.readouterr().err
    assert (tmp_path / "imgs" / "a.png").is_file()
    assert main.main(["export", str(project), "--format", "coco", str(tmp_path), "--overwrite"]) == 2
    assert project.is_file()


def test_repair_command(tmp_path: Path, capsys) -> None:
    project = _project(tmp_path)
    assert main.main(["repair", str(project), str(tmp_path / "fixed.segproj")]) == 0
    assert "1 images" in capsys.readouterr().out
    assert main.main(["repair", str(project), str(tmp_path / "fixed.segproj")]) == 2  # never overwrites
