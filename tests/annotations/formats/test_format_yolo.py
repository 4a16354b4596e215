"""YOLO export, read back by an independent parser of the Ultralytics text format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from annotations.errors import FormatError
from annotations.formats import ExportOptions
from annotations.formats.yolo import export_yolo
from annotations.geometry import Mask, Polygon, to_box
from annotations.store import Project

from format_helpers import build_project, dense


def _read_yaml(path: Path) -> dict:
    """The few keys we write: ``key: value`` lines and a ``names:`` block of ``i: "name"``."""
    result: dict = {"names": {}}
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip() or line == "names:":
            continue
        key, _, value = line.strip().partition(": ")
        if line.startswith("  "):
            result["names"][int(key)] = json.loads(value)
        else:
            result[key] = value
    return result


def _rows(path: Path) -> list[list[float]]:
    return [[float(v) for v in line.split()] for line in path.read_text().splitlines()]


@pytest.fixture()
def project(tmp_path: Path):
    p = build_project(tmp_path, ("person", 'car: "sedan"', "dog"), n_images=5)
    yield p
    p.close()


def test_detection_labels(project: Project, tmp_path: Path) -> None:
    report = export_yolo(project, tmp_path / "y", ExportOptions(split={"val": 0.2}), task="detect")
    data = _read_yaml(tmp_path / "y" / "data.yaml")
    assert data["train"] == "images/train" and data["val"] == "images/val" and data["nc"] == "3"
    assert data["names"] == {0: "person", 1: 'car: "sedan"', 2: "dog"}
    assert report.images == {"train": 4, "val": 1} and any("crowd" in s for s in report.skipped)
    index = {c.id: i for i, c in enumerate(project.categories())}
    for split in ("train", "val"):
        for label_file in (tmp_path / "y" / "labels" / split).glob("*.txt"):
            image = next(im for im in project.images() if Path(im.path).stem == label_file.stem)
            assert (tmp_path / "y" / "images" / split / f"{label_file.stem}.png").is_file()
            anns = [a for a in project.annotations(image.id) if not a.iscrowd]
            rows = _rows(label_file)
            assert len(rows) == len(anns)
            for row, ann in zip(rows, anns):
                assert row[0] == index[ann.category_id]
                box = to_box(ann.geometry)
                h, w = image.size_hw
                x1, x2 = np.clip([box.x1, box.x2], 0, w)
                y1, y2 = np.clip([box.y1, box.y2], 0, h)
                np.testing.assert_allclose(row[1:], [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h], atol=1e-6)


def test_segmentation_polygons_rasterize_back_to_our_masks(project: Project, tmp_path: Path) -> None:
    export_yolo(project, tmp_path / "y", ExportOptions(), task="segment")
    data = _read_yaml(tmp_path / "y" / "data.yaml")
    assert data["val"] == "images/train"  # no val split: Ultralytics still needs one
    for image in project.images():
        h, w = image.size_hw
        rows = _rows(tmp_path / "y" / "labels" / "train" / f"{Path(image.path).stem}.txt")
        anns = [a for a in project.annotations(image.id) if not a.iscrowd]
        parts = sum(len(a.geometry.parts) if isinstance(a.geometry, Polygon) else 1 for a in anns)
        assert len(rows) == parts  # a multi-part polygon is one line per part
        assert all(0 <= v <= 1 for row in rows for v in row[1:])
        owners = [k for k, a in enumerate(anns) for _ in range(len(a.geometry.parts) if isinstance(a.geometry, Polygon) else 1)]
        for k, ann in enumerate(anns):
            if isinstance(ann.geometry, Polygon) and (len(ann.geometry.parts) > 1 or ann.geometry.has_holes):
                continue  # one line per part / holes dropped: documented losses
            row = rows[owners.index(k)]
            xy = (np.array(row[1:]).reshape(-1, 2) * [w, h]).reshape(-1).tolist()
            back = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects([xy], h, w))).astype(bool)
            ours = dense(ann.geometry, image.size_hw)
            iou = (back & ours).sum() / (back | ours).sum()
            # boxes and polygons come back exactly; masks are traced on pixel corners, which
            # pycocotools fills back to nearly the same pixels
            assert iou > (0.999 if not isinstance(ann.geometry, Mask) else 0.85), (type(ann.geometry).__name__, iou)


def test_unknown_task_and_missing_image(project: Project, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="unknown YOLO task"):
        export_yolo(project, tmp_path / "y", ExportOptions(), task="pose")
    project.image_path(project.images()[0]).unlink()
    with pytest.raises(FormatError, match="missing"):
        export_yolo(project, tmp_path / "y", ExportOptions())
    assert not (tmp_path / "y").exists()
