"""Images with an EXIF rotation: shapes live in upright coordinates (as `main.py new` records
the size and the GUI shows the image), so exported pixels must be upright too — readers such as
torchvision load pixels as stored, ignoring the tag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from annotations.formats import ExportOptions
from annotations.formats.coco.instances import export_coco
from annotations.formats.common import exif_orientation
from annotations.formats.voc import export_voc
from annotations.geometry import Box
from annotations.model import Annotation
from annotations.store import Project
from main import main

ORIENTATION = 0x0112


def rotated_photo(folder: Path) -> Path:
    """A 100 x 40 (width x height) JPEG, left 10 columns white, tagged orientation 6: shown
    upright it is 40 wide and 100 tall with the white stripe across the top."""
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((40, 100, 3), np.uint8)
    pixels[:, :10] = 255
    image = PILImage.fromarray(pixels)
    exif = image.getexif()
    exif[ORIENTATION] = 6
    path = folder / "phone.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    return path


def upright_project(tmp_path: Path) -> Project:
    rotated_photo(tmp_path / "photos")
    project_path = tmp_path / "p.segproj"
    assert main(["new", str(project_path), "--images", str(tmp_path / "photos"), "--labels", "voc"]) == 0
    project = Project.open(project_path)
    (image,) = project.images()
    assert image.size_hw == (100, 40)  # upright
    stripe = project.category_by_name("person")
    project.add_annotations([Annotation(0, image.id, stripe.id, Box(0, 0, 40, 10))])  # the white stripe
    return project


def assert_upright(path: Path) -> None:
    with PILImage.open(path) as img:  # as torchvision reads it: no exif_transpose
        assert exif_orientation(path) == 1
        pixels = np.asarray(img.convert("L"))
    assert pixels.shape == (100, 40)
    assert pixels[:8].mean() > 200 and pixels[12:].mean() < 40  # the stripe the box covers


def test_voc_export_writes_upright_pixels(tmp_path: Path) -> None:
    project = upright_project(tmp_path)
    out = tmp_path / "voc"
    export_voc(project, out)
    (jpeg,) = (out / "JPEGImages").glob("*.jpg")
    assert_upright(jpeg)
    project.close()


def test_coco_copy_images_writes_upright_pixels(tmp_path: Path) -> None:
    project = upright_project(tmp_path)
    out = tmp_path / "coco"
    export_coco(project, out, ExportOptions(copy_images=True))
    data = json.loads(next((out / "annotations").glob("*.json")).read_text())
    (entry,) = data["images"]
    assert (entry["height"], entry["width"]) == (100, 40)
    (copied,) = (out / "images").rglob("*.jpg")
    assert_upright(copied)
    project.close()
