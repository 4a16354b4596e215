"""labelme import on labelme's own examples, compared with labelme's reference conversions."""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from format_helpers import snapshot, write_image
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats import ExportOptions
from annotations.formats.labelme import import_labelme
from annotations.formats.voc import export_voc
from annotations.geometry import Box, Mask, Polygon, rle
from annotations.model import Category
from annotations.store import Project

EXAMPLES = "labelme_examples"


def test_every_example_imports(shared_data: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_labelme(project, shared_data / EXAMPLES)
        assert report.images_added == 18 and report.annotations == 61
        skipped = "\n".join(report.skipped)
        assert "annotations.json: not a labelme file" in skipped  # labelme's own COCO output, not a labelme file
        assert skipped.count("__ignore__ convention") == 4
        assert all(f"a {kind} has no area" in skipped for kind in ("line", "point", "linestrip"))
        by_file = {Path(im.path).name: im for im in project.images()}
        # apc2016_obj3.json names itself as imagePath: the embedded imageData is used instead
        extracted = [im for im in project.images() if "p_images/" in im.path]
        assert len(extracted) == 1 and project.image_path(extracted[0]).is_file()
        assert (extracted[0].height, extracted[0].width) == (907, 1210)
        # image-level flags (classification example)
        flags = [im.attributes.get("flags") for im in project.images() if im.attributes.get("flags")]
        assert {"__ignore__": False, "cat": True, "dog": False} in flags
        # primitives: circle -> polygon, mask patch -> mask, rectangles -> boxes
        prim = by_file["primitives.jpg"]
        kinds = Counter(type(a.geometry).__name__ for a in project.annotations(prim.id))
        assert kinds == Counter({"Box": 2, "Polygon": 2, "Mask": 1})
        data = json.loads((shared_data / EXAMPLES / "primitives" / "primitives.json").read_text())
        circle = next(s for s in data["shapes"] if s["shape_type"] == "circle")
        (cx, cy), (rx, ry) = circle["points"]
        radius = np.hypot(rx - cx, ry - cy)
        circle_ann = next(a for a in project.annotations(prim.id) if project.get_category(a.category_id).name == "circle")
        assert circle_ann.geometry.area == pytest.approx(np.pi * radius**2, rel=0.01)
        patch_shape = next(s for s in data["shapes"] if s["shape_type"] == "mask")
        patch = np.array(PILImage.open(io.BytesIO(base64.b64decode(patch_shape["mask"])))).astype(bool)
        mask_ann = next(a for a in project.annotations(prim.id) if isinstance(a.geometry, Mask))
        assert rle.area(mask_ann.geometry) == patch.sum()
        x1, y1 = (int(round(v)) for v in np.min(patch_shape["points"], axis=0))
        assert rle.bbox(mask_ann.geometry).x1 >= x1 and rle.bbox(mask_ann.geometry).y1 >= y1


def test_group_ids_form_the_same_instances_as_labelme2coco(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / EXAMPLES / "instance_segmentation"
    reference = json.loads((folder / "data_dataset_coco" / "annotations.json").read_text())
    ref_names = {c["id"]: c["name"] for c in reference["categories"]}
    ref_images = {im["id"]: Path(im["file_name"]).name for im in reference["images"]}
    expected = Counter((ref_images[a["image_id"]], ref_names[a["category_id"]], len(a["segmentation"]))
                       for a in reference["annotations"])
    with Project.create(tmp_path / "p.segproj") as project:
        import_labelme(project, folder / "data_annotated")
        names = {c.id: c.name for c in project.categories()}
        got = Counter(
            (Path(im.path).name, names[a.category_id], len(a.geometry.parts))
            for im in project.images() for a in project.annotations(im.id)
        )
    assert got == expected


def _labels(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("example", "reference_folder"),
    [
        ("instance_segmentation", "SegmentationClass"),
        ("semantic_segmentation", "SegmentationClass"),
        ("video_annotation", "SegmentationClassPNG"),
    ],
)
def test_our_voc_classes_match_labelmes_reference_pngs(
    shared_data: Path, tmp_path: Path, example: str, reference_folder: str,
) -> None:
    """Per-class IoU >= 0.9 between our VOC SegmentationClass and labelme's.

    They are not equal pixel for pixel on purpose: labelme fills polygons with PIL, which also
    paints the outline pixels (its masks are 1.5-7 % larger), while SegStudio rasterizes with
    pycocotools (DESIGN §4) so masks, areas and COCO evaluation agree. The smallest object here
    (an 815-pixel bottle) has IoU ~0.93 for that reason alone. Pixels labelme marks void (255,
    its ``__ignore__`` label, which we skip) are left out of the comparison."""
    folder = shared_data / EXAMPLES / example
    names = _labels(folder / "labels.txt")
    assert names[:2] == ["__ignore__", "_background_"]
    categories = [Category(i, n) for i, n in enumerate(names[2:], start=1)]  # PNG index i = names[i + 1]
    with Project.create(tmp_path / "p.segproj", categories) as project:
        import_labelme(project, folder / "data_annotated")
        export_voc(project, tmp_path / "voc", ExportOptions())
    pngs = sorted((folder / "data_dataset_voc" / reference_folder).glob("*.png"))
    assert pngs
    for png in pngs:
        ref = np.array(PILImage.open(png))
        ours = np.array(PILImage.open(tmp_path / "voc" / "SegmentationClass" / png.name))
        valid = ref != 255
        classes = set(np.unique(ref[valid])) | set(np.unique(ours[valid]))
        assert classes - {0}, png.name
        for c in classes - {0}:
            a, b = (ref == c) & valid, (ours == c) & valid
            iou = (a & b).sum() / (a | b).sum()
            assert iou >= 0.9, f"{png.name} class {names[c + 1]}: IoU {iou:.3f}"


def test_tutorial_label_png(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / EXAMPLES / "tutorial"
    names = _labels(folder / "apc2016_obj3" / "label_names.txt")
    with Project.create(tmp_path / "p.segproj", [Category(i, n) for i, n in enumerate(names[1:], start=1)]) as project:
        import_labelme(project, folder / "apc2016_obj3.json")
        export_voc(project, tmp_path / "voc", ExportOptions())
    ref = np.array(PILImage.open(folder / "apc2016_obj3" / "label.png"))
    ours = np.array(PILImage.open(next((tmp_path / "voc" / "SegmentationClass").glob("*.png"))))
    for c in set(np.unique(ref)) - {0}:
        a, b = ref == c, ours == c
        assert (a & b).sum() / (a | b).sum() >= 0.9, names[c]


# ----------------------------------------------------------------------------------- bad input
def _labelme(tmp_path: Path, **overrides) -> Path:
    write_image(tmp_path / "src" / "a.jpg", (20, 30), 0)
    doc = {"version": "5.7.0", "flags": {}, "imagePath": "a.jpg", "imageData": None, "imageHeight": 20, "imageWidth": 30,
           "shapes": [{"label": "dog", "points": [[1, 1], [10, 1], [10, 8]], "group_id": None, "shape_type": "polygon",
                       "flags": {}}]}
    doc.update(overrides)
    path = tmp_path / "src" / "a.json"
    path.write_text(json.dumps(doc))
    return path


def _png_b64(size_hw: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    PILImage.fromarray(np.full((*size_hw, 3), 90, dtype=np.uint8)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"imagePath": "../../x.jpg"}, "escapes the data set root"),
        ({"imagePath": "C:\\\\images\\\\x.jpg"}, "absolute"),
        ({"imagePath": "nothere.jpg"}, "not found and no imageData"),
        ({"imageHeight": 21}, "differ from the image's size"),
        ({"shapes": [{"label": "dog", "points": [[1, 1]], "shape_type": "rectangle"}]}, "rectangle needs 2 points"),
        ({"shapes": [{"label": "dog", "points": [[1, "a"], [2, 2], [3, 3]]}]}, "points must be"),
        ({"shapes": [{"label": "zebra", "points": [[1, 1], [10, 1], [10, 8]]}]}, "unknown label"),
        ({"imagePath": "nothere.jpg", "imageData": _png_b64((20, 30)),
          "shapes": [{"label": "zebra", "points": [[1, 1], [9, 1], [9, 9]]}]}, "unknown label"),
    ],
)
def test_bad_labelme_input_gives_clear_errors_and_changes_nothing(tmp_path: Path, overrides: dict, message: str) -> None:
    _labelme(tmp_path, **overrides)
    with Project.create(tmp_path / "p.segproj", [Category(1, "dog")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_labelme(project, tmp_path / "src")
        assert message in str(info.value) and "a.json" in str(info.value)
        assert snapshot(project) == before
    assert not (tmp_path / "p_images").exists() or not any((tmp_path / "p_images").iterdir())


def test_malformed_labelme_json_names_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.json").write_text('{"shapes": [\n\n   {"label": }]}')
    with Project.create(tmp_path / "p.segproj") as project:
        with pytest.raises(FormatError, match=r"a\.json: malformed JSON at line 3, column 14"):
            import_labelme(project, tmp_path / "src")


def test_windows_image_path_and_grouped_mixed_shapes(tmp_path: Path) -> None:
    write_image(tmp_path / "src" / "imgs" / "a.jpg", (20, 30), 0)
    (tmp_path / "src" / "json").mkdir()
    shapes = [
        {"label": "dog", "points": [[1, 1], [8, 1], [8, 8]], "group_id": 3, "shape_type": "polygon", "flags": {"occluded": True}},
        {"label": "dog", "points": [[12, 2], [18, 9]], "group_id": 3, "shape_type": "rectangle", "description": "tail"},
        {"label": "dog", "points": [[20, 10], [25, 15]], "group_id": None, "shape_type": "rectangle"},
    ]
    doc = {"imagePath": "..\\imgs\\a.jpg", "imageData": None, "shapes": shapes}
    (tmp_path / "src" / "json" / "a.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "proj.segproj") as project:
        import_labelme(project, tmp_path / "src")
        (image,) = project.images()
        assert image.path == "src/imgs/a.jpg" and (image.height, image.width) == (20, 30)
        first, second = project.annotations(image.id)
        assert isinstance(first.geometry, Polygon) and len(first.geometry.parts) == 2
        assert first.attributes == {"flags": {"occluded": True}, "description": "tail", "group_id": 3}
        assert second.geometry == Box(20, 10, 25, 15)
