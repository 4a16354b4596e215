"""Regression tests of issue 17: every case the attack run found, refused cleanly at the reader
boundary (a FormatError naming the file and the item, the project unchanged), the export target
policy, and the path policy (symlinks, a file choosing its own root)."""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest
from format_helpers import folder_state, snapshot, write_image

from annotations.errors import AnnotationsError, FormatError
from annotations.formats import ExportOptions, ImportOptions, export_project, import_into
from annotations.formats.atomic import atomic_directory, clean_stale
from annotations.formats.coco.instances import import_coco
from annotations.model import Category, Image
from annotations.store import Project


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def _coco(tmp_path: Path, *, annotations=(), image=None, categories=None) -> Path:
    write_image(tmp_path / "src" / "a.png", (48, 64), 0)
    doc = {
        "images": [image or {"id": 7, "file_name": "a.png", "width": 64, "height": 48}],
        "categories": categories or [{"id": 3, "name": "cat"}],
        "annotations": list(annotations),
    }
    return _write(tmp_path / "src" / "instances.json", doc)


def _refused(tmp_path: Path, format_name: str, source: Path, *expected: str) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp_path / 'p.segproj'}{suffix}").unlink(missing_ok=True)
    with Project.create(tmp_path / "p.segproj", [Category(1, "existing")]) as project:
        before = snapshot(project)
        with pytest.raises(FormatError) as info:
            import_into(project, format_name, source, ImportOptions(add_labels=True))
        assert snapshot(project) == before
    message = str(info.value)
    for text in expected:
        assert text in message, message
    return message


# ------------------------------------------------------------------------- COCO field checks
ANN = {"id": 1, "image_id": 7, "category_id": 3}


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ({**ANN, "segmentation": {"size": [48, 64], "counts": [10, 20]}}, "add up to 30 pixels"),
        ({**ANN, "segmentation": {"size": [48, 64], "counts": "0a" * 3}}, "annotations[0]"),
        ({**ANN, "segmentation": {"size": [48, 64], "counts": [3072, -1]}}, "negative run"),
        ({**ANN, "segmentation": {"size": [48, 64], "counts": ["a", "b"]}}, "must be integers"),
        ({**ANN, "segmentation": {"size": [48, 64], "counts": "é"}}, "malformed"),
        ({**ANN, "segmentation": [[1, 1, 10, 1, 1e308 * 10, 8]]}, "not finite"),
        ({**ANN, "segmentation": [[1, 1, 10, 1, 5e9, 8]]}, "far outside"),
        ({**ANN, "bbox": [0, 0, 1e20, 5]}, "far outside"),
        ({**ANN, "id": 2**63, "bbox": [0, 0, 5, 5]}, "64-bit"),
        ({**ANN, "category_id": -(2**70), "bbox": [0, 0, 5, 5]}, "64-bit"),
    ],
)
def test_coco_annotation_fields_are_checked_before_anything_is_built(tmp_path: Path, annotation, expected) -> None:
    source = _coco(tmp_path, annotations=[annotation])
    message = _refused(tmp_path, "coco", source, expected, "instances.json")
    assert "annotations[0]" in message  # the item is named by its place in the file


@pytest.mark.parametrize(
    ("image", "categories", "expected"),
    [
        ({"id": 7, "file_name": "a.png", "width": 1_000_000_000, "height": 480}, None, "pixel budget"),
        ({"id": 7, "file_name": "a.png", "width": 640, "height": 480}, None, "the image file is 64x48"),
        ({"id": 7, "file_name": "a.png", "width": 1e20, "height": 48}, None, "must be an integer"),
        ({"id": 2**64, "file_name": "a.png"}, None, "64-bit"),
        ({"id": 7, "file_name": "x" * 300 + ".png"}, None, "longer than 255"),
        (None, [{"id": 3, "name": "cat", "color": [0.5, 2, 3]}], "0..255"),
        (None, [{"id": 3, "name": "cat", "color": [0, 256, 3]}], "0..255"),
    ],
)
def test_coco_image_and_category_fields(tmp_path: Path, image, categories, expected) -> None:
    _refused(tmp_path, "coco", _coco(tmp_path, image=image, categories=categories), expected)


