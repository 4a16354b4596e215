"""VOC trees written by other tools: CVAT/Datumaro colour (RGB) PNGs, ``labelmap.txt`` lines
whose class names contain ``:``, and the Datumaro VOC fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats import ExportOptions
from annotations.formats.common import voc_colormap
from annotations.formats.voc import class_names, export_voc, import_voc
from annotations.geometry import Box, Mask, rle
from annotations.model import Annotation, Category, Image
from annotations.store import Project

SIZE_HW = (24, 32)


def _tree(root: Path, objects: list[tuple[str, tuple[int, int, int, int]]]) -> Path:
    """A one-image VOC tree (``a.jpg``) with these objects (name, 1-based inclusive box)."""
    (root / "Annotations").mkdir(parents=True)
    write_image(root / "JPEGImages" / "a.jpg", SIZE_HW, seed=1)
    xml = [(f"<annotation><filename>a.jpg</filename><size><width>{SIZE_HW[1]}</width><height>{SIZE_HW[0]}</height>"
           "<depth>3</depth></size>")]
    for name, (x1, y1, x2, y2) in objects:
        xml.append(f"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
                   f"<ymax>{y2}</ymax></bndbox></object>")
    (root / "Annotations" / "a.xml").write_text("".join(xml) + "</annotation>", encoding="utf-8")
    return root


def _save_rgb(index_hw: np.ndarray, colors: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(colors[index_hw].astype(np.uint8), mode="RGB").save(path)


def _masks(project: Project) -> list[np.ndarray]:
    return [rle.decode(a.geometry) for a in sorted(project.annotations(), key=lambda a: a.z_order)]


def test_labelmap_names_may_contain_colons(tmp_path: Path) -> None:
    (tmp_path / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\nsign: stop:128,0,0::\nc:d:e:0,128,0:head:\n",
        encoding="utf-8")
    assert class_names(tmp_path) == ["background", "sign: stop", "c:d:e"]


def test_semantic_export_with_colon_names_comes_back_with_the_same_names(tmp_path: Path) -> None:
    write_image(tmp_path / "img" / "a.png", SIZE_HW, seed=2)
    project = Project.create(tmp_path / "p.segproj", [Category(1, "ratio 1:2", "#800000"), Category(2, "plain", "#008000")])
    (image,) = project.add_images([Image(0, "img/a.png", SIZE_HW[1], SIZE_HW[0])])
    left = np.zeros(SIZE_HW, bool)
    left[:, :10] = True
    right = np.zeros(SIZE_HW, bool)
    right[:, 20:] = True
    project.add_annotations([Annotation(0, image.id, 1, rle.encode(left)), Annotation(0, image.id, 2, rle.encode(right))])
    export_voc(project, tmp_path / "voc", ExportOptions())
    project.close()
    # A semantic data set (class PNGs only) takes its names from labelmap.txt.
    for folder in ("Annotations", "SegmentationObject"):
        for f in (tmp_path / "voc" / folder).iterdir():
            f.unlink()
    back = Project.create(tmp_path / "back.segproj")
    try:
        import_voc(back, tmp_path / "voc")
        assert sorted(c.name for c in back.categories()) == ["plain", "ratio 1:2"]
        by_name = {back.get_category(a.category_id).name: rle.decode(a.geometry) for a in back.annotations()}
        np.testing.assert_array_equal(by_name["ratio 1:2"], left)
        np.testing.assert_array_equal(by_name["plain"], right)
    finally:
        back.close()


def test_rgb_object_and_class_pngs_as_cvat_writes_them(tmp_path: Path) -> None:
    root = _tree(tmp_path / "voc", [("cat", (1, 1, 10, 10)), ("dog", (11, 1, 32, 24))])
    objects = np.zeros(SIZE_HW, np.uint8)
    objects[0:10, 0:10] = 1
    objects[5:24, 10:32] = 2
    objects[10, 10:20] = 255  # void border
    _save_rgb(objects, voc_colormap(256), root / "SegmentationObject" / "a.png")
    classes = np.where(objects == 1, 8, np.where(objects == 2, 12, objects)).astype(np.uint8)  # VOC: cat 8, dog 12
    _save_rgb(classes, voc_colormap(256), root / "SegmentationClass" / "a.png")
    project = Project.create(tmp_path / "p.segproj")
    try:
        import_voc(project, root)
        anns = sorted(project.annotations(), key=lambda a: a.z_order)
        assert [project.get_category(a.category_id).name for a in anns] == ["cat", "dog"]
        assert all(isinstance(a.geometry, Mask) for a in anns)
        cat, dog = _masks(project)
        np.testing.assert_array_equal(cat, objects == 1)
        np.testing.assert_array_equal(dog, objects == 2)
    finally:
        project.close()


def test_rgb_class_png_uses_the_labelmap_colours(tmp_path: Path) -> None:
    root = tmp_path / "voc"
    write_image(root / "JPEGImages" / "a.jpg", SIZE_HW, seed=3)
    (root / "labelmap.txt").write_text("background:0,0,0::\nroad:128,64,128::\ncar:0,0,142::\n", encoding="utf-8")
    index = np.zeros(SIZE_HW, np.uint8)
    index[:12] = 1
    index[15:, 5:9] = 2
    colors = np.array([[0, 0, 0], [128, 64, 128], [0, 0, 142]], np.uint8)
    _save_rgb(index, colors, root / "SegmentationClass" / "a.png")
    project = Project.create(tmp_path / "p.segproj")
    try:
        import_voc(project, root)
        got = {project.get_category(a.category_id).name: rle.decode(a.geometry) for a in project.annotations()}
        assert set(got) == {"road", "car"}
        np.testing.assert_array_equal(got["road"], index == 1)
        np.testing.assert_array_equal(got["car"], index == 2)
    finally:
        project.close()


def test_rgb_png_with_an_unknown_colour_names_file_and_colour(tmp_path: Path) -> None:
    root = _tree(tmp_path / "voc", [("cat", (1, 1, 10, 10))])
    colors = voc_colormap(256).copy()
    colors[1] = (1, 2, 3)  # not a VOC colour
    objects = np.zeros(SIZE_HW, np.uint8)
    objects[0:10, 0:10] = 1
    _save_rgb(objects, colors, root / "SegmentationObject" / "a.png")
    project = Project.create(tmp_path / "p.segproj")
    try:
        with pytest.raises(FormatError, match=r"a\.png.*\(1, 2, 3\)"):
            import_voc(project, root)
        assert project.counts()["annotations"] == 0
    finally:
        project.close()


def test_datumaro_voc_fixture_imports(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "datumaro_format_fixtures" / "voc_dataset" / "voc_dataset1"
    project = Project.create(tmp_path / "p.segproj")
    try:
        import_voc(project, root)
        anns = sorted(project.annotations(), key=lambda a: a.z_order)
        assert [project.get_category(a.category_id).name for a in anns] == ["cat", "person"]
        # the object PNG paints every pixel with object 1's colour: object 2 keeps its box
        assert isinstance(anns[0].geometry, Mask) and rle.area(anns[0].geometry) == 200
        assert anns[1].geometry == Box(3.0, 4.0, 6.0, 7.0)
        assert anns[0].attributes == {"truncated": True}
    finally:
        project.close()
