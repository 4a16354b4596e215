"""Imports reuse the project's images: by stored path, then resolved path (a symlinked folder),
then relative file name (a copy of the photo); the summary says how many matched which way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image
from PIL import Image as PILImage

from annotations.formats import import_into
from annotations.model import Image
from annotations.store import Project


def _labels(folder: Path, stems: list[str], size_hw: tuple[int, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, stem in enumerate(stems):
        label = np.zeros(size_hw, np.uint8)
        label[k : k + 3, 1:4] = 1
        PILImage.fromarray(label).save(folder / f"{stem}.png")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_match_by_resolved_path_then_by_file_name(tmp_path: Path) -> None:
    photos = tmp_path / "data" / "JPEGImages"
    for k, stem in enumerate(["a", "b", "c"]):
        write_image(photos / f"{stem}.png", (12, 10), k)
    link = tmp_path / "linked"
    os.symlink(tmp_path / "data", link)
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copyfile(photos / "c.png", copies / "c.png")
    (tmp_path / "proj").mkdir()
    with Project.create(tmp_path / "proj" / "p.segproj") as project:
        project.add_images([Image(0, str(p), 10, 12) for p in sorted(photos.iterdir())])
        _labels(tmp_path / "l1", ["a", "b"], (12, 10))
        report = import_into(project, "label-png", tmp_path / "l1", images_root=link / "JPEGImages")
        assert (report.images_added, report.images_reused, report.matched_by_resolved_path) == (0, 2, 2)
        _labels(tmp_path / "l2", ["c"], (12, 10))
        report = import_into(project, "label-png", tmp_path / "l2", images_root=copies)
        assert (report.images_added, report.images_reused, report.matched_by_name) == (0, 1, 1)
        assert "0 by path, 0 by resolved path, 1 by file name" in report.summary()
        assert project.counts()["images"] == 3


def test_same_name_of_another_size_is_a_new_image(tmp_path: Path) -> None:
    write_image(tmp_path / "train" / "0.png", (12, 10), 0)
    write_image(tmp_path / "test" / "0.png", (14, 10), 1)
    with Project.create(tmp_path / "p.segproj") as project:
        project.add_images([Image(0, str(tmp_path / "train" / "0.png"), 10, 12)])
        _labels(tmp_path / "l", ["0"], (14, 10))
        report = import_into(project, "label-png", tmp_path / "l", images_root=tmp_path / "test")
        assert (report.images_added, report.images_reused) == (1, 0)