def test_deep_and_huge_json_are_format_errors(tmp_path: Path) -> None:
    deep = _write(tmp_path / "deep" / "instances.json", '{"images": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _refused(tmp_path, "coco", deep, "nested too deeply")
    nested = _write(tmp_path / "nest" / "instances.json",
                    '{"categories": [], "images": [], "x": ' + "[" * 200 + "]" * 200 + "}")
    _refused(tmp_path, "coco", nested, "nested too deeply")
    digits = _write(tmp_path / "digits" / "instances.json", '{"categories": [], "images": [{"id": 1' + "0" * 5000 + "}]}")
    _refused(tmp_path, "coco", digits, "instances.json")


def test_accepted_coco_exports_after_the_size_check(tmp_path: Path) -> None:
    """The poison case: a bad 'width' used to be accepted and then segfault the VOC export."""
    source = _coco(tmp_path, annotations=[{**ANN, "segmentation": [[1, 1, 30, 1, 30, 20]]}])
    with Project.create(tmp_path / "p.segproj") as project:
        import_coco(project, source)
        report = export_project(project, "voc", tmp_path / "voc")
        assert report.annotations == 1


# ------------------------------------------------------------------------------ labelme
def _labelme(tmp_path: Path, shapes: list, **extra) -> Path:
    write_image(tmp_path / "lm" / "a.png", (48, 64), 1)
    doc = {"shapes": shapes, "imagePath": "a.png", "imageHeight": 48, "imageWidth": 64, **extra}
    return _write(tmp_path / "lm" / "a.json", doc)


SQUARE = [[1, 1], [20, 1], [20, 20], [1, 20]]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ({"label": "a", "shape_type": "circle", "points": [[10, 10], [10, 1e12]]}, "far outside"),
        ({"label": "a", "points": SQUARE, "group_id": [1]}, "group_id must be"),
        ({"label": "a", "points": SQUARE, "group_id": {"x": 1}}, "group_id must be"),
        ({"label": "a", "points": SQUARE, "shape_type": ["polygon"]}, "shape_type must be a string"),
        ({"label": "a", "points": SQUARE, "shape_type": {"k": 1}}, "shape_type must be a string"),
        ({"label": "a", "points": [[1, 1], [1e400, 2], [3, 9]]}, "points"),
        ({"label": "a", "points": [[1, "x"], [2, 2], [3, 9]]}, "points"),
        ({"label": "a", "points": [[float(i % 60), float(i % 40)] for i in range(250_000)]}, "vertices"),
    ],
)
def test_labelme_shape_fields(tmp_path: Path, shape, expected) -> None:
    message = _refused(tmp_path, "labelme", _labelme(tmp_path, [shape]), expected, "a.json")
    assert "shapes[0]" in message


