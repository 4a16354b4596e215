"""COCO panoptic export: PNG ids against segments_info, and PQ = 1 against the reference sample."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from format_helpers import build_project
from PIL import Image as PILImage

from annotations.formats import ExportOptions
from annotations.formats.coco.panoptic import export_coco_panoptic
from annotations.geometry import rle
from annotations.model import Annotation, Category, Image
from annotations.store import Project


def check_panoptic(json_path: Path, png_folder: Path) -> int:
    """Independent check: the ids in each PNG are exactly its segments' ids, and area / bbox
    recomputed from the PNG equal the JSON. Returns the number of segments checked."""
    document = json.loads(json_path.read_text())
    categories = {c["id"] for c in document["categories"]}
    checked = 0
    for ann in document["annotations"]:
        rgb = np.array(PILImage.open(png_folder / ann["file_name"]).convert("RGB"), dtype=np.uint32)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        segments = {s["id"]: s for s in ann["segments_info"]}
        assert set(np.unique(ids).tolist()) - {0} == set(segments), ann["file_name"]
        for segment_id, segment in segments.items():
            assert segment["category_id"] in categories
            rows, cols = np.nonzero(ids == segment_id)
            assert segment["area"] == rows.size
            bbox = [int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)]
            assert segment["bbox"] == bbox, (ann["file_name"], segment_id)
            checked += 1
    return checked


def test_the_checker_accepts_the_reference_sample(shared_data: Path) -> None:
    folder = shared_data / "coco_panoptic_sample" / "sample_data"
    assert check_panoptic(folder / "panoptic_examples.json", folder / "panoptic_examples") == 50


def test_our_export_ids_area_bbox_match(tmp_path: Path) -> None:
    project = build_project(tmp_path, n_images=3)
    stuff = project.add_categories([Category(10, "grass", is_thing=False)])[0]
    image = project.images()[0]
    h, w = image.size_hw
    from annotations.geometry import Box

    project.add_annotations([
        Annotation(0, image.id, stuff.id, Box(0, 0, w, 8), z_order=-2),  # behind everything
        Annotation(0, image.id, stuff.id, Box(0, h - 6, w, h), z_order=-1),  # second piece of the same stuff
        Annotation(0, image.id, 1, Box(0, 0, 3, 3), z_order=99),  # on top
    ])
    report = export_coco_panoptic(project, tmp_path / "pan", ExportOptions(split={"val": 0.34}))
    for split in ("train", "val"):
        json_path = tmp_path / "pan" / "annotations" / f"panoptic_{split}.json"
        assert check_panoptic(json_path, tmp_path / "pan" / "annotations" / f"panoptic_{split}") > 0
    total = sum(len(a["segments_info"]) for split in ("train", "val")
                for a in json.loads((tmp_path / "pan" / "annotations" / f"panoptic_{split}.json").read_text())["annotations"])
    assert report.annotations == total
    export_coco_panoptic(project, tmp_path / "all", ExportOptions())
    document = json.loads((tmp_path / "all" / "annotations" / "panoptic_train.json").read_text())
    assert {c["id"]: c["isthing"] for c in document["categories"]}[10] == 0
    first = next(a for a in document["annotations"] if a["image_id"] == image.id)
    grass = [s for s in first["segments_info"] if s["category_id"] == 10]
    assert len(grass) == 1 and grass[0]["iscrowd"] == 0  # both stuff pieces form one segment
    assert len([s for s in first["segments_info"] if s["iscrowd"]]) == 1
    # the segment of the top-most box owns its pixels
    png = tmp_path / "all" / "annotations" / "panoptic_train" / first["file_name"]
    ids = np.array(PILImage.open(png), dtype=np.uint32)[..., 0]
    top = next(s for s in first["segments_info"] if s["bbox"] == [0, 0, 3, 3])
    assert (ids[:3, :3] == top["id"]).all()
    project.close()


def _project_from_panoptic(folder: Path, tmp_path: Path) -> Project:
    """Test-side reader of the reference sample: one mask annotation per segment."""
    document = json.loads((folder / "panoptic_examples.json").read_text())
    categories = [Category(c["id"], c["name"], "#{:02x}{:02x}{:02x}".format(*c["color"]), c["supercategory"], bool(c["isthing"]))
                  for c in document["categories"]]
    project = Project.create(tmp_path / "pan.segproj", categories)
    sizes = {im["id"]: im for im in document["images"]}
    for ann in document["annotations"]:
        info = sizes[ann["image_id"]]
        project.add_images([Image(ann["image_id"], str(folder / "input_images" / info["file_name"]),
                                  info["width"], info["height"])])
        rgb = np.array(PILImage.open(folder / "panoptic_examples" / ann["file_name"]), dtype=np.uint32)
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        project.add_annotations([
            Annotation(0, ann["image_id"], s["category_id"], rle.encode(ids == s["id"]), iscrowd=bool(s["iscrowd"]))
            for s in ann["segments_info"]
        ])
    return project


def test_pq_of_our_export_against_the_reference_is_one(shared_data: Path, tmp_path: Path) -> None:
    """Import the reference sample as masks, export panoptic, and score it with the
    cityscapesscripts copy of panopticapi's PQ: every segment matches (PQ = SQ = RQ = 1)."""
    from cityscapesscripts.evaluation.evalPanopticSemanticLabeling import average_pq, pq_compute_single_core

    folder = shared_data / "coco_panoptic_sample" / "sample_data"
    with _project_from_panoptic(folder, tmp_path) as project:
        export_coco_panoptic(project, tmp_path / "pan", ExportOptions())
    ours_json = tmp_path / "pan" / "annotations" / "panoptic_train.json"
    assert check_panoptic(ours_json, tmp_path / "pan" / "annotations" / "panoptic_train") == 50
    gt = json.loads((folder / "panoptic_examples.json").read_text())
    pred = {a["image_id"]: a for a in json.loads(ours_json.read_text())["annotations"]}
    categories = {c["id"]: c for c in gt["categories"]}
    pairs = [(a, pred[a["image_id"]]) for a in gt["annotations"]]
    with contextlib.redirect_stdout(io.StringIO()):
        stat = pq_compute_single_core(0, pairs, str(folder / "panoptic_examples"),
                                      str(tmp_path / "pan" / "annotations" / "panoptic_train"), categories)
    results = average_pq(stat, categories)
    assert results["All"]["pq"] == pytest.approx(1.0) and results["All"]["sq"] == pytest.approx(1.0)
    matched = [s for a in gt["annotations"] for s in a["segments_info"] if not s["iscrowd"]]
    assert results["All"]["n"] == len({s["category_id"] for s in matched})
    assert sum(stat.pq_per_cat[c].tp for c in categories) == len(matched) == 47
    assert sum(stat.pq_per_cat[c].fp + stat.pq_per_cat[c].fn for c in categories) == 0
