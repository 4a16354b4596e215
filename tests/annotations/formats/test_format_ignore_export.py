"""Ignore regions in the existing exporters (VOC void 255, COCO iscrowd, Cityscapes void) and
the Cityscapes name map."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from format_helpers import write_image
from PIL import Image as PILImage

from annotations.formats import export_project
from annotations.formats.mask_common import read_label_png
from annotations.geometry import rle
from annotations.model import NO_CATEGORY, Annotation, AnnotationRole, Category, Image
from annotations.store import Project

SIZE_HW = (40, 50)


def _project(tmp_path: Path) -> Project:
    write_image(tmp_path / "imgs" / "street_01.png", SIZE_HW, 0)
    project = Project.create(tmp_path / "p.segproj", [Category(1, "car"), Category(2, "person")])
    (image,) = project.add_images([Image(0, "imgs/street_01.png", SIZE_HW[1], SIZE_HW[0])])
    void = np.zeros(SIZE_HW, bool)
    void[30:, :] = True
    car = np.zeros(SIZE_HW, bool)
    car[2:20, 2:20] = True
    crowd = np.zeros(SIZE_HW, bool)
    crowd[2:20, 25:40] = True
    project.add_annotations([
        Annotation(0, image.id, 1, rle.encode(car)),
        Annotation(0, image.id, 2, rle.encode(crowd), role=AnnotationRole.IGNORE),  # a crowd of people
        Annotation(0, image.id, NO_CATEGORY, rle.encode(void), role=AnnotationRole.IGNORE),
    ])
    return project


def test_voc_coco_and_cityscapes_exports_keep_ignore_regions(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        export_project(project, "voc", tmp_path / "voc")
        coco_report = export_project(project, "coco", tmp_path / "coco")
        export_project(project, "cityscapes", tmp_path / "cs", mapping={"person": "person", "car": "car"})
        export_project(project, "coco-panoptic", tmp_path / "pan")
    pan = np.asarray(PILImage.open(next((tmp_path / "pan" / "annotations").rglob("*.png"))).convert("RGB"))
    assert (pan[30:, :] == 0).all() and pan[5, 5].any()  # void is panoptic id 0
    voc = read_label_png(tmp_path / "voc" / "SegmentationClass" / "street_01.png")
    assert (voc[30:, :] == 255).all() and (voc[2:20, 25:40] == 255).all() and (voc[5, 5] == 1)
    xml = (tmp_path / "voc" / "Annotations" / "street_01.xml").read_text()
    assert xml.count("<object>") == 2  # the class-agnostic void is no object
    coco = json.loads((tmp_path / "coco" / "annotations" / "instances_train.json").read_text())
    assert sorted((a["category_id"], a["iscrowd"]) for a in coco["annotations"]) == [(1, 0), (2, 1)]
    assert any("class-agnostic ignore region" in line for line in coco_report.skipped)
    train_ids = next((tmp_path / "cs" / "gtFine" / "train").rglob("*_gtFine_labelTrainIds.png"))
    label_ids = next((tmp_path / "cs" / "gtFine" / "train").rglob("*_gtFine_labelIds.png"))
    ids = np.asarray(PILImage.open(label_ids))
    assert (ids[31:, :] == 0).all() and ids[5, 5] == 26  # void is 'unlabeled' (0), car is 26
    assert (np.asarray(PILImage.open(train_ids))[31:, :] == 255).all()  # void for training


def test_cityscapes_export_writes_a_name_map(tmp_path: Path) -> None:
    with _project(tmp_path) as project:
        export_project(project, "cityscapes", tmp_path / "cs", mapping={"person": "person", "car": "car"})
    with open(tmp_path / "cs" / "name_map.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"split": "train", "exported_stem": "segstudio_000000_000000", "image_id": "1",
                     "original_path": "imgs/street_01.png"}]
    assert (tmp_path / "cs" / "leftImg8bit" / "train" / "segstudio" / "segstudio_000000_000000_leftImg8bit.png").is_file()


def test_export_mapping_file_not_found_and_mask_formats_on_the_command_line(tmp_path: Path, capsys) -> None:
    import main

    _project(tmp_path).close()
    project = str(tmp_path / "p.segproj")
    assert main.main(["export", project, "--format", "cityscapes", str(tmp_path / "o"), "--mapping", "missing.json"]) == 2
    assert "--mapping missing.json: file not found" in capsys.readouterr().err
    assert main.main(["export", project, "--format", "label-png", str(tmp_path / "lp")]) == 0
    labels = read_label_png(tmp_path / "lp" / "labels" / "street_01.png")
    assert (labels[30:, :] == 255).all() and labels[5, 5] == 1 and labels[5, 30] == 255


def test_cityscapes_export_keeps_a_stem_that_already_follows_the_format(tmp_path: Path) -> None:
    write_image(tmp_path / "imgs" / "aachen_000001_000019_leftImg8bit.png", SIZE_HW, 0)
    write_image(tmp_path / "imgs" / "holiday.png", SIZE_HW, 1)
    with Project.create(tmp_path / "p.segproj", [Category(1, "car")]) as project:
        project.add_images([Image(0, "imgs/aachen_000001_000019_leftImg8bit.png", SIZE_HW[1], SIZE_HW[0]),
                            Image(0, "imgs/holiday.png", SIZE_HW[1], SIZE_HW[0])])
        export_project(project, "cityscapes", tmp_path / "cs", mapping={"car": "car"})
    with open(tmp_path / "cs" / "name_map.csv", newline="") as handle:
        stems = {row["original_path"]: row["exported_stem"] for row in csv.DictReader(handle)}
    assert stems == {"imgs/aachen_000001_000019_leftImg8bit.png": "aachen_000001_000019",
                     "imgs/holiday.png": "segstudio_000000_000000"}
