"""Pascal VOC export/import, checked by torchvision's VOCDetection and VOCSegmentation."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from format_helpers import VOC_CLASSES, build_project, dense, snapshot, write_image
from PIL import Image as PILImage
from pycocotools import mask as mask_utils

from annotations.errors import FormatError
from annotations.formats import ExportOptions
from annotations.formats.common import voc_colormap
from annotations.formats.voc import export_voc, import_voc
from annotations.geometry import Box, Mask, rle
from annotations.model import Category
from annotations.store import Project


@pytest.fixture
def voc_project(tmp_path: Path):
    project = build_project(tmp_path, VOC_CLASSES, n_images=4, suffix=".png")
    yield project
    project.close()


def _export(project: Project, tmp_path: Path, **kw) -> Path:
    root = tmp_path / "voc"
    export_voc(project, root / "VOCdevkit" / "VOC2012", ExportOptions(**kw))
    return root


def _expected_maps(project: Project, image) -> tuple[np.ndarray, np.ndarray]:
    """Class and object maps painted independently: back to front, crowd = 255."""
    cls = np.zeros(image.size_hw, dtype=np.uint8)
    obj = np.zeros(image.size_hw, dtype=np.uint8)
    for k, a in enumerate(project.annotations(image.id), start=1):
        if isinstance(a.geometry, Box):
            continue
        pixels = dense(a.geometry, image.size_hw)
        cls[pixels] = 255 if a.iscrowd else a.category_id  # VOC-preset ids are VOC indices
        obj[pixels] = 255 if a.iscrowd else k
    return cls, obj


def test_torchvision_voc_detection_and_segmentation_read_our_tree(voc_project: Project, tmp_path: Path) -> None:
    from torchvision.datasets import VOCDetection, VOCSegmentation, wrap_dataset_for_transforms_v2

    root = _export(voc_project, tmp_path, split={"val": 0.25})
    voc = root / "VOCdevkit" / "VOC2012"
    by_stem = {Path(im.path).stem: im for im in voc_project.images()}
    seen = 0
    for image_set in ("train", "val", "trainval"):
        detection = wrap_dataset_for_transforms_v2(VOCDetection(str(root), year="2012", image_set=image_set))
        segmentation = VOCSegmentation(str(root), year="2012", image_set=image_set)
        assert len(detection) == len(segmentation) == {"train": 3, "val": 1, "trainval": 4}[image_set]
        for index in range(len(detection)):
            pil, target = detection[index]
            stem = Path(detection._dataset.images[index]).stem
            image = by_stem[stem]
            anns = voc_project.annotations(image.id)
            assert pil.size == (image.width, image.height)
            np.testing.assert_array_equal(target["labels"].numpy(), [a.category_id for a in anns])
            # XML coordinates are integers, 1-based inclusive
            xml = ET.parse(voc / "Annotations" / f"{stem}.xml").getroot()
            for obj, box, a in zip(xml.iter("object"), target["boxes"].numpy(), anns):
                values = [obj.find("bndbox").findtext(t) for t in ("xmin", "ymin", "xmax", "ymax")]
                assert all(v.isdigit() for v in values)
                assert list(box) == [int(v) for v in values]
                if isinstance(a.geometry, Box):
                    g = a.geometry
                    assert list(box) == [g.x1 + 1, g.y1 + 1, g.x2, g.y2]
                else:
                    x, y, w, h = (int(v) for v in mask_utils.toBbox(rle.encode(dense(a.geometry, image.size_hw)).rle))
                    assert list(box) == [x + 1, y + 1, x + w, y + h]
                assert obj.findtext("difficult") == ("1" if a.iscrowd or a.attributes.get("difficult") else "0")
            _, mask = segmentation[index]
            assert mask.mode == "P"
            values = np.array(mask)
            assert set(np.unique(values)) <= set(range(21)) | {255}
            expected_cls, expected_obj = _expected_maps(voc_project, image)
            np.testing.assert_array_equal(values, expected_cls)
            np.testing.assert_array_equal(np.array(PILImage.open(voc / "SegmentationObject" / f"{stem}.png")), expected_obj)
            palette = np.array(mask.getpalette()[: 256 * 3], dtype=np.uint8).reshape(256, 3)
            np.testing.assert_array_equal(palette, voc_colormap(256))
            seen += image_set != "trainval"
    assert seen == 4


def test_round_trip_keeps_boxes_and_visible_pixels(voc_project: Project, tmp_path: Path) -> None:
    root = _export(voc_project, tmp_path)
    with Project.create(tmp_path / "back.segproj") as copy:
        report = import_voc(copy, root / "VOCdevkit")
        assert report.images_added == 4
        assert [c.name for c in copy.categories()] == [c.name for c in voc_project.categories()
                                                       if c.name in {"aeroplane", "bicycle", "bird"}]
        for original, back in zip(voc_project.images(), copy.images()):
            assert (back.width, back.height) == (original.width, original.height)
            assert back.path.endswith(f"JPEGImages/{Path(original.path).stem}.jpg")
            _, expected_obj = _expected_maps(voc_project, original)
            anns = voc_project.annotations(original.id)
            got = copy.annotations(back.id)
            assert len(got) == len(anns)
            names_a = {c.id: c.name for c in voc_project.categories()}
            names_b = {c.id: c.name for c in copy.categories()}
            for k, (a, b) in enumerate(zip(anns, got), start=1):
                assert names_a[a.category_id] == names_b[b.category_id]
                if isinstance(a.geometry, Box) or a.iscrowd:
                    assert isinstance(b.geometry, Box)
                    if isinstance(a.geometry, Box):
                        assert b.geometry == a.geometry
                    assert b.attributes.get("difficult") is True
                else:
                    assert isinstance(b.geometry, Mask)
                    np.testing.assert_array_equal(rle.decode(b.geometry), expected_obj == k)


def _voc_tree(tmp_path: Path, xml_text: str, name: str = "a") -> Path:
    root = tmp_path / "src"
    (root / "Annotations").mkdir(parents=True)
    write_image(root / "JPEGImages" / f"{name}.jpg", (20, 30), 0)
    (root / "Annotations" / f"{name}.xml").write_text(xml_text)
    return root


GOOD = """<annotation><filename>{file}</filename><size><width>30</width><height>20</height><depth>3</depth></size>
<object><name>dog</name><difficult>0</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>10.0</xmax><ymax>12</ymax></bndbox></object>
</annotation>"""

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>a.jpg</filename><object><name>&lol3;</name></object></annotation>"""


