"""COCO instances export/import, checked by pycocotools and torchvision's CocoDetection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from format_helpers import build_project, dense, folder_state, snapshot, write_image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from annotations.errors import FormatError
from annotations.formats import ExportOptions, ImportOptions
from annotations.formats.coco import export_coco, import_coco
from annotations.formats.raster import geometry_mask
from annotations.geometry import Box, Mask, Polygon, polygon_to_mask, rle, to_box
from annotations.model import Annotation, Category, Image, ModelVersion, Prediction
from annotations.store import Project


def _export(project: Project, out: Path, **kw) -> Path:
    export_coco(project, out, ExportOptions(copy_images=True, **kw))
    return out / "annotations" / "instances_train.json"


def test_pycocotools_loads_and_every_mask_matches(project: Project, tmp_path: Path) -> None:
    ann_file = _export(project, tmp_path / "out")
    coco = COCO(str(ann_file))
    ours = {a.id: a for a in project.annotations()}
    assert sorted(coco.getAnnIds()) == sorted(ours)
    assert min(coco.getAnnIds()) >= 1 and min(coco.getImgIds()) >= 1 and min(coco.getCatIds()) >= 1
    for ann_id, ann in coco.anns.items():
        image = project.get_image(ann["image_id"])
        expected = dense(ours[ann_id].geometry, image.size_hw)
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), expected, err_msg=f"annotation {ann_id}")
        # bbox and area follow DESIGN §4
        geometry = ours[ann_id].geometry
        if isinstance(geometry, Polygon) and not geometry.has_holes:
            assert ann["area"] == pytest.approx(geometry.area)
            assert ann["bbox"] == pytest.approx(list(to_box(geometry).xywh))
        elif isinstance(geometry, Box):
            assert ann["bbox"] == pytest.approx(list(geometry.xywh)) and ann["area"] == pytest.approx(geometry.area)
        else:
            rle_ = coco.annToRLE(ann)
            assert ann["area"] == mask_utils.area(rle_)
            assert ann["bbox"] == pytest.approx(list(mask_utils.toBbox(rle_)))
    crowd = [a for a in coco.anns.values() if a["iscrowd"]]
    assert crowd and all(isinstance(a["segmentation"], dict) for a in crowd)
    assert all(isinstance(a["segmentation"]["counts"], str) for a in coco.anns.values() if isinstance(a["segmentation"], dict))


def test_torchvision_coco_detection_v2_yields_our_boxes_masks_labels(project: Project, tmp_path: Path) -> None:
    from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2

    ann_file = _export(project, tmp_path / "out")
    dataset = wrap_dataset_for_transforms_v2(
        CocoDetection(str(tmp_path / "out" / "images" / "train"), str(ann_file)),
        target_keys={"image_id", "boxes", "masks", "labels"},
    )
    assert len(dataset) == len(project.images())
    for index in range(len(dataset)):
        image_pil, target = dataset[index]
        image = project.get_image(target["image_id"])
        anns = project.annotations(image.id)
        assert image_pil.size == (image.width, image.height)
        np.testing.assert_array_equal(target["labels"].numpy(), [a.category_id for a in anns])
        expected_boxes = []
        for a in anns:
            g = a.geometry
            if isinstance(g, Mask) or (isinstance(g, Polygon) and g.has_holes):  # written as RLE: tight pixel box
                box = Box.from_xywh(mask_utils.toBbox(geometry_mask(g, image.size_hw).rle))
            else:  # boxes as given, polygons: vertex extent
                box = to_box(g)
            expected_boxes.append(box.xyxy)
        np.testing.assert_allclose(target["boxes"].numpy(), np.array(expected_boxes), atol=1e-4)
        for k, a in enumerate(anns):
            np.testing.assert_array_equal(target["masks"][k].numpy().astype(bool), dense(a.geometry, image.size_hw))


def test_split_by_image_is_seeded_and_shares_categories(tmp_path: Path) -> None:
    project = build_project(tmp_path, n_images=10)
    export_coco(project, tmp_path / "a", ExportOptions(split={"val": 0.2}, seed=3))
    export_coco(project, tmp_path / "b", ExportOptions(split={"val": 0.2}, seed=3))
    export_coco(project, tmp_path / "c", ExportOptions(split={"val": 0.2}, seed=4))
    train = json.loads((tmp_path / "a/annotations/instances_train.json").read_text())
    val = json.loads((tmp_path / "a/annotations/instances_val.json").read_text())
    assert train["categories"] == val["categories"] == [
        {"id": c.id, "name": c.name, "supercategory": c.name} for c in project.categories()
    ]
    train_ids = {im["id"] for im in train["images"]}
    val_ids = {im["id"] for im in val["images"]}
    assert len(val_ids) == 2 and len(train_ids) == 8 and not train_ids & val_ids
    assert train_ids | val_ids == {im.id for im in project.images()}
    assert {a["image_id"] for a in val["annotations"]} == val_ids
    assert folder_state(tmp_path / "a") == folder_state(tmp_path / "b")
    other = json.loads((tmp_path / "c/annotations/instances_val.json").read_text())
    assert {im["id"] for im in other["images"]} != val_ids  # a different seed gives another split
    # referenced images: file_name relative to info.image_root
    for im in train["images"]:
        assert (Path(train["info"]["image_root"]) / im["file_name"]).is_file()
    project.close()


def _signature(project: Project) -> dict:
    """Per image path: (label, geometry kind, geometry, iscrowd, attributes) back to front,
    with what COCO cannot express applied (holes -> mask)."""
    names = {c.id: c.name for c in project.categories()}
    result = {}
    for image in project.images():
        rows = []
        for a in project.annotations(image.id):
            g = a.geometry
            if isinstance(g, Polygon) and g.has_holes:
                g = polygon_to_mask(g, image.size_hw)
            if isinstance(g, Mask):
                key = ("mask", rle.decode(g).tobytes())
            elif isinstance(g, Box):
                key = ("box", g.xyxy)
            else:
                key = ("polygon", tuple(p.exterior.tobytes() for p in g.parts))
            rows.append((names[a.category_id], key, a.iscrowd, tuple(sorted(a.attributes.items()))))
        result[(Path(project.image_path(image)).resolve(), image.width, image.height)] = rows
    return result


def test_round_trip_import_of_export_equals_project(project: Project, tmp_path: Path) -> None:
    _export(project, tmp_path / "out")
    (tmp_path / "again").mkdir()
    with Project.create(tmp_path / "again" / "b.segproj") as copy:
        # referenced images (no copy): the round trip points at the very same files; the image
        # folder is named by the user (a file never chooses its own root via info.image_root)
        export_coco(project, tmp_path / "ref", ExportOptions())
        ref = tmp_path / "ref" / "annotations" / "instances_train.json"
        root = json.loads(ref.read_text())["info"]["image_root"]
        report = import_coco(copy, ref, images_root=root)
        assert report.images_added == 4 and report.annotations == len(project.annotations())
        assert _signature(copy) == _signature(project)
        assert [(c.id, c.name) for c in copy.categories()] == [(c.id, c.name) for c in project.categories()]
        assert [im.id for im in copy.images()] == [im.id for im in project.images()]
        # paths are stored relative to the project file
        assert all(not Path(im.path).is_absolute() and im.path.startswith("../") for im in copy.images())


def test_round_trip_with_copied_images(project: Project, tmp_path: Path) -> None:
    ann_file = _export(project, tmp_path / "out")
    with Project.create(tmp_path / "c.segproj") as copy:
        import_coco(copy, ann_file)
        assert all(copy.image_path(im).is_file() for im in copy.images())
        assert all(im.path.startswith("out/images/train/") for im in copy.images())
        sig_a = {k[1:]: v for k, v in _signature(project).items()}
        sig_b = {k[1:]: v for k, v in _signature(copy).items()}
        assert sorted(map(repr, sig_a.values())) == sorted(map(repr, sig_b.values()))


def test_coco128_import_then_export_keeps_every_mask(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "coco128" / "instances_train2017.json"
    original = COCO(str(source))
    with Project.create(tmp_path / "coco128.segproj") as project:
        report = import_coco(project, source)  # images are found under images/train2017
        assert report.images_added == 128 and report.annotations == 939
        assert sorted(c.id for c in project.categories()) == sorted(original.getCatIds())  # non-contiguous ids kept
        export_coco(project, tmp_path / "out", ExportOptions())
        exported = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
        assert sorted(exported.getAnnIds()) == sorted(original.getAnnIds())
        for ann_id, ann in original.anns.items():
            ours = exported.anns[ann_id]
            assert (ours["image_id"], ours["category_id"], ours["iscrowd"]) == (
                ann["image_id"], ann["category_id"], ann["iscrowd"])
            np.testing.assert_array_equal(exported.annToMask(ours), original.annToMask(ann), err_msg=f"annotation {ann_id}")
            if not ann["iscrowd"]:  # official polygon area is the shoelace area, bbox the vertex extent
                assert ours["area"] == pytest.approx(ann["area"], rel=1e-4, abs=0.5)
                assert ours["bbox"] == pytest.approx(ann["bbox"], abs=0.02)
            else:
                assert isinstance(ours["segmentation"]["counts"], str)  # uncompressed crowd RLE now compressed


def test_fake100_results_evaluate_the_same_on_our_export(shared_data: Path, tmp_path: Path) -> None:
    """Import the val2014 ground truth (no pixels), export it, and score the official fake
    results against our file: segm stats are identical. bbox stats differ only through the
    9 crowd boxes, which the official file makes 1 px smaller than their masks."""
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    folder = shared_data / "coco_eval_val2014_fake100"
    gt_file = folder / "instances_val2014_100.json"
    expected = json.loads((folder / "expected_stats.json").read_text())
    with Project.create(tmp_path / "fake.segproj") as project:
        import_coco(project, gt_file, ImportOptions(allow_missing_images=True))
        export_coco(project, tmp_path / "out", ExportOptions())
    ours = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    for iou_type in ("segm", "bbox"):
        results = folder / f"instances_val2014_fake{iou_type}100_results.json"
        with contextlib.redirect_stdout(io.StringIO()):
            evaluator = COCOeval(ours, ours.loadRes(str(results)), iou_type)
            evaluator.params.imgIds = sorted(ours.getImgIds())
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        want = np.array(expected[iou_type])
        tolerance = 1e-12 if iou_type == "segm" else 2e-3
        np.testing.assert_allclose(evaluator.stats, want, atol=tolerance)


def test_predictions_results_file_loads_and_scores_perfect(project: Project, tmp_path: Path) -> None:
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    version = project.add_model_version(ModelVersion(0, "maskrcnn", tuple(c.id for c in project.categories())))
    preds = [Prediction(0, a.image_id, a.category_id, a.geometry, 0.9, version.id)
             for a in project.annotations() if not a.iscrowd]
    project.add_predictions(preds)
    export_coco(project, tmp_path / "out", ExportOptions(), predictions=True)
    gt = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
    results = json.loads((tmp_path / "out" / "results" / "predictions_train.json").read_text())
    assert len(results) == len(preds) and all("score" in r for r in results)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, gt.loadRes(results), "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    assert evaluator.stats[0] == pytest.approx(1.0)


def test_shapes_outside_the_image_are_clipped_and_masks_still_match(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj", [Category(1, "thing")]) as project:
        write_image(tmp_path / "a.png", (40, 50), 0)
        image = project.add_images([Image(0, "a.png", 50, 40)])[0]
        project.add_annotations([
            Annotation(0, image.id, 1, Polygon.from_points([[-10, -5], [30, 2], [60, 45], [5, 30]])),
            Annotation(0, image.id, 1, Box(40, 30, 70, 60)),
            Annotation(0, image.id, 1, Polygon.from_points([[60, 60], [70, 60], [70, 70]])),  # fully outside
        ])
        report = export_coco(project, tmp_path / "out", ExportOptions())
        assert len(report.skipped) == 1 and "nothing left inside the image" in report.skipped[0]
        coco = COCO(str(tmp_path / "out" / "annotations" / "instances_train.json"))
        for ann in coco.anns.values():
            x, y, w, h = ann["bbox"]
            assert x >= 0 and y >= 0 and x + w <= 50 and y + h <= 40
            original = project.get_annotation(ann["id"]).geometry
            np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), dense(original, (40, 50)))


# ----------------------------------------------------------------------------------- import
def _write(path: Path, document) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def _minimal(tmp_path: Path, annotations: list, *, categories=None, file_name="a.png") -> Path:
    write_image(tmp_path / "src" / "a.png", (20, 30), 0)
    doc = {"images": [{"id": 7, "file_name": file_name, "width": 30, "height": 20}], "annotations": annotations}
    if categories is not False:
        doc["categories"] = categories or [{"id": 3, "name": "cat"}, {"id": 90, "name": "dog", "supercategory": "animal"}]
    return _write(tmp_path / "src" / "instances.json", doc)


def test_import_polygons_rle_crowd_and_missing_optional_fields(tmp_path: Path) -> None:
    full = np.zeros((20, 30), dtype=np.uint8)
    full[2:9, 4:12] = 1
    compressed = mask_utils.encode(np.asfortranarray(full))
    uncompressed_counts = rle.decode(rle.encode(full))  # dense check below
    runs = []
    flat = full.flatten(order="F")
    value, count = 0, 0
    for v in flat:
        if v == value:
            count += 1
        else:
            runs.append(count)
            value, count = v, 1
    runs.append(count)
    source = _minimal(tmp_path, [
        {"id": 1, "image_id": 7, "category_id": 3, "segmentation": [[1, 1, 10, 1, 10, 8], [12, 12, 20, 12, 20, 18, 13, 19]]},
        {"id": 2, "image_id": 7, "category_id": 90, "segmentation": {"size": [20, 30], "counts": compressed["counts"].decode()}},
        {"id": 3, "image_id": 7, "category_id": 90, "iscrowd": 1, "segmentation": {"size": [20, 30], "counts": runs}},
        {"id": 4, "image_id": 7, "category_id": 3, "bbox": [2, 3, 5, 6]},
        {"id": 5, "image_id": 7, "category_id": 3, "segmentation": [], "bbox": [1, 1, 2, 2]},
    ])
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_coco(project, source)
        assert report.annotations == 5 and set(report.categories_added) == {"cat", "dog"}
        assert {c.name: c.id for c in project.categories()} == {"cat": 3, "dog": 90}
        anns = {a.id: a for a in project.annotations()}
        assert isinstance(anns[1].geometry, Polygon) and len(anns[1].geometry.parts) == 2
        np.testing.assert_array_equal(dense(anns[2].geometry, (20, 30)), full.astype(bool))
        assert anns[3].iscrowd and np.array_equal(dense(anns[3].geometry, (20, 30)), uncompressed_counts)
        assert anns[4].geometry == Box(2, 3, 7, 9) and anns[5].geometry == Box(1, 1, 3, 3)
        assert project.get_category(90).supercategory == "animal"


def test_file_without_categories_is_refused(shared_data: Path, tmp_path: Path) -> None:
    with Project.create(tmp_path / "p.segproj") as project:
        before = snapshot(project)
        with pytest.raises(FormatError, match="categories") as info:
            import_coco(project, shared_data / "coco_minimal_torchvision_gallery" / "instances.json",
                        ImportOptions(allow_missing_images=True))
        assert "instances.json" in str(info.value)
        assert snapshot(project) == before


@pytest.mark.parametrize(
    ("annotations", "file_name", "message"),
    [
        ([{"id": 1, "image_id": 8, "category_id": 3, "bbox": [0, 0, 1, 1]}], "a.png",
         "annotations[0] (annotation 1): image_id 8 is not in 'images'"),
        ([{"id": 1, "image_id": 7, "category_id": 4, "bbox": [0, 0, 1, 1]}], "a.png",
         "annotations[0] (annotation 1): category_id 4"),
        ([{"id": 1, "image_id": 7, "category_id": 3, "segmentation": {"size": [5, 5], "counts": "0"}}], "a.png", "RLE size"),
        ([{"id": 1, "image_id": 7, "category_id": 3, "segmentation": [[1, 2, 3]]}], "a.png", "odd number"),
        ([{"id": 1, "image_id": 7, "category_id": 3}], "a.png", "neither 'segmentation' nor 'bbox'"),
        ([], "../../x.png", "escapes the data set root"),
        ([], "/etc/passwd", "absolute"),
        ([], "missing.png", "not found"),
    ],
)
def test_bad_files_give_clear_errors_and_change_nothing(tmp_path: Path, annotations, file_name, message) -> None:
    source = _minimal(tmp_path, annotations, file_name=file_name)
    with Project.create(tmp_path / "p.segproj", [Category(1, "existing")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_coco(project, source, ImportOptions(add_labels=True))
        assert message in str(info.value) and "instances.json" in str(info.value)
        assert snapshot(project) == before


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    source = _write(tmp_path / "broken.json", '{"images": [\n  {"id": 1,, }\n]}')
    with Project.create(tmp_path / "p.segproj") as project:
        with pytest.raises(FormatError, match=r"broken\.json.*line 2, column 12"):
            import_coco(project, source)


def test_unknown_labels_are_refused_when_the_project_has_a_label_set(tmp_path: Path) -> None:
    source = _minimal(tmp_path, [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [0, 0, 1, 1]}])
    with Project.create(tmp_path / "p.segproj", [Category(1, "dog")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError, match=r"unknown label.*'cat'.*annotation 1"):
            import_coco(project, source)
        assert snapshot(project) == before
        report = import_coco(project, source, ImportOptions(add_labels=True))
        assert report.categories_added == ["cat"]
        dog = project.category_by_name("dog")
        assert dog is not None and dog.id == 1  # existing category kept, matched by name
        assert project.category_by_name("cat").id == 3


def test_reimport_onto_existing_images_reuses_them(project: Project, tmp_path: Path) -> None:
    export_coco(project, tmp_path / "ref", ExportOptions())
    before = len(project.annotations())
    stored = snapshot(project)
    source = tmp_path / "ref" / "annotations" / "instances_train.json"
    root = json.loads(source.read_text())["info"]["image_root"]  # the user names the image folder
    # The shapes are already there: refused by default, naming the file and the count.
    with pytest.raises(FormatError,
                       match=r"instances_train\.json: \d+ of \d+ shape\(s\) are already in the project.*--allow-duplicates"):
        import_coco(project, source, images_root=root)
    assert snapshot(project) == stored
    report = import_coco(project, source, ImportOptions(allow_duplicates=True), images_root=root)
    assert report.images_reused == 4 and report.images_added == 0
    assert len(project.annotations()) == 2 * before


def test_export_target_rules_overwrite_and_failure_leaves_target_unchanged(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("old data set")
    with pytest.raises(FormatError, match="not empty.*--overwrite"):
        export_coco(project, out, ExportOptions())
    assert folder_state(out) == {"keep.txt": b"old data set"}

    def explode(done: int, total: int) -> None:
        if done == 2:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        export_coco(project, out, ExportOptions(overwrite=True, progress=explode))
    assert folder_state(out) == {"keep.txt": b"old data set"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    calls = []
    export_coco(project, out, ExportOptions(overwrite=True, progress=lambda d, t: calls.append((d, t))))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(folder_state(out)) == ["annotations/instances_train.json"]


def test_only_done_exports_finished_images(tmp_path: Path) -> None:
    from annotations.model import ImageStatus

    statuses = [ImageStatus.DONE, ImageStatus.NEW, ImageStatus.REVIEWED, ImageStatus.IN_PROGRESS]
    with build_project(tmp_path, statuses=statuses) as project:
        report = export_coco(project, tmp_path / "out", ExportOptions(only_done=True))
        assert report.images == {"train": 2}


def test_two_workers_write_the_same_file(tmp_path: Path) -> None:
    with build_project(tmp_path, n_images=6) as project:
        export_coco(project, tmp_path / "one", ExportOptions(split={"val": 0.5}))
        calls: list[tuple[int, int]] = []
        export_coco(project, tmp_path / "two",
                    ExportOptions(split={"val": 0.5}, workers=2, progress=lambda d, t: calls.append((d, t))))
    assert folder_state(tmp_path / "one") == folder_state(tmp_path / "two")
    assert calls[-1] == (6, 6) and len(calls) == 6


def test_overwrite_never_replaces_the_folder_holding_the_project_or_its_images(project: Project, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="holds the project file"):
        export_coco(project, tmp_path, ExportOptions(overwrite=True))
    with pytest.raises(FormatError, match="holds images being exported"):
        export_coco(project, tmp_path / "pictures", ExportOptions(overwrite=True))
    assert len(list((tmp_path / "pictures").iterdir())) == 4 and project.path.is_file()
