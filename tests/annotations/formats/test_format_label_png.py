"""label-png: label-index PNGs in and out (real data: the ISBI 2012 membrane labels, whose
convention is inverted: 0 = membrane, 255 = cell)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image
from PIL import Image as PILImage

import main
from annotations.errors import FormatError
from annotations.formats import export_project, import_into
from annotations.formats.mask_common import read_label_png
from annotations.model import NO_CATEGORY, AnnotationRole
from annotations.store import Project


def test_membrane_labels_round_trip_pixel_equal_with_the_inverted_convention(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "isbi2012_membrane"
    table = tmp_path / "classes.txt"
    table.write_text("0 membrane\n")
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_into(project, "label-png", source / "train_label", images_root=source / "train_image",
                             class_table=table, background_value=255)
        assert (report.images_added, report.annotations) == (30, 30)
        assert [c.name for c in project.categories()] == ["membrane"]
        export_project(project, "label-png", tmp_path / "out")  # background 255 remembered from the import
    labels = sorted((source / "train_label").glob("*.png"))
    assert len(labels) == 30
    for path in labels:
        assert np.array_equal(read_label_png(tmp_path / "out" / "labels" / path.name), read_label_png(path)), path.name
    assert (tmp_path / "out" / "class_table.txt").read_text() == "0 membrane\n"


def _tiny_set(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    images, labels = tmp_path / "images", tmp_path / "labels"
    write_image(images / "a.png", (20, 30), 1)
    label = np.zeros((20, 30), np.uint8)
    label[2:8, 3:12] = 1
    label[10:18, 5:25] = 2
    label[0:2, :] = 255  # void
    labels.mkdir()
    PILImage.fromarray(label).save(labels / "a_labelIds.png")
    return images, labels, label


def test_ignore_value_becomes_one_class_agnostic_ignore_region_and_is_exported_as_void(tmp_path: Path) -> None:
    images, labels, label = _tiny_set(tmp_path)
    table = tmp_path / "t.json"
    table.write_text('{"1": "road", "2": "car"}')
    with Project.create(tmp_path / "p.segproj") as project:
        import_into(project, "label-png", labels, images_root=images, class_table=table, ignore_values=(255,))
        anns = project.annotations()
        ignore = [a for a in anns if a.role is AnnotationRole.IGNORE]
        assert len(ignore) == 1 and ignore[0].category_id == NO_CATEGORY and ignore[0].iscrowd
        assert [c.name for c in project.categories()] == ["road", "car"]  # void is not a class
        export_project(project, "label-png", tmp_path / "out")
        export_project(project, "voc", tmp_path / "voc")
    assert np.array_equal(read_label_png(tmp_path / "out" / "labels" / "a.png"), label)
    voc = read_label_png(tmp_path / "voc" / "SegmentationClass" / "a.png")
    assert np.array_equal(voc == 255, label == 255)  # void kept as VOC's 255


def test_a_value_without_a_class_is_refused_naming_the_file_and_nothing_is_stored(tmp_path: Path) -> None:
    images, labels, _ = _tiny_set(tmp_path)
    table = tmp_path / "t.txt"
    table.write_text("1 road\n")
    with Project.create(tmp_path / "p.segproj") as project:
        with pytest.raises(FormatError, match=r"a_labelIds\.png.*value\(s\) \[2, 255\]"):
            import_into(project, "label-png", labels, images_root=images, class_table=table)
        assert project.counts()["images"] == 0 and project.categories() == []


def test_mask_of_another_size_than_its_image_is_refused(tmp_path: Path) -> None:
    images, labels, _ = _tiny_set(tmp_path)
    write_image(images / "a.png", (21, 30), 1)
    with Project.create(tmp_path / "p.segproj") as project:
        with pytest.raises(FormatError, match=r"mask is 30x20 .* is 30x21"):
            import_into(project, "label-png", labels, images_root=images, ignore_values=(255,))


def test_cli_import_with_status_done_and_ignore_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    images, labels, _ = _tiny_set(tmp_path)
    project = tmp_path / "p.segproj"
    code = main.main(["import", str(project), "--format", "label-png", str(labels), "--images", str(images),
                      "--ignore-value", "255", "--status", "done"])
    assert code == 0, capsys.readouterr().err
    assert "marked 1 images done" in capsys.readouterr().out
    with Project.open(project) as p:
        assert [im.status.value for im in p.images()] == ["done"]
        assert sorted(c.name for c in p.categories()) == ["value_1", "value_2"]
    assert main.main(["import", str(project), "--format", "label-png", str(labels), "--class", "x"]) == 2
    assert "--class: not an option of --format label-png" in capsys.readouterr().err
    assert main.main(["import", str(project), "--format", "label-png", str(labels), "--class-table", "nope.txt"]) == 2
    assert "file not found" in capsys.readouterr().err
