"""Builders shared by the format tests: small projects with real image files on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from annotations.geometry import Box, Mask, Polygon, PolygonPart, rle
from annotations.model import Annotation, Category, Image, ImageStatus
from annotations.store import Project

REPO_ROOT = Path(__file__).resolve().parents[3]

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
    "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)


def write_image(path: Path, size_hw: tuple[int, int], seed: int) -> Path:
    """A random RGB image file (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, size=(*size_hw, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(path)
    return path


def ellipse_mask(size_hw: tuple[int, int], centre_xy: tuple[float, float], radii_xy: tuple[float, float]) -> Mask:
    """An elliptical RLE mask."""
    yy, xx = np.mgrid[: size_hw[0], : size_hw[1]]
    inside = ((xx + 0.5 - centre_xy[0]) / radii_xy[0]) ** 2 + ((yy + 0.5 - centre_xy[1]) / radii_xy[1]) ** 2 <= 1
    return rle.encode(inside)


def square(x: float, y: float, side: float) -> list[list[float]]:
    return [[x, y], [x + side, y], [x + side, y + side], [x, y + side]]


def shapes_for(size_hw: tuple[int, int], k: int) -> list[tuple[int, object, bool, dict]]:
    """(category position 0..2, geometry, iscrowd, attributes) of a varied set of shapes inside the image."""
    h, w = size_hw
    two_parts = Polygon((PolygonPart(np.array(square(2 + k, 3, 10))), PolygonPart(np.array([[30, 5], [44, 9], [35, 20.5]]))))
    with_hole = Polygon.from_points(square(5, 25, 24), [square(12, 32, 8)])
    return [
        (0, Box(1.0 + k, 2.0, 21.0 + k, 30.0), False, {"difficult": True}),
        (1, two_parts, False, {}),
        (2, with_hole, False, {"note": "hole"}),
        (0, ellipse_mask(size_hw, (w * 0.7, h * 0.6), (9 + k, 7)), False, {}),
        (1, ellipse_mask(size_hw, (w * 0.25, h * 0.8), (6, 5)), True, {}),
        (2, Polygon.from_points([[w - 20.25, 2.5], [w - 3.5, 4.0], [w - 8.0, 19.75]]), False, {}),
    ]


def build_project(
    tmp_path: Path,
    class_names: Sequence[str] = ("person", "car", "dog"),
    *,
    n_images: int = 4,
    size_hw: tuple[int, int] = (64, 96),
    suffix: str = ".png",
    category_ids: Sequence[int] | None = None,
    statuses: Sequence[ImageStatus] | None = None,
) -> Project:
    """A project in ``tmp_path/project`` whose images live in ``tmp_path/pictures`` (so stored
    paths start with ``..``), each image carrying :func:`shapes_for`."""
    ids = list(category_ids or range(1, len(class_names) + 1))
    categories = [Category(cid, name, f"#{(37 * cid) % 256:02x}40{(91 * cid) % 256:02x}") for cid, name in zip(ids, class_names)]
    (tmp_path / "project").mkdir(parents=True, exist_ok=True)
    project = Project.create(tmp_path / "project" / "p.segproj", categories)
    records = []
    for i in range(n_images):
        file = write_image(tmp_path / "pictures" / f"img_{i:02d}{suffix}", size_hw, seed=i)
        status = statuses[i] if statuses else ImageStatus.DONE
        records.append(Image(0, str(file), size_hw[1], size_hw[0], status))
    stored = project.add_images(records)
    annotations = []
    for k, image in enumerate(stored):
        for z, (position, geometry, crowd, attrs) in enumerate(shapes_for(size_hw, k)):
            category_id = ids[position % len(ids)]
            annotations.append(Annotation(0, image.id, category_id, geometry, z_order=z, iscrowd=crowd, attributes=attrs))
    project.add_annotations(annotations)
    return project


def dense(geometry, size_hw: tuple[int, int]) -> np.ndarray:
    """Our rasterization of any geometry as a bool array."""
    from annotations.formats.raster import geometry_mask

    return rle.decode(geometry_mask(geometry, size_hw))


def snapshot(project: Project) -> tuple:
    """Everything stored that an import could change (for "project unchanged" checks)."""
    return (
        project.revision,
        project.counts(),
        [(c.id, c.name) for c in project.categories()],
        [(im.id, im.path) for im in project.images()],
    )


def folder_state(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``folder`` (for "target unchanged" checks)."""
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