def _header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header announces ``width`` x ``height`` (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_labelme_bomb_in_image_data_and_mask(tmp_path: Path) -> None:
    bomb = base64.b64encode(_header_only_png(50_000, 50_000)).decode()
    folder = tmp_path / "emb"
    _write(folder / "a.json", {"shapes": [{"label": "a", "points": SQUARE}], "imagePath": "gone.png", "imageData": bomb})
    _refused(tmp_path, "labelme", folder / "a.json", "pixel budget")
    assert not (tmp_path / "p_images").exists() or not any((tmp_path / "p_images").iterdir())
    source = _labelme(tmp_path, [{"label": "a", "shape_type": "mask", "points": [[0, 0], [10, 10]], "mask": bomb}])
    _refused(tmp_path, "labelme", source, "pixel budget", "shapes[0]")


# ----------------------------------------------------------------------------------- VOC
def _voc(tmp_path: Path, box: tuple[str, str, str, str] = ("1", "1", "10", "10"), size=("64", "48")) -> Path:
    root = tmp_path / "voc"
    write_image(root / "JPEGImages" / "a.jpg", (48, 64), 2)
    xml = (f"<annotation><filename>a.jpg</filename><size><width>{size[0]}</width><height>{size[1]}</height></size>"
           f"<object><name>cat</name><bndbox><xmin>{box[0]}</xmin><ymin>{box[1]}</ymin><xmax>{box[2]}</xmax>"
           f"<ymax>{box[3]}</ymax></bndbox></object></annotation>")
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    (root / "Annotations" / "a.xml").write_text(xml)
    return root


@pytest.mark.parametrize("box", [("inf", "1", "10", "10"), ("1", "nan", "10", "10"), ("1", "1", "1e300", "10"),
                                 ("1", "1", "9999999", "10")])
def test_voc_box_numbers(tmp_path: Path, box) -> None:
    _refused(tmp_path, "voc", _voc(tmp_path, box), "a.xml", "object 1")


def test_voc_size_must_match_the_image(tmp_path: Path) -> None:
    _refused(tmp_path, "voc", _voc(tmp_path, size=("1000000000", "48")), "a.xml")


def test_voc_labelmap_colour_range_and_encoding(tmp_path: Path) -> None:
    root = _voc(tmp_path)
    (root / "labelmap.txt").write_text("background:0,0,0::\ncat:300,0,0::\n")
    _refused(tmp_path, "voc", root, "labelmap.txt", "line 2", "0..255")
    (root / "labelmap.txt").write_bytes("background:0,0,0::\ncat:1,2,3::\n".encode("utf-16"))
    _refused(tmp_path, "voc", root, "labelmap.txt", "not UTF-8")
    (root / "labelmap.txt").unlink()
    (root / "class_names.txt").write_bytes(b"background\n\xff\xfecat\n")
    _refused(tmp_path, "voc", root, "class_names.txt", "not UTF-8")


def test_voc_png_bomb(tmp_path: Path) -> None:
    root = _voc(tmp_path)
    (root / "SegmentationObject").mkdir()
    (root / "SegmentationObject" / "a.png").write_bytes(_header_only_png(50_000, 50_000))
    _refused(tmp_path, "voc", root, "pixel budget")


# ---------------------------------------------------------------------------- Cityscapes
def _cityscapes(tmp_path: Path, objects: list, size=(48, 64)) -> Path:
    root = tmp_path / "cs"
    write_image(root / "leftImg8bit" / "val" / "ulm" / "ulm_000000_000001_leftImg8bit.png", (48, 64), 3)
    doc = {"imgHeight": size[0], "imgWidth": size[1], "objects": objects}
    _write(root / "gtFine" / "val" / "ulm" / "ulm_000000_000001_gtFine_polygons.json", doc)
    return root


def test_cityscapes_deleted_no_is_not_deleted(tmp_path: Path) -> None:
    polygon = [[1, 1], [30, 1], [30, 20]]
    root = _cityscapes(tmp_path, [{"label": "car", "polygon": polygon, "deleted": "no"},
                                  {"label": "road", "polygon": polygon, "deleted": 1},
                                  {"label": "person", "polygon": polygon, "deleted": "0"}])
    with Project.create(tmp_path / "ok.segproj") as project:
        report = import_into(project, "cityscapes", root)
        assert report.annotations == 2
        assert sorted(project.get_category(a.category_id).name for a in project.annotations()) == ["car", "person"]
    shutil.rmtree(root)
    root = _cityscapes(tmp_path, [{"label": "car", "polygon": polygon, "deleted": "maybe"}])
    _refused(tmp_path, "cityscapes", root, "objects[0]", "deleted")


@pytest.mark.parametrize(
    ("objects", "size", "expected"), [
    ([{"label": "car", "polygon": [[1, 1], [1e9, 1], [30, 20]]}], (48, 64), "far outside"),
    ([{"label": "car", "polygon": [[1, 1], ["x", 1], [30, 20]]}], (48, 64), "polygon must be"),
    ([], (48, 10**9), "pixel budget"),
    ([], (48, 10**12), "is not in 1.."),
    ([], (480, 640), "the image file is 64x48"),
])
def test_cityscapes_fields(tmp_path: Path, objects, size, expected) -> None:
    _refused(tmp_path, "cityscapes", _cityscapes(tmp_path, objects, size), expected, "gtFine_polygons.json")


# --------------------------------------------------------------------------- path policy
def test_coco_file_cannot_choose_its_own_image_root(tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.png"
    write_image(secret, (8, 8), 4)
    doc = {"info": {"image_root": str(secret.parent)}, "categories": [{"id": 1, "name": "x"}],
           "images": [{"id": 1, "file_name": "secret.png", "width": 8, "height": 8}], "annotations": []}
    source = _write(tmp_path / "data" / "ann" / "instances.json", doc)
    _refused(tmp_path, "coco", source, "not found")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
@pytest.mark.parametrize("format_name", ["coco", "labelme", "voc"])
def test_symlink_out_of_the_data_root_is_refused(tmp_path: Path, format_name: str) -> None:
    outside = write_image(tmp_path / "outside" / "passwd.png", (48, 64), 5)
    if format_name == "coco":
        source = _coco(tmp_path, image={"id": 7, "file_name": "link.png", "width": 64, "height": 48})
        (source.parent / "link.png").symlink_to(outside)
    elif format_name == "labelme":
        source = _labelme(tmp_path, [{"label": "a", "points": SQUARE}], imagePath="link.png")
        (source.parent / "link.png").symlink_to(outside)
    else:
        source = _voc(tmp_path)
        (source / "JPEGImages" / "a.jpg").unlink()
        (source / "JPEGImages" / "a.jpg").symlink_to(outside)
    _refused(tmp_path, format_name, source, "outside the data root")


def test_symlink_inside_the_data_root_is_fine(tmp_path: Path) -> None:
    source = _coco(tmp_path, image={"id": 7, "file_name": "link.png", "width": 64, "height": 48})
    (source.parent / "link.png").symlink_to(source.parent / "a.png")
    with Project.create(tmp_path / "p.segproj") as project:
        assert import_coco(project, source).images_added == 1


# ------------------------------------------------------------------- export target policy
def _project_with_images_in(folder: Path) -> Project:
    write_image(folder / "img.png", (16, 16), 6)
    project = Project.create(folder.parent / "p.segproj", [Category(1, "x")])
    project.add_images([Image(0, str(folder / "img.png"), 16, 16)])
    return project


@pytest.mark.parametrize("only_done", [False, True])
@pytest.mark.parametrize("format_name", ["coco", "voc", "cityscapes"])
def test_export_never_replaces_a_folder_holding_project_images(tmp_path: Path, format_name: str, only_done: bool) -> None:
    images = tmp_path / "imgs"
    with _project_with_images_in(images) as project:
        if only_done:  # the image in the target is not exported, but it is still the project's
            from annotations.model import ImageStatus
            write_image(tmp_path / "elsewhere" / "done.png", (16, 16), 7)
            done = project.add_images([Image(0, str(tmp_path / "elsewhere" / "done.png"), 16, 16)])[0]
            project.put_image_status(done.id, ImageStatus.DONE)
        before = folder_state(images)
        with pytest.raises(FormatError, match="holds images"):
            export_project(project, format_name, images, ExportOptions(overwrite=True, only_done=only_done))
        assert folder_state(images) == before


def test_export_never_replaces_the_models_folder_or_the_project_folder(tmp_path: Path) -> None:
    with _project_with_images_in(tmp_path / "imgs") as project:
        models = tmp_path / "p.models"
        models.mkdir()
        (models / "v1.pt").write_bytes(b"weights")
        for target in (models, models / "sub", tmp_path):
            with pytest.raises(FormatError, match="models folder|project file"):
                export_project(project, "coco", target, ExportOptions(overwrite=True))
        assert (models / "v1.pt").read_bytes() == b"weights"
        assert project.path.is_file()


def test_killed_export_leftovers_are_cleaned_and_a_swapped_out_dataset_comes_back(tmp_path: Path) -> None:
    target = tmp_path / "out"
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    partial = tmp_path / f".out.partial-{dead_pid}-abc123"
    partial.mkdir()
    (partial / "half.json").write_text("{")
    old_style = tmp_path / ".out.partial-xyz_99"
    old_style.mkdir()
    backup = tmp_path / f".out.old-{dead_pid}-0a1b2c3d"
    backup.mkdir()
    (backup / "previous.json").write_text("{}")
    live = tmp_path / f".out.partial-{os.getpid()}-live"
    live.mkdir()
    removed = clean_stale(target)
    assert sorted(p.name for p in removed) == sorted([partial.name, old_style.name])
    assert (target / "previous.json").is_file()  # the kill came between the two renames
    assert live.is_dir()  # a running export's folder is left alone
    with atomic_directory(tmp_path / "out", overwrite=True) as tmp:
        (tmp / "new.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")) == [live.name]


def test_errors_are_annotations_errors() -> None:
    assert issubclass(FormatError, AnnotationsError)
