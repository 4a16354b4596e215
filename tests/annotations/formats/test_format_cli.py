"""``main.py import`` and ``main.py export`` end to end (in process, through main.main)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from format_helpers import REPO_ROOT, build_project, folder_state, snapshot

import main
from annotations.store import Project


def test_export_then_import_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    build_project(tmp_path, n_images=5).close()
    project = tmp_path / "project" / "p.segproj"
    out = tmp_path / "coco"
    assert main.main(["export", str(project), "--format", "coco", str(out), "--split", "val=0.2", "--copy-images"]) == 0
    printed = capsys.readouterr().out
    assert "wrote 5 images (train: 4, val: 1)" in printed
    assert sorted(p.name for p in (out / "annotations").iterdir()) == ["instances_train.json", "instances_val.json"]
    # a second export into the same folder needs --overwrite: exit 2, folder unchanged
    before = folder_state(out)
    assert main.main(["export", str(project), "--format", "coco", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert folder_state(out) == before
    target = tmp_path / "new" / "imported.segproj"
    target.parent.mkdir()
    assert main.main(["import", str(target), "--format", "coco", str(out / "annotations" / "instances_val.json")]) == 0
    assert "created" in capsys.readouterr().out
    with Project.open(target) as imported:
        assert imported.counts()["images"] == 1 and imported.counts()["annotations"] == 6


def test_import_of_a_bad_file_exits_2_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    build_project(tmp_path, n_images=1).close()
    project = tmp_path / "project" / "p.segproj"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "../../x.png", "width": 2, "height": 2}],
                               "annotations": [], "categories": []}))
    with Project.open(project) as p:
        before = snapshot(p)
    assert main.main(["import", str(project), "--format", "coco", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "escapes the data set root" in err
    with Project.open(project) as p:
        assert snapshot(p) == before
    missing_project = tmp_path / "never.segproj"
    assert main.main(["import", str(missing_project), "--format", "coco", str(bad)]) == 2
    assert not missing_project.exists()  # a project created for a failed import is removed again


def test_bad_split_and_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    build_project(tmp_path, n_images=1).close()
    project = tmp_path / "project" / "p.segproj"
    assert main.main(["export", str(project), "--format", "voc", str(tmp_path / "o"), "--split", "val=2"]) == 2
    assert "bad split" in capsys.readouterr().err
    assert main.main(["export", str(project), "--format", "voc", str(tmp_path / "o"), "--predictions"]) == 2
    assert not (tmp_path / "o").exists()


def test_progress_line_on_a_terminal() -> None:
    import io

    from cli.export import ProgressLine

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    line = ProgressLine("exporting coco", stream)
    line(1, 4)
    line(4, 4)
    line.close()
    assert stream.getvalue().endswith("\rexporting coco 4/4 images (100.0%)\n")


@pytest.mark.slow
def test_main_py_subprocess_exit_codes(tmp_path: Path) -> None:
    """The real entry point: a malformed COCO file exits 2 with the position on stderr."""
    build_project(tmp_path, n_images=1).close()
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [}')
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "main.py"), "import", str(tmp_path / "project" / "p.segproj"),
         "--format", "coco", str(bad)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "broken.json: malformed JSON at line 1, column 13" in result.stderr


def test_only_done_without_finished_images_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from annotations.errors import FormatError
    from annotations.formats import EXPORTERS, ExportOptions, export_project
    from annotations.model import ImageStatus

    build_project(tmp_path, n_images=2, statuses=[ImageStatus.NEW, ImageStatus.IN_PROGRESS]).close()
    project = tmp_path / "project" / "p.segproj"
    out = tmp_path / "out"
    assert main.main(["export", str(project), "--format", "coco", str(out), "--only-done"]) == 2
    err = capsys.readouterr().err
    assert "no finished images to export; mark images done or drop --only-done" in err
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("old")
    assert main.main(["export", str(project), "--format", "yolo", str(out), "--only-done", "--overwrite"]) == 2
    assert folder_state(out) == {"keep.txt": b"old"}
    with Project.open(project, readonly=True) as opened:  # the library refuses too (GUI export)
        for name in EXPORTERS:
            with pytest.raises(FormatError, match="no finished images to export"):
                export_project(opened, name, tmp_path / f"lib-{name}", ExportOptions(only_done=True))
            assert not (tmp_path / f"lib-{name}").exists()
    assert main.main(["export", str(project), "--format", "coco", str(tmp_path / "all")]) == 0  # without the flag: all
