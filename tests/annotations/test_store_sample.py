"""The bundled sample project (resources/sample): content, images on disk, reproducible build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PIL import Image as PILImage

from annotations.geometry import Box, Mask, Polygon, clip_to_image, rle
from annotations.model import ImageStatus
from annotations.store import SCHEMA_VERSION, Project

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "resources" / "sample"
SAMPLE = SAMPLE_DIR / "sample.segproj"


def test_sample_project_content() -> None:
    with Project.open(SAMPLE, readonly=True) as project:
        assert project.schema_version == SCHEMA_VERSION  # rebuild it when the schema changes
        assert [(c.id, c.name) for c in project.categories()] == [(1, "nucleus"), (2, "debris")]
        images = project.images()
        assert len(images) == 6
        statuses = [i.status for i in images]
        assert statuses.count(ImageStatus.DONE) == 2 and statuses.count(ImageStatus.NEW) == 2
        annotations = project.annotations()
        kinds = {type(a.geometry) for a in annotations}
        assert kinds == {Box, Polygon, Mask}
        polygons = [a.geometry for a in annotations if isinstance(a.geometry, Polygon)]
        assert any(p.has_holes for p in polygons) and any(len(p.parts) > 1 for p in polygons)
        assert {a.category_id for a in annotations} == {1, 2}
        for annotation in annotations:
            image = project.get_image(annotation.image_id)
            geometry = annotation.geometry
            if isinstance(geometry, Mask):
                assert geometry.size == image.size_hw and rle.area(geometry) > 0
            else:
                assert clip_to_image(geometry, image.size_hw) == geometry  # inside its image
        assert project.undo_label() is None  # a clean history


def test_sample_images_exist_relative_to_the_project() -> None:
    with Project.open(SAMPLE, readonly=True) as project:
        assert project.missing_images() == []
        for image in project.images():
            assert not Path(image.path).is_absolute() and image.path.startswith("images/")
            path = project.image_path(image)
            assert path.parent == (SAMPLE_DIR / "images").resolve()
            with PILImage.open(path) as picture:
                assert picture.size == (image.width, image.height)
    total = sum(f.stat().st_size for f in SAMPLE_DIR.rglob("*") if f.is_file())
    assert total < 3_000_000


def test_sample_build_is_reproducible(tmp_path: Path, shared_data: Path) -> None:
    spec = importlib.util.spec_from_file_location("build_sample", SAMPLE_DIR / "build_sample.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    rebuilt = builder.build(shared_data / "dsb2018_nuclei40", tmp_path / "sample.segproj")
    with Project.open(rebuilt, readonly=True) as fresh, Project.open(SAMPLE, readonly=True) as shipped:
        assert fresh.categories() == shipped.categories()
        assert fresh.images() == shipped.images()
        assert fresh.annotations() == shipped.annotations()
    for name in (SAMPLE_DIR / "images").iterdir():
        assert (tmp_path / "images" / name.name).read_bytes() == name.read_bytes()