def test_import_box_with_float_coordinates(tmp_path: Path) -> None:
    root = _voc_tree(tmp_path, GOOD.format(file="a.jpg"))
    with Project.create(tmp_path / "p.segproj") as project:
        import_voc(project, root)
        (ann,) = project.annotations()
        assert ann.geometry == Box(1, 2, 10, 12) and project.get_category(ann.category_id).name == "dog"


@pytest.mark.parametrize(
    ("xml_text", "message"),
    [
        ("<annotation><filename>a.jpg</filename>\n<object><name>dog</name></objec></annotation>", "malformed XML at line 2"),
        (BOMB, "entity"),
        (GOOD.format(file="../../x.jpg"), "escapes the data set root"),
        (GOOD.format(file="b.jpg"), "missing"),
        (GOOD.format(file="a.jpg").replace("<xmax>10.0</xmax>", "<xmax>1</xmax>"), "not ordered"),
        (GOOD.format(file="a.jpg").replace("dog", "zebra"), "unknown label"),
    ],
)
def test_bad_voc_input_gives_clear_errors_and_changes_nothing(tmp_path: Path, xml_text: str, message: str) -> None:
    root = _voc_tree(tmp_path, xml_text)
    if message == "missing":
        (root / "JPEGImages" / "a.jpg").unlink()
    with Project.create(tmp_path / "p.segproj", [Category(1, "dog")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_voc(project, root)
        assert message in str(info.value) and ("a.xml" in str(info.value) or "src" in str(info.value))
        assert snapshot(project) == before


def test_missing_image_on_export_leaves_target_unchanged(voc_project: Project, tmp_path: Path) -> None:
    voc_project.image_path(voc_project.images()[2]).unlink()
    out = tmp_path / "out"
    with pytest.raises(FormatError, match="missing.*img_02"):
        export_voc(voc_project, out, ExportOptions())
    assert not out.exists()


def test_import_labelme_semantic_voc_tree(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "labelme_examples" / "semantic_segmentation" / "data_dataset_voc"
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_voc(project, root)
        assert report.images_added == 3
        for image in project.images():
            reference = np.array(PILImage.open(root / "SegmentationClass" / f"{Path(image.path).stem}.png"))
            names = (root / "class_names.txt").read_text().splitlines()
            for ann in project.annotations(image.id):
                index = names.index(project.get_category(ann.category_id).name)
                np.testing.assert_array_equal(rle.decode(ann.geometry), reference == index)


def test_voc_preset_classes_give_voc_indices(tmp_path: Path) -> None:
    from annotations.model import Annotation, Image
    from annotations.presets import load_preset

    categories = load_preset("voc")
    with Project.create(tmp_path / "p.segproj", categories) as project:
        image = project.add_images([Image(0, str(write_image(tmp_path / "a.jpg", (30, 40), 0)), 40, 30)])[0]
        person = next(c for c in categories if c.name == "person")
        project.add_annotations([Annotation(0, image.id, person.id, Box(2, 2, 20, 20))])
        from annotations.geometry import Polygon

        project.add_annotations([Annotation(0, image.id, person.id, Polygon.from_points([[1, 1], [30, 2], [20, 25]]))])
        export_voc(project, tmp_path / "voc", ExportOptions())
    values = np.array(PILImage.open(tmp_path / "voc" / "SegmentationClass" / "a.png"))
    assert set(np.unique(values).tolist()) == {0, 15}  # person is VOC index 15
