"""The review's ``semantic`` section (pixel accuracy, mIoU, ...): label maps painted back to front,
checked against torchmetrics on label maps built independently (pycocotools rasterization) from
real COCO ground truth (coco128) and a perturbed project made from it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import main
from annotations.errors import GeometryError
from annotations.geometry import Box, Polygon, validate_polygon
from annotations.metrics.report_html import render_html
from annotations.metrics.report_json import SCHEMA_VERSION
from annotations.metrics.review import model_vs_final, project_vs_coco, project_vs_project
from annotations.metrics.semantic_review import IGNORE, PaintShape, rasterize
from annotations.model import Annotation, Category, Image, ImageStatus, ModelVersion, Prediction
from annotations.store import Project

N_IMAGES = 12  # of coco128 (crowd ones first); keeps torchmetrics' tensors small


def _square(x: float, y: float, s: float) -> Polygon:
    return Polygon.from_points([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])


def _valid(poly: Polygon) -> bool:
    try:
        validate_polygon(poly)
    except GeometryError:
        return False
    return True


@pytest.fixture(scope="module")
def coco128(shared_data, tmp_path_factory) -> tuple[Path, dict, Path]:
    """(COCO ground truth subset file, its dict, a project holding a perturbed copy of it)."""
    coco = json.loads((shared_data / "coco128" / "instances_train2017.json").read_text())
    crowded = {a["image_id"] for a in coco["annotations"] if a["iscrowd"]}
    ordered = sorted(coco["images"], key=lambda i: (i["id"] not in crowded, i["id"]))  # crowd regions first
    images = ordered[:N_IMAGES]
    keep = {i["id"] for i in images}
    sub = {"images": images, "categories": coco["categories"],
           "annotations": [a for a in coco["annotations"] if a["image_id"] in keep]}
    folder = tmp_path_factory.mktemp("coco128_semantic")
    gt_path = folder / "gt.json"
    gt_path.write_text(json.dumps(sub))

    rng = np.random.default_rng(7)
    cats = [Category(c["id"], c["name"], "#808080") for c in coco["categories"]]
    cat_ids = [c["id"] for c in coco["categories"]]
    project = Project.create(folder / "perturbed.segproj", cats)
    stored = {i["id"]: s for i, s in zip(images, project.add_images(
        [Image(0, i["file_name"], i["width"], i["height"]) for i in images]))}
    shapes = []
    for a in sub["annotations"]:
        if a["iscrowd"]:
            continue  # compared crowd shapes are skipped by the review anyway
        poly = Polygon.from_coco(a["segmentation"])
        roll = rng.random()
        if roll < 0.1:
            continue  # missed
        category = a["category_id"]
        if roll < 0.2:
            category = int(rng.choice(cat_ids))  # wrong class
        elif roll < 0.45:
            dx, dy = rng.normal(0, 4, 2)  # shifted outline
            poly = Polygon.from_coco([[v + (dx if k % 2 == 0 else dy) for k, v in enumerate(p)]
                                      for p in a["segmentation"]])
        if not _valid(poly):
            continue
        shapes.append(Annotation(0, stored[a["image_id"]].id, category, poly,
                                 z_order=int(rng.integers(-2, 3))))  # paint order differs from id order
    project.add_annotations(shapes)
    project.close()
    return gt_path, sub, folder / "perturbed.segproj"


def _oracle_maps(sub: dict, project_path: Path) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Independent label maps: pycocotools rasterization painted with plain numpy."""
    class_of = {c["id"]: k + 1 for k, c in enumerate(sorted(sub["categories"], key=lambda c: c["id"]))}
    project = Project.open(project_path, readonly=True)
    try:
        by_path = {img.path: img for img in project.images()}
        gts, preds = [], []
        for img in sub["images"]:
            h, w = img["height"], img["width"]
            gt = np.zeros((h, w), dtype=np.int64)
            for a in (a for a in sub["annotations"] if a["image_id"] == img["id"]):  # file order
                seg = a["segmentation"]
                rle = (mask_utils.merge(mask_utils.frPyObjects(seg, h, w)) if isinstance(seg, list)
                       else mask_utils.frPyObjects(seg, h, w) if isinstance(seg["counts"], list) else seg)
                gt[mask_utils.decode(rle).astype(bool)] = IGNORE if a["iscrowd"] else class_of[a["category_id"]]
            pred = np.zeros((h, w), dtype=np.int64)
            anns = sorted(project.annotations(by_path[img["file_name"]].id), key=lambda s: (s.z_order, s.id))
            for s in anns:
                rle = mask_utils.merge(mask_utils.frPyObjects(s.geometry.to_coco(), h, w))
                pred[mask_utils.decode(rle).astype(bool)] = class_of[s.category_id]
            gts.append(gt)
            preds.append(pred)
    finally:
        project.close()
    return gts, preds, len(class_of) + 1


