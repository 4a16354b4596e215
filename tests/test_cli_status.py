"""``main.py status``: set many images' status in one undoable step; ``new --exclude``; ``info``
names the promoted version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

import main
from annotations.geometry import Box
from annotations.model import Annotation, AnnotationRole, Category, Image, ImageStatus, ModelVersion
from annotations.store import Project


def _project(tmp_path: Path) -> Path:
    path = tmp_path / "p.segproj"
    with Project.create(path, [Category(1, "cell")]) as project:
        project.add_images([Image(0, name, 20, 20) for name in ("train/a.png", "train/b.png", "val/c.png", "d.png")])
        project.add_annotations([Annotation(0, 1, 1, Box(1, 1, 5, 5)),
                                 Annotation(0, 3, 1, Box(1, 1, 5, 5), role=AnnotationRole.IGNORE)])
    return path


def _statuses(path: Path) -> list[str]:
    with Project.open(path, readonly=True) as project:
        return [im.status.value for im in project.images()]


def test_status_selectors_and_undo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    assert main.main(["status", str(path), "--set", "done", "--files", "train/*"]) == 0
    assert "marked 2 images done in one undoable step" in capsys.readouterr().out
    assert _statuses(path) == ["done", "done", "new", "new"]
    assert main.main(["status", str(path), "--set", "reviewed", "--where", "annotated"]) == 0  # ignore regions do not count
    assert _statuses(path) == ["reviewed", "done", "new", "new"]
    assert main.main(["status", str(path), "--set", "in_progress", "--images", "3", "4"]) == 0
    assert main.main(["status", str(path), "--set", "done", "--all"]) == 0
    assert _statuses(path) == ["done"] * 4
    with Project.open(path) as project:
        assert project.undo() == "Mark 3 images done"  # one step for the whole selection
        assert [im.status for im in project.images()] == [
            ImageStatus.REVIEWED, ImageStatus.DONE, ImageStatus.IN_PROGRESS, ImageStatus.IN_PROGRESS]
    capsys.readouterr()
    assert main.main(["status", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "4 images: done 1, in_progress 2, reviewed 1"


def test_status_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    assert main.main(["status", str(path), "--set", "done", "--images", "9"]) == 2
    assert "no image with id 9" in capsys.readouterr().err
    assert main.main(["status", str(path), "--set", "done", "--files", "nope*"]) == 2
    assert "matches 'nope*'" in capsys.readouterr().err
    assert main.main(["status", str(path), "--set", "done"]) == 2
    assert "choose the images" in capsys.readouterr().err
    assert main.main(["status", str(tmp_path / "missing.segproj"), "--set", "done", "--all"]) == 2
    assert _statuses(path) == ["new"] * 4


def test_new_skips_mask_folders_and_excluded_globs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "tree"
    for rel in ("s1/images/s1.png", "s1/masks/m1.png", "s1/masks/m2.png", "s2/images/s2.png", "s2/masks/m3.png",
                "extra/thumbs/t.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(np.zeros((4, 4), np.uint8)).save(root / rel)
    assert main.main(["new", str(tmp_path / "a.segproj"), "--images", str(root), "--exclude", "thumbs"]) == 0
    out = capsys.readouterr().out
    assert "skipped 4 image files in excluded folders: masks (3), thumbs (1)" in out
    with Project.open(tmp_path / "a.segproj", readonly=True) as project:
        assert sorted(Path(im.path).name for im in project.images()) == ["s1.png", "s2.png"]
    assert main.main(["new", str(tmp_path / "b.segproj"), "--images", str(root), "--no-default-exclude"]) == 0
    with Project.open(tmp_path / "b.segproj", readonly=True) as project:
        assert project.counts()["images"] == 6


def test_info_names_the_promoted_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _project(tmp_path)
    with Project.open(path) as project:
        project.add_model_version(ModelVersion(0, "unet", (1,), created="t1", promoted=True))
        project.add_model_version(ModelVersion(0, "unet", (1,), created="t2", promoted=False))
    assert main.main(["info", str(path)]) == 0
    assert "promoted     v1 (unet)" in capsys.readouterr().out
    assert main.main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["promoted_versions"] == {"unet": 1}
