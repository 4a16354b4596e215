"""Importing the same source twice: refused by default (the file and the number of duplicate
shapes named, nothing stored); ``allow_duplicates`` / ``--allow-duplicates`` imports them again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from format_helpers import VOC_CLASSES, build_project, snapshot, write_image

import main
from annotations.errors import FormatError
from annotations.formats import ExportOptions, ImportOptions, import_into
from annotations.formats.coco import export_coco
from annotations.formats.voc import export_voc
from annotations.model import Category
from annotations.store import Project


def _coco_source(tmp_path: Path) -> Path:
    with build_project(tmp_path / "ref") as project:
        export_coco(project, tmp_path / "coco", ExportOptions(copy_images=True))
    return tmp_path / "coco" / "annotations" / "instances_train.json"


def _voc_source(tmp_path: Path) -> Path:
    with build_project(tmp_path / "ref", VOC_CLASSES, n_images=3) as project:
        export_voc(project, tmp_path / "voc" / "VOC2012", ExportOptions())
    return tmp_path / "voc" / "VOC2012"


def _labelme_source(tmp_path: Path) -> Path:
    folder = tmp_path / "labelme"
    for name, seed in (("a", 0), ("b", 1)):
        write_image(folder / f"{name}.jpg", (20, 30), seed)
        shapes = [
            {"label": "dog", "points": [[1, 1], [10, 1], [10, 8]], "shape_type": "polygon"},
            {"label": "cat", "points": [[12, 2], [18, 9]], "shape_type": "rectangle"},
        ]
        doc = {"imagePath": f"{name}.jpg", "imageData": None, "imageHeight": 20, "imageWidth": 30, "shapes": shapes}
        (folder / f"{name}.json").write_text(json.dumps(doc))
    return folder


SOURCES = {"coco": (_coco_source, "instances_train.json"), "voc": (_voc_source, ".xml"), "labelme": (_labelme_source, "a.json")}


@pytest.mark.parametrize("format_name", sorted(SOURCES))
def test_the_same_source_twice_is_refused_unless_allowed(tmp_path: Path, format_name: str) -> None:
    make_source, named = SOURCES[format_name]
    source = make_source(tmp_path)
    (tmp_path / "target").mkdir()
    with Project.create(tmp_path / "target" / "t.segproj", [Category(1, "dog")]) as project:
        first = import_into(project, format_name, source, ImportOptions(add_labels=True))
        assert first.annotations > 0
        count = project.counts()["annotations"]
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_into(project, format_name, source, ImportOptions(add_labels=True))
        message = str(info.value)
        assert named in message  # the file with the duplicates
        assert f"{first.annotations} of {first.annotations} shape(s) are already in the project" in message
        assert "--allow-duplicates" in message
        assert snapshot(project) == before  # nothing stored
        again = import_into(project, format_name, source, ImportOptions(add_labels=True, allow_duplicates=True))
        assert again.annotations == first.annotations
        assert project.counts()["annotations"] == 2 * count


def test_new_shapes_on_images_that_have_some_are_not_duplicates(tmp_path: Path) -> None:
    source = _labelme_source(tmp_path)
    with Project.create(tmp_path / "t.segproj", [Category(1, "dog"), Category(2, "cat")]) as project:
        import_into(project, "labelme", source)
        doc = json.loads((source / "a.json").read_text())
        doc["shapes"][0]["points"][0] = [2, 1]  # moved a vertex: another shape
        doc["shapes"][1]["label"] = "dog"  # same box, other class: another shape
        (source / "a.json").write_text(json.dumps(doc))
        (source / "b.json").unlink()
        report = import_into(project, "labelme", source)
        assert report.annotations == 2 and project.counts()["annotations"] == 6


def test_cli_refuses_then_allows_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = _labelme_source(tmp_path)
    target = tmp_path / "cli.segproj"
    assert main.main(["import", str(target), "--format", "labelme", str(source)]) == 0
    capsys.readouterr()
    assert main.main(["import", str(target), "--format", "labelme", str(source)]) == 2
    err = capsys.readouterr().err
    assert "a.json" in err and "4 of 4 shape(s) are already in the project" in err and "--allow-duplicates" in err
    with Project.open(target) as project:
        assert project.counts()["annotations"] == 4
    assert main.main(["import", str(target), "--format", "labelme", str(source), "--allow-duplicates"]) == 0
    with Project.open(target) as project:
        assert project.counts()["annotations"] == 8