def test_project_vs_coco_semantic_matches_torchmetrics(coco128):
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.classification")
    gt_path, sub, project_path = coco128
    project = Project.open(project_path, readonly=True)
    try:
        report = project_vs_coco(project, gt_path, boundary=False)
    finally:
        project.close()
    sem = report.to_json()["semantic"]
    gts, preds, num_classes = _oracle_maps(sub, project_path)
    assert sem["images"] == N_IMAGES and len(sem["per_class"]) == num_classes
    assert sem["per_class"][0]["class"] == "background"
    assert any((g == IGNORE).any() for g in gts), "coco128 subset should hold a crowd region"

    target = torch.cat([torch.from_numpy(g).reshape(-1) for g in gts])
    pred = torch.cat([torch.from_numpy(p).reshape(-1) for p in preds])
    per_class = tm.MulticlassJaccardIndex(num_classes=num_classes, average="none", ignore_index=IGNORE)(pred, target)
    accuracy = tm.MulticlassAccuracy(num_classes=num_classes, average="micro", ignore_index=IGNORE)(pred, target)
    class_acc = tm.MulticlassAccuracy(num_classes=num_classes, average="none", ignore_index=IGNORE)(pred, target)
    valid = target != IGNORE
    present = torch.zeros(num_classes, dtype=torch.bool)
    present[torch.unique(target[valid])] = True
    present[torch.unique(pred[valid])] = True

    ours_iou = np.array([math.nan if c["iou"] is None else c["iou"] for c in sem["per_class"]])
    assert np.array_equal(~np.isnan(ours_iou), present.numpy())  # absent on both sides -> null
    np.testing.assert_allclose(ours_iou[present.numpy()], per_class.numpy()[present.numpy()], atol=1e-6)
    assert sem["miou"] == pytest.approx(float(per_class[present].mean()), abs=1e-6)
    assert sem["pixel_accuracy"] == pytest.approx(float(accuracy), abs=1e-6)
    has_gt = torch.bincount(target[valid], minlength=num_classes) > 0
    assert sem["mean_class_accuracy"] == pytest.approx(float(class_acc[has_gt].mean()), abs=1e-6)
    gt_px = np.array([c["gt_pixels"] for c in sem["per_class"]])
    assert gt_px.sum() == int(valid.sum())  # crowd pixels are left out
    fw = float(np.nansum(gt_px / gt_px.sum() * np.nan_to_num(ours_iou)))
    assert sem["fw_iou"] == pytest.approx(fw, abs=1e-9)
    assert 0.3 < sem["miou"] < 0.98  # the perturbation is visible, the agreement is real
    assert report.to_json()["schema_version"] == SCHEMA_VERSION == 1


def test_project_against_itself_is_perfect(coco128):
    _, _, project_path = coco128
    a = Project.open(project_path, readonly=True)
    b = Project.open(project_path, readonly=True)
    try:
        sem = project_vs_project(a, b, boundary=False).semantic
    finally:
        a.close()
        b.close()
    assert sem["pixel_accuracy"] == 1.0 and sem["miou"] == 1.0 and sem["mean_dice"] == 1.0
    assert sem["mean_class_accuracy"] == 1.0 and sem["fw_iou"] == pytest.approx(1.0)
    absent = [c for c in sem["per_class"] if c["gt_pixels"] == 0]
    assert absent and all(c["iou"] is None for c in absent)  # absent on both sides: null, not in the mean


