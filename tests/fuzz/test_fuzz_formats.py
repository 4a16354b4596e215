"""Fuzzing the importers with seeded mutations of real files from ``../shared/data`` (issue 17).

Per format, ``SEGSTUDIO_FUZZ_CASES`` mutants (default 200: about 10 s per format on a 2-core machine) are
imported into a fresh copy of a small project. Every case must end in either a clean refusal
(an ``AnnotationsError``, project rows unchanged) or an accepted import that renders and exports.
Run more with e.g. ``SEGSTUDIO_FUZZ_CASES=2000 SEGSTUDIO_FUZZ_SEED=7 pytest tests/fuzz``.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from fuzz_engine import (
    FuzzTally,
    assert_promises,
    cases_per_format,
    dumps_hostile,
    first_seed,
    make_template,
    mutate_bytes,
    mutate_json,
    mutate_xml,
    run_case,
)
from PIL import Image as PILImage

COCO_FIELDS = ("segmentation", "bbox", "counts", "size", "width", "height", "id", "image_id", "category_id",
               "file_name", "color", "iscrowd", "attributes")
LABELME_FIELDS = ("points", "shape_type", "group_id", "imageHeight", "imageWidth", "imagePath", "label", "flags")
CITYSCAPES_FIELDS = ("polygon", "imgHeight", "imgWidth", "label", "deleted")


def _coco_seed(shared_data: Path, folder: Path) -> tuple[dict, Path]:
    doc = json.loads((shared_data / "coco128" / "instances_train2017.json").read_text())
    images = doc["images"][:3]
    ids = {im["id"] for im in images}
    annotations = [a for a in doc["annotations"] if a["image_id"] in ids]
    crowd = [a for a in doc["annotations"] if a.get("iscrowd")][:1]
    for im in images:
        shutil.copyfile(shared_data / "coco128" / "images" / "train2017" / im["file_name"], folder / im["file_name"])
    if crowd:
        crowd_image = next(im for im in doc["images"] if im["id"] == crowd[0]["image_id"])
        if crowd_image["id"] not in ids:
            images.append(crowd_image)
            shutil.copyfile(shared_data / "coco128" / "images" / "train2017" / crowd_image["file_name"],
                            folder / crowd_image["file_name"])
        annotations += crowd
    used = {a["category_id"] for a in annotations}
    seed = {"info": doc.get("info", {}), "images": images, "annotations": annotations[:40],
            "categories": [c for c in doc["categories"] if c["id"] in used]}
    return seed, folder / "instances.json"


def test_fuzz_coco(shared_data: Path, tmp_path: Path, capsys) -> None:
    source_folder = tmp_path / "coco"
    source_folder.mkdir()
    seed_doc, target = _coco_seed(shared_data, source_folder)
    template = make_template(tmp_path)
    tally = FuzzTally()
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        doc, what = mutate_json(seed_doc, rng, prefer=COCO_FIELDS)
        target.write_text(dumps_hostile(doc, rng))
        run_case(tmp_path, template, "coco", target, f"coco case {case} ({what})", tally, export_voc=case % 10 == 0)
    assert_promises("coco", tally, capsys)


def test_fuzz_labelme(shared_data: Path, tmp_path: Path, capsys) -> None:
    folder = shared_data / "labelme_examples" / "instance_segmentation" / "data_annotated"
    sources = sorted(folder.glob("*.json"))
    work = tmp_path / "lm"
    work.mkdir()
    for jpg in folder.glob("*.jpg"):
        shutil.copyfile(jpg, work / jpg.name)
    docs = [json.loads(p.read_text()) for p in sources]
    template = make_template(tmp_path)
    tally = FuzzTally()
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        index = case % len(docs)
        doc, what = mutate_json(docs[index], rng, prefer=LABELME_FIELDS)
        target = work / sources[index].name
        target.write_text(dumps_hostile(doc, rng))
        run_case(tmp_path, template, "labelme", target, f"labelme case {case} ({sources[index].name}: {what})", tally,
                 export_voc=case % 10 == 0)
        target.unlink()
    assert_promises("labelme", tally, capsys)


def test_fuzz_voc(shared_data: Path, tmp_path: Path, capsys) -> None:
    original = shared_data / "datumaro_format_fixtures" / "voc_dataset" / "voc_dataset1"
    root = tmp_path / "voc"
    shutil.copytree(original, root)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    xml_files = sorted((root / "Annotations").glob("*.xml"))
    pngs = sorted((root / "SegmentationObject").glob("*.png")) + sorted((root / "SegmentationClass").glob("*.png"))
    originals = {p: p.read_bytes() for p in [*xml_files, *pngs]}
    template = make_template(tmp_path)
    tally = FuzzTally()
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        for path, data in originals.items():
            path.write_bytes(data)
        if rng.random() < 0.8 or not pngs:
            xml = rng.choice(xml_files)
            text, what = mutate_xml(originals[xml].decode("utf-8"), rng)
            xml.write_text(text, encoding="utf-8")
        else:
            png = rng.choice(pngs)
            data, what = mutate_bytes(originals[png], rng)
            png.write_bytes(data)
        run_case(tmp_path, template, "voc", root, f"voc case {case} ({what})", tally, export_voc=case % 10 == 0)
    assert_promises("voc", tally, capsys)


def _cityscapes_seed(root: Path) -> tuple[dict, Path]:
    """A Cityscapes-style tree built here (Cityscapes' own data may not be shared): one image and
    polygons of several labels, as cityscapesscripts writes them."""
    height, width = 64, 128
    image = root / "leftImg8bit" / "val" / "ulm" / "ulm_000000_000019_leftImg8bit.png"
    image.parent.mkdir(parents=True)
    PILImage.fromarray(np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)).save(image)
    doc = {"imgHeight": height, "imgWidth": width, "objects": [
        {"label": "road", "polygon": [[0, 40], [127, 40], [127, 63], [0, 63]]},
        {"label": "car", "polygon": [[10, 20], [50, 20], [50, 45], [10, 45]], "deleted": 0},
        {"label": "cargroup", "polygon": [[60, 25], [90, 25], [90, 44], [60, 44]]},
        {"label": "person", "polygon": [[100, 10], [110, 10], [112, 40], [98, 40]]},
        {"label": "sky", "polygon": [[0, 0], [127, 0], [127, 15], [0, 15]], "deleted": 1},
    ]}
    target = root / "gtFine" / "val" / "ulm" / "ulm_000000_000019_gtFine_polygons.json"
    target.parent.mkdir(parents=True)
    return doc, target


def test_fuzz_cityscapes(tmp_path: Path, capsys) -> None:
    root = tmp_path / "cs"
    seed_doc, target = _cityscapes_seed(root)
    template = make_template(tmp_path)
    tally = FuzzTally()
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        doc, what = mutate_json(seed_doc, rng, prefer=CITYSCAPES_FIELDS)
        target.write_text(dumps_hostile(doc, rng))
        run_case(tmp_path, template, "cityscapes", root, f"cityscapes case {case} ({what})", tally,
                 export_voc=case % 10 == 0)
    assert_promises("cityscapes", tally, capsys)


def test_harness_reports_a_crash(tmp_path: Path) -> None:
    """The harness itself can fail: a non-AnnotationsError from an importer is counted as a crash."""
    from fuzz_engine import run_case as run

    import annotations.formats as formats

    template = make_template(tmp_path)
    tally = FuzzTally()
    original = formats.IMPORTERS["coco"]
    formats.IMPORTERS["coco"] = ("builtins", "len")  # len(project, source, options) -> TypeError
    try:
        run(tmp_path, template, "coco", tmp_path / "x.json", "probe", tally, export_voc=False)
    finally:
        formats.IMPORTERS["coco"] = original
    assert len(tally.crashes) == 1 and "TypeError" in tally.crashes[0]
    pytest.importorskip("sqlite3")
