"""How review pairs the images of two projects: the same file on disk first (projects kept in
different folders reference it by different relative paths), then the same relative path, then
a unique file name; and the command line says how many images were left unpaired."""

from __future__ import annotations

from pathlib import Path

import pytest

import main
from annotations.geometry import Polygon
from annotations.metrics.review import project_vs_project
from annotations.model import Annotation, Category, Image
from annotations.store import Project

CATS = [Category(1, "cell", "#e6194b")]
SIZE_HW = (80, 100)


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


def _project(path: Path, files: list[Path]) -> Project:
    """A project at ``path`` referencing ``files`` (absolute), one square per image."""
    project = Project.create(path, CATS)
    images = project.add_images([Image(0, project.relative_path(f), SIZE_HW[1], SIZE_HW[0]) for f in files])
    project.add_annotations([Annotation(0, im.id, 1, _square(10 + 5 * k, 10, 20)) for k, im in enumerate(images)])
    return project


def test_same_files_from_projects_in_different_folders_pair_by_file(tmp_path: Path):
    # Two images share a file name in different folders: the name alone cannot pair them.
    files = [tmp_path / "data" / "day" / "cam.png", tmp_path / "data" / "night" / "cam.png",
             tmp_path / "data" / "solo.png"]
    (tmp_path / "team").mkdir()
    a = _project(tmp_path / "a.segproj", files)
    b = _project(tmp_path / "team" / "b.segproj", files)
    try:
        assert a.images()[0].path != b.images()[0].path  # different relative paths, same file
        report = project_vs_project(a, b)
        assert report.summary["images"] == 3
        assert report.summary["unmatched_images"] == {"reference_only": 0, "compared_only": 0}
        assert (report.summary["tp"], report.summary["fp"], report.summary["fn"]) == (3, 0, 0)
    finally:
        a.close()
        b.close()


def test_copies_of_a_data_set_still_pair_by_relative_path(tmp_path: Path):
    rel = ["img/day/cam.png", "img/night/cam.png"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _project(tmp_path / "a" / "p.segproj", [tmp_path / "a" / r for r in rel])
    b = _project(tmp_path / "b" / "p.segproj", [tmp_path / "b" / r for r in rel])
    try:
        report = project_vs_project(a, b)
        assert report.summary["images"] == 2 and report.summary["tp"] == 2
    finally:
        a.close()
        b.close()


def test_cli_reports_unpaired_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _project(tmp_path / "a" / "p.segproj", [tmp_path / "a" / "one.png", tmp_path / "a" / "two.png"]).close()
    _project(tmp_path / "b" / "p.segproj", [tmp_path / "b" / "one.png", tmp_path / "b" / "three.png"]).close()
    assert main.main(["review", str(tmp_path / "a" / "p.segproj"), "--against", str(tmp_path / "b" / "p.segproj"),
                      "--no-semantic", "--no-boundary"]) == 0
    out = capsys.readouterr().out
    assert "unpaired images: 1 only in the reference, 1 only in the compared project" in out