def test_paint_order_and_crowd_are_honoured(tmp_path: Path):
    cats = [Category(1, "cell", "#e6194b"), Category(2, "debris", "#3cb44b")]
    a = Project.create(tmp_path / "a.segproj", cats)
    b = Project.create(tmp_path / "b.segproj", cats)
    try:
        (ia,) = a.add_images([Image(0, "x.png", 40, 30)])
        (ib,) = b.add_images([Image(0, "x.png", 40, 30)])
        # A: debris square drawn first but on top (z 1) of a cell square; a crowd region on the right.
        a.add_annotations([Annotation(0, ia.id, 2, _square(5, 5, 10), z_order=1),
                           Annotation(0, ia.id, 1, _square(0, 0, 20)),
                           Annotation(0, ia.id, 1, Box(30, 0, 40, 30), iscrowd=True)])
        # B: the same shapes, the cell on top: the 10 x 10 debris pixels become cell.
        b.add_annotations([Annotation(0, ib.id, 2, _square(5, 5, 10)),
                           Annotation(0, ib.id, 1, _square(0, 0, 20), z_order=1),
                           Annotation(0, ib.id, 2, Box(30, 0, 40, 30))])  # inside A's crowd: ignored
        sem = project_vs_project(a, b).semantic
    finally:
        a.close()
        b.close()
    matrix = np.array(sem["confusion"]["matrix"])
    assert matrix.sum() == 30 * 30  # the 10-pixel-wide crowd column is void
    assert matrix[2, 1] == 100 and matrix[1, 1] == 300 and matrix[0, 0] == 500
    assert sem["per_class"][2]["iou"] == 0.0 and sem["per_class"][1]["iou"] == pytest.approx(300 / 400)
    assert sem["miou_foreground"] == pytest.approx(0.375)


def test_rasterize_paints_back_to_front():
    full = mask_utils.encode(np.asfortranarray(np.ones((4, 5), dtype=np.uint8)))
    corner = mask_utils.encode(np.asfortranarray(np.pad(np.ones((2, 2), dtype=np.uint8), ((0, 2), (0, 3)))))
    labels = rasterize((4, 5), [PaintShape(corner, 2, (1, 9)), PaintShape(full, 1, (0, 10))])
    assert (labels[:2, :2] == 2).all() and (labels == 1).sum() == 16
    labels = rasterize((4, 5), [PaintShape(corner, 2, (0, 9)), PaintShape(full, 1, (1, 10))])
    assert (labels == 1).all()


def test_model_vs_final_semantic_html_and_cli(tmp_path: Path, capsys):
    cats = [Category(1, "cell", "#e6194b")]
    path = tmp_path / "p.segproj"
    project = Project.create(path, cats)
    try:
        (img,) = project.add_images([Image(0, "x.png", 50, 40, ImageStatus.DONE)])
        mv = project.add_model_version(ModelVersion(0, "unet", (1,)))
        project.add_predictions([Prediction(0, img.id, 1, _square(5, 5, 10), 0.9, mv.id)])
        project.add_annotations([Annotation(0, img.id, 1, _square(5, 5, 20))])
        report = model_vs_final(project)
        sem = report.semantic
        assert sem["per_class"][1]["iou"] == pytest.approx(100 / 400)
        assert sem["pixel_accuracy"] == pytest.approx((2000 - 300) / 2000)
        assert "Pixels (semantic)" in render_html(report)
        assert model_vs_final(project, semantic=False).to_json()["semantic"] is None
    finally:
        project.close()
    out = tmp_path / "r.json"
    assert main.main(["review", str(path), "--no-boundary", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pixel_accuracy=0.850" in text and "pixel IoU per class" in text
    assert json.loads(out.read_text())["semantic"]["miou"] is not None
    assert main.main(["review", str(path), "--no-semantic", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["semantic"] is None
