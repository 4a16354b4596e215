"""The README's headless walkthrough (new -> import masks -> status -> train -> pre-label ->
review), run line by line as written, on 4 crops of the ISBI membrane slices."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from annotations.model import ImageStatus
from annotations.store import Project

REPO = Path(__file__).resolve().parents[1]
CROP = 96


def walkthrough_commands() -> list[list[str]]:
    """The ``python main.py ...`` lines between the README's walkthrough markers."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith("python main.py")]


def _data(folder: Path, shared: Path) -> None:
    for sub in ("images", "labels", "gt"):
        (folder / sub).mkdir(parents=True)
    for index in range(4):
        gray = cv2.imread(str(shared / "isbi2012_membrane" / "train_image" / f"{index}.png"), cv2.IMREAD_GRAYSCALE)
        label = cv2.imread(str(shared / "isbi2012_membrane" / "train_label" / f"{index}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(folder / "images" / f"slice{index}.png"), gray[:CROP, :CROP])
        cv2.imwrite(str(folder / ("labels" if index < 3 else "gt") / f"slice{index}.png"), label[:CROP, :CROP])
    (folder / "classes.txt").write_text("0 membrane\n")


@pytest.mark.slow
def test_readme_walkthrough_runs_headless(tmp_path: Path, shared_data: Path) -> None:
    commands = walkthrough_commands()
    assert [c[2] for c in commands] == ["new", "import", "status", "train", "prelabel", "import", "review"]
    _data(tmp_path / "walk", shared_data)
    outputs = []
    for command in commands:
        done = subprocess.run([sys.executable, str(REPO / "main.py"), *command[2:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert "skipped 4 image files in excluded folders: labels (3), gt (1)" in outputs[0]
    assert "imported 0 new and 3 existing images" in outputs[1]
    assert "marked 3 images done" in outputs[2]
    assert "model version 1" in outputs[3]
    assert "imported 0 new and 1 existing images" in outputs[5]
    with Project.open(tmp_path / "walk.segproj", readonly=True) as project:
        assert [im.status for im in project.images()] == [ImageStatus.DONE] * 4
        assert {p.image_id for p in project.predictions()} == {4}  # pre-labelled the one unfinished image
    review = json.loads((tmp_path / "walk" / "review.json").read_text())
    assert review["kind"] == "model_vs_final"
    assert review["summary"]["model_version_id"] == 1 and review["summary"]["images"] == 1
    assert review["summary"]["gt"] == 1  # the fourth slice's membrane, imported after the pre-label
