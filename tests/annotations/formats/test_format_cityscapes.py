"""Cityscapes export/import, checked pixel for pixel by cityscapesscripts and read by torchvision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from format_helpers import ellipse_mask, folder_state, snapshot, square, write_image
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats import ExportOptions, ImportOptions
from annotations.formats.cityscapes import LABELS, export_cityscapes, import_cityscapes
from annotations.geometry import Box, Polygon, rle
from annotations.model import Annotation, Category, Image
from annotations.store import Project

CLASSES = ("road", "sky", "building", "car", "person", "license plate")


def cityscapes_project(tmp_path: Path, n_images: int = 3, size_hw=(48, 80), names=CLASSES) -> Project:
    """Stuff first, then things; a crowd car (-> cargroup), a box, masks, a multi-part polygon."""
    table = {label.name: label for label in LABELS}
    categories = [Category(table[n].id if table.get(n) and table[n].id >= 1 else 100 + i, n,
                           is_thing=bool(table.get(n) and table[n].has_instances))
                  for i, n in enumerate(names)]
    project = Project.create(tmp_path / "cs.segproj", categories)
    ids = {c.name: c.id for c in categories}
    h, w = size_hw
    images = project.add_images([Image(0, str(write_image(tmp_path / "img" / f"f{i}.jpg", size_hw, i)), w, h)
                                 for i in range(n_images)])
    anns = []
    for k, image in enumerate(images):
        road = names[0]
        shapes = [
            (road, Polygon.from_points([[0, h * 0.6], [w, h * 0.55], [w, h], [0, h]]), False),
            (names[1], Box(0, 0, w, 10.5 + k), False),
            (names[2], Polygon.from_points(square(3.25, 8, 20)), False),
            (names[3], ellipse_mask(size_hw, (w * 0.6, h * 0.6), (8 + k, 5)), False),
            (names[3], Polygon((Polygon.from_points(square(40, 20, 6)).parts[0],
                                Polygon.from_points(square(50, 22, 5)).parts[0])), False),
            (names[3], Polygon.from_points([[60, 30], [75, 31], [70, 44]]), True),
            (names[4], Polygon.from_points([[10.5, 20.25], [16, 21], [14.75, 40]]), False),
            (names[4], Polygon.from_points([[12, 24], [18, 24], [15, 30]]), False),
            (names[5], Box(30, 40, 36, 44), False),
        ]
        for z, (name, geometry, crowd) in enumerate(shapes):
            anns.append(Annotation(0, image.id, ids[name], geometry, z_order=z, iscrowd=crowd))
    project.add_annotations(anns)
    return project


@pytest.fixture
def cs_project(tmp_path: Path):
    project = cityscapes_project(tmp_path)
    yield project
    project.close()


def test_label_table_equals_cityscapesscripts() -> None:
    from cityscapesscripts.helpers.labels import labels

    theirs = [(label.name, label.id, label.trainId, label.category, label.categoryId, label.hasInstances, label.ignoreInEval,
               tuple(label.color)) for label in labels]
    ours = [(label.name, label.id, label.train_id, label.category, label.category_id, label.has_instances, label.ignore_in_eval,
             label.color) for label in LABELS]
    assert ours == theirs


def _gt_files(root: Path) -> list[Path]:
    return sorted(root.glob("gtFine/*/*/*_gtFine_polygons.json"))


def test_cityscapesscripts_rasterizes_our_polygons_to_our_pngs(cs_project: Project, tmp_path: Path) -> None:
    from cityscapesscripts.helpers.annotation import Annotation as CsAnnotation
    from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
    from cityscapesscripts.preparation.json2labelImg import createLabelImage

    root = tmp_path / "cs"
    export_cityscapes(cs_project, root, ExportOptions(split={"val": 0.34}))
    files = _gt_files(root)
    assert len(files) == 3 and {f.parent.parent.name for f in files} == {"train", "val"}
    for file in files:
        prefix = str(file)[: -len("polygons.json")]
        annotation = CsAnnotation()
        annotation.fromJsonFile(str(file))
        pngs = {name: PILImage.open(prefix + name + ".png") for name in ("labelIds", "labelTrainIds", "color", "instanceIds")}
        assert pngs["labelIds"].mode == "L" and pngs["labelTrainIds"].mode == "L" and pngs["color"].mode == "RGBA"
        assert pngs["instanceIds"].mode in ("I;16", "I") and np.array(pngs["instanceIds"]).max() >= 26000
        np.testing.assert_array_equal(np.array(pngs["labelIds"]), np.array(createLabelImage(annotation, "ids")))
        np.testing.assert_array_equal(np.array(pngs["labelTrainIds"]), np.array(createLabelImage(annotation, "trainIds")))
        np.testing.assert_array_equal(np.array(pngs["color"]), np.array(createLabelImage(annotation, "color")))
        np.testing.assert_array_equal(np.array(pngs["instanceIds"]).astype(np.int64),
                                      np.array(createInstanceImage(annotation, "ids")).astype(np.int64))
        ids = np.array(pngs["labelIds"])
        instances = np.array(pngs["instanceIds"]).astype(np.int64)
        np.testing.assert_array_equal(np.where(instances >= 1000, instances // 1000, instances), ids)
        objects = json.loads(file.read_text())["objects"]
        labels = [o["label"] for o in objects]
        assert labels[:3] == ["road", "sky", "building"] and "cargroup" in labels  # back to front, crowd = group
        assert 26000 in np.unique(instances) and 24001 in np.unique(instances)


def test_masks_survive_the_pil_rasterization(tmp_path: Path) -> None:
    """A solid mask is written as its boundary-pixel contour, which PIL fills back to the same
    pixels; a hole is filled (documented loss)."""
    size_hw = (48, 80)
    blob = ellipse_mask(size_hw, (30, 20), (14, 9))
    ring = rle.decode(ellipse_mask(size_hw, (62, 30), (10, 10))) & ~rle.decode(ellipse_mask(size_hw, (62, 30), (4, 4)))
    with Project.create(tmp_path / "p.segproj", [Category(26, "car")]) as project:
        image = project.add_images([Image(0, str(write_image(tmp_path / "a.png", size_hw, 0)), 80, 48)])[0]
        project.add_annotations([Annotation(0, image.id, 26, blob), Annotation(0, image.id, 26, rle.encode(ring))])
        export_cityscapes(project, tmp_path / "cs", ExportOptions())
    prefix = str(_gt_files(tmp_path / "cs")[0])[: -len("polygons.json")]
    instances = np.array(PILImage.open(prefix + "instanceIds.png")).astype(np.int64)
    np.testing.assert_array_equal(instances == 26000, rle.decode(blob))
    filled = rle.decode(ellipse_mask(size_hw, (62, 30), (10, 10)))
    np.testing.assert_array_equal(instances == 26001, filled)


def test_torchvision_cityscapes_reads_our_tree(cs_project: Project, tmp_path: Path) -> None:
    from torchvision.datasets import Cityscapes, wrap_dataset_for_transforms_v2

    root = tmp_path / "cs"
    export_cityscapes(cs_project, root, ExportOptions())
    dataset = Cityscapes(str(root), split="train", mode="fine", target_type=["semantic", "instance", "polygon", "color"])
    assert len(dataset) == 3
    image, (semantic, instance, polygons, color) = dataset[0]
    assert image.size == (80, 48) and polygons["imgWidth"] == 80
    assert np.array(semantic).max() <= 33
    ids = np.array(instance).astype(np.int64)  # 16-bit PNG, as the official instanceIds
    assert instance.mode == "I;16" and {26000, 26001, 26002, 24000, 24001} <= set(np.unique(ids).tolist())
    # The v2 wrapper's instance path compares a uint16 tensor (Pillow opens 16-bit PNGs as I;16,
    # official files included) and torch has no uint16 ">=": only the semantic path is wrapped.
    wrapped = wrap_dataset_for_transforms_v2(Cityscapes(str(root), split="train", mode="fine", target_type=["semantic"]))
    _, sem = wrapped[0]
    np.testing.assert_array_equal(sem.numpy().squeeze(), np.array(semantic))


def test_round_trip(cs_project: Project, tmp_path: Path) -> None:
    export_cityscapes(cs_project, tmp_path / "a", ExportOptions())
    with Project.create(tmp_path / "back.segproj") as back:
        report = import_cityscapes(back, tmp_path / "a")
        assert report.images_added == 3
        by_name = {c.name: c for c in back.categories()}
        assert by_name["car"].id == 26 and by_name["car"].attributes["trainId"] == 13 and by_name["car"].is_thing
        assert by_name["road"].attributes["ignoreInEval"] is False and not by_name["road"].is_thing
        for original, image in zip(cs_project.images(), back.images()):
            assert image.attributes["cityscapes"]["city"] == "segstudio"
            anns = back.annotations(image.id)
            names = [back.get_category(a.category_id).name for a in anns]
            assert names[:3] == ["road", "sky", "building"]
            assert [a.iscrowd for a in anns].count(True) == 1 and anns[names.index("car") + 3].iscrowd  # mask, 2 parts, crowd
            src = [a for a in cs_project.annotations(original.id) if isinstance(a.geometry, Polygon)]
            got = [a.geometry for a in anns if isinstance(a.geometry, Polygon)]
            src_parts = [p.exterior for a in src for p in a.geometry.parts]
            got_parts = [p.exterior for g in got for p in g.parts]
            for ring in src_parts:  # every polygon part comes back (vertices +-0.5 exactly undone)
                assert any(r.shape == ring.shape and np.allclose(r, ring, atol=1e-9) for r in got_parts)
        # exporting the import again gives the same files (Cityscapes -> SegStudio -> Cityscapes is lossless)
        export_cityscapes(back, tmp_path / "b", ExportOptions())
    a, b = folder_state(tmp_path / "a"), folder_state(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        if name.endswith(".json"):
            assert json.loads(a[name]) == json.loads(b[name]), name
        elif "gtFine" in name:
            assert np.array_equal(np.array(PILImage.open(tmp_path / "a" / name)),
                                  np.array(PILImage.open(tmp_path / "b" / name))), name


def test_unmapped_class_is_an_error_unless_mapped(tmp_path: Path) -> None:
    project = cityscapes_project(tmp_path, n_images=1, names=("street", "sky", "building", "auto", "person", "license plate"))
    with pytest.raises(FormatError, match=r"'auto', 'street'.*--mapping"):
        export_cityscapes(project, tmp_path / "x", ExportOptions())
    assert not (tmp_path / "x").exists()
    with pytest.raises(FormatError, match="not a Cityscapes label"):
        export_cityscapes(project, tmp_path / "x", ExportOptions(), mapping={"street": "road", "auto": "automobile"})
    export_cityscapes(project, tmp_path / "x", ExportOptions(), mapping={"street": "road", "auto": "car"})
    objects = json.loads(_gt_files(tmp_path / "x")[0].read_text())["objects"]
    assert objects[0]["label"] == "road" and "car" in [o["label"] for o in objects]
    project.close()


def _cs_tree(tmp_path: Path, document, name: str = "aachen_000000_000019") -> Path:
    city = name.split("_")[0]
    fine = tmp_path / "src" / "gtFine" / "val" / city
    fine.mkdir(parents=True)
    write_image(tmp_path / "src" / "leftImg8bit" / "val" / city / f"{name}_leftImg8bit.png", (20, 30), 0)
    (fine / f"{name}_gtFine_polygons.json").write_text(document if isinstance(document, str) else json.dumps(document))
    return tmp_path / "src"


GOOD = {"imgHeight": 20, "imgWidth": 30, "objects": [{"label": "car", "polygon": [[1, 1], [10, 1], [10, 9]]}]}


@pytest.mark.parametrize(
    ("document", "name", "message"),
    [
        ({**GOOD, "objects": [{"label": "spaceship", "polygon": [[1, 1], [2, 2], [1, 3]]}]}, "aachen_000000_000019",
         "unknown Cityscapes label 'spaceship'"),
        ({**GOOD, "objects": [{"label": "car", "polygon": [[1, 1], ["x", 2], [1, 3]]}]}, "aachen_000000_000019",
         "objects[0]: polygon must be"),
        ('{"imgHeight": 20,\n "imgWidth": 30 "objects": []}', "aachen_000000_000019", "line 2, column 17"),
        ({"imgWidth": 30, "objects": []}, "aachen_000000_000019", "imgHeight"),
        (GOOD, "aachen_0_19_x", "file name must be"),
        ({**GOOD, "objects": [{"label": "dog", "polygon": [[1, 1], [10, 1], [10, 9]]}]}, "aachen_000000_000019",
         "unknown Cityscapes label"),
    ],
)
def test_bad_cityscapes_input(tmp_path: Path, document, name: str, message: str) -> None:
    source = _cs_tree(tmp_path, document, name)
    with Project.create(tmp_path / "p.segproj", [Category(1, "road")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_cityscapes(project, source, ImportOptions(add_labels=True))
        assert message in str(info.value) and "gtFine_polygons.json" in str(info.value)
        assert snapshot(project) == before


def test_import_group_deleted_and_missing_image(tmp_path: Path) -> None:
    doc = {**GOOD, "objects": [
        {"label": "road", "polygon": [[0, 0], [29, 0], [29, 19], [0, 19]]},
        {"label": "cargroup", "polygon": [[1, 1], [10, 1], [10, 9]]},
        {"label": "person", "polygon": [[1, 1], [5, 1], [5, 9]], "deleted": 1},
    ]}
    source = _cs_tree(tmp_path, doc)
    with Project.create(tmp_path / "p.segproj") as project:
        import_cityscapes(project, source)
        anns = project.annotations()
        assert [project.get_category(a.category_id).name for a in anns] == ["road", "car"]
        assert anns[1].iscrowd and anns[1].geometry.parts[0].exterior[0].tolist() == [1.5, 1.5]
    (source / "leftImg8bit" / "val" / "aachen" / "aachen_000000_000019_leftImg8bit.png").unlink()
    with Project.create(tmp_path / "q.segproj") as project:
        with pytest.raises(FormatError, match="missing"):
            import_cityscapes(project, source)


def test_cityscapes_preset_project_needs_no_mapping(tmp_path: Path) -> None:
    from annotations.presets import load_preset

    categories = load_preset("cityscapes")
    by_name = {c.name: c for c in categories}
    with Project.create(tmp_path / "p.segproj", categories) as project:
        image = project.add_images([Image(0, str(write_image(tmp_path / "a.png", (30, 40), 0)), 40, 30)])[0]
        project.add_annotations([
            Annotation(0, image.id, by_name["sky"].id, Box(0, 0, 40, 10)),
            Annotation(0, image.id, by_name["rider"].id, Polygon.from_points(square(5, 5, 10))),
        ])
        export_cityscapes(project, tmp_path / "cs", ExportOptions())
        ids = np.array(PILImage.open(str(_gt_files(tmp_path / "cs")[0]).replace("polygons.json", "labelIds.png")))
        assert set(np.unique(ids).tolist()) == {0, by_name["sky"].id, by_name["rider"].id}
        # and the import maps back onto the preset's categories (same ids, nothing added)
        report = import_cityscapes(project, tmp_path / "cs")
        assert report.categories_added == [] and {a.category_id for a in project.annotations()} == {23, 25}
