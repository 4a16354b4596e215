"""Build the bundled sample project ``resources/sample/sample.segproj`` (deterministic).

Six CC0 microscopy images from the 2018 Data Science Bowl (stage1_train, via
``../shared/data/dsb2018_nuclei40``) are copied to ``resources/sample/images/`` and annotated
from their per-nucleus ground-truth masks, one image per geometry kind:

1. colour, 12 nuclei: polygons traced from the masks            — status done
2. grey 360 px, 18 nuclei: RLE masks                              — status done
3. grey, 11 nuclei: boxes                                        — status in_progress
4. colour, 15 nuclei: polygons, plus one "debris" polygon with a hole and a two-part one
                                                                 — status in_progress
5, 6. grey: not annotated                                        — status new

    .venv/bin/python resources/sample/build_sample.py [--source DIR] [--force]

The same source gives the same content (ids, geometries, timestamps). The images keep their
original bytes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT))

from annotations.geometry import Polygon, PolygonPart, mask_to_polygon, rle  # noqa: E402
from annotations.model import Annotation, Category, Image, ImageStatus  # noqa: E402
from annotations.store import Project  # noqa: E402

DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data" / "dsb2018_nuclei40"
PROJECT = HERE / "sample.segproj"
TIMESTAMP = "2026-01-01T00:00:00.000+00:00"
NUCLEUS, DEBRIS = 1, 2
CATEGORIES = [
    Category(NUCLEUS, "nucleus", "#e6194b", "cell", True),
    Category(DEBRIS, "debris", "#3cb44b", "", True),
]
# (source image id, file name, how its nuclei are annotated, status)
IMAGES = [
    ("4193474b2f1c72f735b13633b219d9cabdd43c21d9c2bb4dfc4809f104ba4c06", "nuclei_01_colour.png", "polygon", ImageStatus.DONE),
    ("57b49733c5a3c268b013553635a826e6a1b10e699bbd19c3b842375fe0adf344", "nuclei_02_grey.png", "mask", ImageStatus.DONE),
    ("1b2bf5933b0fb82918d278983bee66e9532b53807c3638efd9af66d20a2bae88", "nuclei_03_grey.png", "box", ImageStatus.IN_PROGRESS),
    (
        "4d4f254f3b8b4408d661df3735591554b2f6587ce1952928d619b48010d55467",
        "nuclei_04_colour.png",
        "polygon+debris",
        ImageStatus.IN_PROGRESS,
    ),
    ("8ecdb93582b2d5270457b36651b62776256ade3aaa2d7432ae65c14f07432d49", "nuclei_05_grey.png", "none", ImageStatus.NEW),
    ("3d0ca3498d97edebd28dbc7035eced40baa4af199af09cbb7251792accaa69fe", "nuclei_06_grey.png", "none", ImageStatus.NEW),
]


def _nucleus_masks(source: Path, image_id: str) -> list[np.ndarray]:
    folder = source / "stage1_train" / image_id / "masks"
    return [np.asarray(PILImage.open(path)) > 0 for path in sorted(folder.glob("*.png"))]


def _debris_shapes(size_hw: tuple[int, int]) -> list[Polygon]:
    """A ring-shaped piece of debris (an octagon with an octagonal hole) and a two-part one,
    placed in the lower-left corner."""
    h, _w = size_hw
    angles = np.arange(8) * np.pi / 4 + np.pi / 8
    unit = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    centre = np.array([30.0, h - 30.0])
    ring = Polygon.from_points(np.round(centre + 18 * unit, 2), [np.round(centre + 7 * unit, 2)[::-1]])
    two_parts = Polygon(
        (
            PolygonPart(np.array([[60.0, h - 20.0], [72.0, h - 24.0], [70.0, h - 12.0]])),
            PolygonPart(np.array([[78.0, h - 18.0], [90.0, h - 20.0], [86.0, h - 8.0], [76.0, h - 10.0]])),
        )
    )
    return [ring, two_parts]


def build(source: Path, project_path: Path = PROJECT, *, force: bool = False) -> Path:
    """Copy the images and write the project file; returns its path."""
    if not (source / "stage1_train").is_dir():
        raise SystemExit(f"{source}: the dsb2018_nuclei40 data folder is missing")
    if project_path.exists():
        if not force:
            raise SystemExit(f"{project_path} exists (use --force to rebuild it)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{project_path}{suffix}").unlink(missing_ok=True)
    images_dir = project_path.parent / "images"
    images_dir.mkdir(exist_ok=True)

    annotations: list[Annotation] = []
    images: list[Image] = []
    for image_id, (source_id, name, kind, status) in enumerate(IMAGES, start=1):
        shutil.copyfile(source / "stage1_train" / source_id / "images" / f"{source_id}.png", images_dir / name)
        with PILImage.open(images_dir / name) as picture:
            width, height = picture.size
        images.append(Image(image_id, f"images/{name}", width, height, status, {"source": f"dsb2018 stage1_train {source_id}"}))
        if kind == "none":
            continue
        for z, dense in enumerate(_nucleus_masks(source, source_id)):
            if kind == "mask":
                geometry = rle.encode(dense)
            elif kind == "box":
                geometry = rle.bbox(rle.encode(dense))
            else:
                geometry = mask_to_polygon(rle.encode(dense), tolerance=0.5)
            annotations.append(
                Annotation(0, image_id, NUCLEUS, geometry, z_order=z, created=TIMESTAMP, modified=TIMESTAMP, author="sample")
            )
        if kind == "polygon+debris":
            for shape in _debris_shapes((height, width)):
                annotations.append(
                    Annotation(0, image_id, DEBRIS, shape, z_order=100, created=TIMESTAMP, modified=TIMESTAMP, author="sample")
                )

    with Project.create(project_path, CATEGORIES) as project, project.transaction():
        project.add_images(images)
        project.add_annotations(annotations)
        project.set_setting("sample", {"source": "dsb2018_nuclei40 (CC0)", "builder": "resources/sample/build_sample.py"})
    return project_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the dsb2018_nuclei40 folder")
    parser.add_argument("--output", type=Path, default=PROJECT, help="the project file to write")
    parser.add_argument("--force", action="store_true", help="replace an existing project file")
    args = parser.parse_args()
    path = build(args.source, args.output, force=args.force)
    with Project.open(path, readonly=True) as project:
        print(f"wrote {path}: {project.counts()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
