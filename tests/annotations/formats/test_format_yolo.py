"""YOLO export, read back by an independent reader of the Ultralytics label format.

Ultralytics itself is not a dependency (AGPL, and it pulls opencv-python, which breaks PySide6):
:func:`read_yolo` follows its documented data set format instead
(https://docs.ultralytics.com/datasets/segment/ and /datasets/detect/): ``data.yaml`` holds
``path`` (the root), ``train``/``val``/``test`` image folders relative to it and ``names``
(``id: name``); the label file of ``.../images/<split>/X.ext`` is ``.../labels/<split>/X.txt``;
each line is ONE object, ``class x1 y1 x2 y2 ...`` (polygon, coordinates normalized to [0, 1])
or ``class cx cy w h`` (box); a file whose lines have more than 5 values holds polygons.
Polygons are rasterized back with pycocotools (the project's rasterizer).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from format_helpers import build_project
from PIL import Image as PILImage
from pycocotools import mask as mask_utils

from annotations.errors import FormatError
from annotations.formats import ExportOptions, ImportOptions
from annotations.formats.coco import import_coco
from annotations.formats.labelme import import_labelme
from annotations.formats.yolo import CLASS_MAP_FILE, export_yolo
from annotations.formats.yolo_polygons import merge_rings, object_polygon
from annotations.geometry import Polygon, clip_to_image, rle, to_box, to_mask
from annotations.geometry.simplify import DEFAULT_SIMPLIFY_TOLERANCE_PX
from annotations.model import Annotation, Category, Image
from annotations.store import Project

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class YoloObject:
    """One label line: class id and either a polygon (N, 2) or a box (cx, cy, w, h), normalized."""

    class_id: int
    values: tuple[float, ...]

    def polygon_px(self, size_hw: tuple[int, int]) -> np.ndarray:
        h, w = size_hw
        return np.asarray(self.values, dtype=np.float64).reshape(-1, 2) * [w, h]


@dataclass(frozen=True)
class YoloDataset:
    root: Path
    names: dict[int, str]
    splits: dict[str, Path]  # split -> images folder
    labels: dict[Path, list[YoloObject]]  # image file -> objects


def _read_yaml(path: Path) -> dict:
    """The subset of YAML a data.yaml uses: ``key: value`` lines (JSON-quoted or plain scalars)
    and a ``names:`` block of ``  i: "name"`` lines."""
    result: dict = {"names": {}}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip() or line.strip() == "names:":
            continue
        key, _, value = line.strip().partition(": ")
        value = json.loads(value) if value.startswith('"') else value
        if line.startswith("  "):
            result["names"][int(key)] = value
        else:
            result[key] = value
    return result


def read_yolo(yaml_path: Path) -> YoloDataset:
    """Read an exported data set the way Ultralytics' documented format describes it; raise
    AssertionError for anything its loader would reject (class id out of range, coordinates
    outside [0, 1], polygons of < 3 points, mixed box/polygon files)."""
    data = _read_yaml(yaml_path)
    for key in ("path", "train", "val", "names"):
        assert key in data, f"data.yaml lacks {key!r}"
    root = Path(data["path"])
    assert root.is_absolute() and root.is_dir(), data["path"]
    names = data["names"]
    assert sorted(names) == list(range(len(names))), "class ids must be contiguous from 0"
    assert int(data.get("nc", len(names))) == len(names)
    splits = {k: root / data[k] for k in ("train", "val", "test") if k in data}
    labels: dict[Path, list[YoloObject]] = {}
    for folder in set(splits.values()):
        assert folder.is_dir(), folder
        for image in sorted(folder.iterdir()):
            if image.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            parts = list(image.parts)
            index = len(parts) - 1 - parts[::-1].index("images")
            label_file = Path(*parts[:index], "labels", *parts[index + 1:]).with_suffix(".txt")
            rows = [line.split() for line in label_file.read_text(encoding="utf-8").splitlines() if line.strip()]
            objects = [YoloObject(int(r[0]), tuple(float(v) for v in r[1:])) for r in rows]
            segments = any(len(r) > 6 for r in rows)
            for obj in objects:
                assert 0 <= obj.class_id < len(names)
                assert all(0.0 <= v <= 1.0 for v in obj.values), f"{label_file}: coordinates outside [0, 1]"
                if segments:
                    assert len(obj.values) >= 6 and len(obj.values) % 2 == 0, f"{label_file}: bad polygon"
                else:
                    assert len(obj.values) == 4, f"{label_file}: bad box"
            labels[image] = objects
    return YoloDataset(root, names, splits, labels)


def _by_stem(project: Project) -> dict[str, Image]:
    images = {Path(image.path).stem: image for image in project.images()}
    assert len(images) == len(project.images()), "the test needs unique image stems"
    return images


def _pixels_iou(a: dict, b: dict) -> float:
    return float(mask_utils.iou([a], [b], [0])[0, 0])


def _round_trip(project: Project, out: Path, **options) -> tuple[int, list[float], int]:
    """Export, read back, compare every object: count, class, IoU with its source mask.
    Returns (objects, ious, multi-part objects)."""
    report = export_yolo(project, out, ExportOptions(split={"val": 0.25}, seed=3), **options)
    dataset = read_yolo(out / "data.yaml")
    class_map = json.loads((out / CLASS_MAP_FILE).read_text(encoding="utf-8"))["classes"]
    yolo_to_category = {row["yolo_class"]: row["category_id"] for row in class_map}
    assert [dataset.names[i] for i in sorted(dataset.names)] == [c.name for c in project.categories()]
    assert [yolo_to_category[i] for i in sorted(yolo_to_category)] == [c.id for c in project.categories()]
    images = _by_stem(project)
    ious: list[float] = []
    multipart = 0
    objects = 0
    for image_file, written in dataset.labels.items():
        image = images[image_file.stem]
        source = [a for a in project.annotations(image.id) if not a.iscrowd]
        assert len(written) == len(source), image.path  # one line per object, parts included
        assert [yolo_to_category[o.class_id] for o in written] == [a.category_id for a in source]
        for obj, ann in zip(written, source):
            geometry = clip_to_image(ann.geometry, image.size_hw)
            h, w = image.size_hw
            drawn = mask_utils.merge(mask_utils.frPyObjects([obj.polygon_px(image.size_hw).reshape(-1).tolist()], h, w))
            ious.append(_pixels_iou(drawn, to_mask(geometry, image.size_hw).rle))
            multipart += isinstance(geometry, Polygon) and len(geometry.parts) > 1
        objects += len(written)
    assert objects == report.objects == sum(1 for a in project.annotations() if not a.iscrowd)
    return objects, ious, multipart


def test_coco128_round_trip_one_object_per_line(shared_data: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "coco128.segproj") as project:
        import_coco(project, shared_data / "coco128" / "instances_train2017.json")
        objects, ious, multipart = _round_trip(project, tmp_path / "y")
    # 929 non-crowd instances, 82 of them polygons of several parts (measured on this data)
    assert objects == 929 and multipart == 82
    assert min(ious) >= 0.95, sorted(ious)[:5]


def test_labelme_round_trip_with_multipart_boxes_and_masks(shared_data: Path, tmp_path: Path) -> None:
    examples = shared_data / "labelme_examples"
    with Project.create(tmp_path / "labelme.segproj") as project:
        # the instance example (group_id instances of several parts) and every shape type; the
        # other examples repeat its image names
        import_labelme(project, examples / "instance_segmentation" / "data_annotated")
        import_labelme(project, examples / "primitives", ImportOptions(add_labels=True))
        kinds = Counter(type(a.geometry).__name__ for a in project.annotations())
        assert {"Polygon", "Box", "Mask"} <= set(kinds)
        objects, ious, multipart = _round_trip(project, tmp_path / "y")
    assert objects == 17 and multipart == 2
    assert min(ious) >= 0.95, sorted(ious)[:5]


def _nuclei_project(shared_data: Path, tmp_path: Path, n_images: int = 2) -> Project:
    """Real instance masks (dsb2018, one PNG per nucleus) stored as RLE masks."""
    (tmp_path / "nuclei").mkdir()
    project = Project.create(tmp_path / "nuclei" / "n.segproj", [Category(1, "nucleus")])
    folders = sorted((shared_data / "dsb2018_nuclei40" / "stage1_train").iterdir())[:n_images]
    images = project.add_images([
        Image(0, str(next((f / "images").glob("*.png"))), *PILImage.open(next((f / "images").glob("*.png"))).size)
        for f in folders])
    annotations = []
    for image, folder in zip(images, folders):
        for k, file in enumerate(sorted((folder / "masks").glob("*.png"))):
            annotations.append(Annotation(0, image.id, 1, rle.encode(np.array(PILImage.open(file)) > 0), z_order=k))
    project.add_annotations(annotations)
    return project


def test_traced_masks_are_simplified_and_checked(shared_data: Path, tmp_path: Path) -> None:
    project = _nuclei_project(shared_data, tmp_path)
    try:
        objects, ious, _ = _round_trip(project, tmp_path / "y")
        assert objects == sum(1 for _ in project.annotations()) > 50
        assert min(ious) >= 0.95
        exact = export_yolo(project, tmp_path / "exact", ExportOptions(), tolerance_px=0.0)
        assert not exact.warnings
        vertices = {name: sum(len(line.split()) for p in (tmp_path / name / "labels" / "train").glob("*.txt")
                              for line in p.read_text().splitlines()) for name in ("y", "exact")}
    finally:
        project.close()
    # simplification at the default tolerance writes fewer vertices than the pixel staircase
    assert vertices["y"] < 0.8 * vertices["exact"], vertices


def test_pedestrian_masks_lose_vertices_not_pixels(shared_data: Path) -> None:
    labels = np.array(PILImage.open(shared_data / "pennfudan_torchvision_gallery" / "FudanPed00054_mask.png"))
    for value in np.unique(labels)[1:]:
        mask = rle.encode(labels == value)
        exact = object_polygon(mask, labels.shape, tolerance_px=0.0)
        simple = object_polygon(mask, labels.shape)
        assert exact.iou == pytest.approx(1.0)  # the traced outline fills back to the same pixels
        assert simple.tolerance_px == DEFAULT_SIMPLIFY_TOLERANCE_PX <= 1.0
        assert len(simple.ring_xy) < 0.7 * len(exact.ring_xy)  # measured 0.49-0.60
        assert simple.iou >= 0.99  # measured 0.994-0.997


def test_merge_rings_adds_no_area_and_keeps_holes() -> None:
    size_hw = (60, 80)
    left = np.array([[2, 2], [20, 2], [20, 30], [2, 30]], dtype=np.float64)
    right = np.array([[50, 10], [70, 10], [70, 50], [50, 50]], dtype=np.float64)
    middle = np.array([[30, 40], [40, 40], [40, 55], [30, 55]], dtype=np.float64)
    hole = np.array([[55, 20], [60, 20], [60, 30], [55, 30]], dtype=np.float64)
    merged = merge_rings([left, middle, right, hole])
    # every ring walked once, bridges walked twice: each vertex of every ring appears
    for ring in (left, middle, right, hole):
        assert all(any(np.array_equal(v, m) for m in merged) for v in ring)
    drawn = mask_utils.decode(mask_utils.frPyObjects([merged.reshape(-1).tolist()], *size_hw)).astype(bool)[..., 0]
    expected = np.zeros(size_hw, dtype=bool)
    for ring in (left, middle, right):
        x1, y1 = ring.min(axis=0).astype(int)
        x2, y2 = ring.max(axis=0).astype(int)
        expected[y1:y2, x1:x2] = True
    expected[20:30, 55:60] = False
    assert (drawn == expected).all()


def test_largest_part_mode_warns_and_keeps_one_part(tmp_path: Path) -> None:
    project = build_project(tmp_path, n_images=2)
    try:
        report = export_yolo(project, tmp_path / "y", ExportOptions(), multipart="largest")
        multi = [a for a in project.annotations() if isinstance(a.geometry, Polygon) and len(a.geometry.parts) > 1]
        assert sum("only the largest" in w for w in report.warnings) == len(multi) == 2
        with pytest.raises(FormatError, match="multipart mode"):
            export_yolo(project, tmp_path / "z", ExportOptions(), multipart="split")
    finally:
        project.close()
    dataset = read_yolo(tmp_path / "y" / "data.yaml")
    assert sum(len(v) for v in dataset.labels.values()) == report.objects


def test_detection_one_box_per_instance_from_the_whole_shape(shared_data: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "coco128.segproj") as project:
        import_coco(project, shared_data / "coco128" / "instances_train2017.json")
        export_yolo(project, tmp_path / "y", ExportOptions(split={"val": 0.2}), task="detect")
        dataset = read_yolo(tmp_path / "y" / "data.yaml")
        images = _by_stem(project)
        multipart = 0
        for image_file, written in dataset.labels.items():
            image = images[image_file.stem]
            source = [a for a in project.annotations(image.id) if not a.iscrowd]
            assert len(written) == len(source)
            h, w = image.size_hw
            for obj, ann in zip(written, source):
                box = to_box(clip_to_image(ann.geometry, image.size_hw))
                multipart += isinstance(ann.geometry, Polygon) and len(ann.geometry.parts) > 1
                np.testing.assert_allclose(obj.values, [(box.x1 + box.x2) / 2 / w, (box.y1 + box.y2) / 2 / h,
                                                        box.width / w, box.height / h], atol=1e-6)
    assert multipart == 82  # their box spans every part


def test_data_yaml_fields_and_class_map(tmp_path: Path) -> None:
    project = build_project(tmp_path, ("person", 'car: "sedan"', "dog"), n_images=5, category_ids=(4, 9, 2))
    try:
        report = export_yolo(project, tmp_path / "y", ExportOptions(split={"val": 0.2, "test": 0.2}), task="detect")
    finally:
        project.close()
    data = _read_yaml(tmp_path / "y" / "data.yaml")
    assert Path(data["path"]) == (tmp_path / "y").absolute()
    assert (data["train"], data["val"], data["test"], data["nc"]) == ("images/train", "images/val", "images/test", "3")
    assert data["names"] == {0: "person", 1: 'car: "sedan"', 2: "dog"}
    rows = json.loads((tmp_path / "y" / CLASS_MAP_FILE).read_text())["classes"]
    expected = [(0, 4, "person"), (1, 9, 'car: "sedan"'), (2, 2, "dog")]
    assert [(r["yolo_class"], r["category_id"], r["name"]) for r in rows] == expected
    assert report.images == {"train": 3, "val": 1, "test": 1}
    assert any("crowd" in s for s in report.skipped)


def test_no_val_split_points_val_at_train(tmp_path: Path) -> None:
    project = build_project(tmp_path, n_images=2)
    try:
        export_yolo(project, tmp_path / "y", ExportOptions())
    finally:
        project.close()
    data = read_yolo(tmp_path / "y" / "data.yaml")
    assert data.splits["val"] == data.splits["train"]


def test_unknown_task_bad_tolerance_and_missing_image(tmp_path: Path) -> None:
    project = build_project(tmp_path, n_images=2)
    try:
        with pytest.raises(FormatError, match="unknown YOLO task"):
            export_yolo(project, tmp_path / "y", ExportOptions(), task="pose")
        with pytest.raises(FormatError, match="tolerance"):
            export_yolo(project, tmp_path / "y", ExportOptions(), tolerance_px=-1.0)
        project.image_path(project.images()[0]).unlink()
        with pytest.raises(FormatError, match="missing"):
            export_yolo(project, tmp_path / "y", ExportOptions())
    finally:
        project.close()
    assert not (tmp_path / "y").exists()
