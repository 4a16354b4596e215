"""Benchmark of the project store against one labelme-style JSON file per image.

Measures, in one run and on the same data:

1. the median commit time of one undoable edit (``execute(AddAnnotation)``,
   ``execute(UpdateAnnotation)`` with a new polygon, ``undo()``) on a project that already holds
   the full data set, and
2. the time to open a project with N images and M polygons and load every image record and
   every annotation into memory (``Project.open`` + ``images()`` + ``annotations()``), beside
   the same data as one labelme-style JSON file per image, read the same way (``json.load``
   every file, build the same ``Image``/``Annotation``/``Polygon`` objects).

Goal (issue 2): <= 5 ms per edit; opening faster than the JSON baseline and <= 1 s.

    .venv/bin/python bench/store.py [--images 10000] [--polygons 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.geometry import Polygon, PolygonPart
from annotations.model import AddAnnotation, Annotation, Category, Image, UpdateAnnotation
from annotations.store import Project

IMAGE_W, IMAGE_H = 1280, 960
CATEGORIES = [Category(i, f"class{i}", "#%06x" % (i * 0x101010 % 0xFFFFFF)) for i in range(1, 11)]


def random_polygon(rng: np.random.Generator) -> np.ndarray:
    """A star-shaped (so simple) polygon of 8..40 vertices, as an (N, 2) float array."""
    n = int(rng.integers(8, 41))
    cx, cy = rng.uniform(60, IMAGE_W - 60), rng.uniform(60, IMAGE_H - 60)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(10, 50, n)
    return np.round(np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1), 2)


def build_data(n_images: int, n_polygons: int, seed: int = 0) -> tuple[list[Image], list[list[np.ndarray]]]:
    rng = np.random.default_rng(seed)
    images = [Image(i + 1, f"images/{i + 1:06d}.jpg", IMAGE_W, IMAGE_H) for i in range(n_images)]
    per_image = [[] for _ in range(n_images)]
    for k in range(n_polygons):
        per_image[k % n_images].append(random_polygon(rng))
    return images, per_image


def write_project(path: Path, images: list[Image], per_image: list[list[np.ndarray]]) -> None:
    with Project.create(path, CATEGORIES) as project, project.transaction():
        project.add_images(images)
        annotations = []
        for image, polygons in zip(images, per_image):
            for j, points in enumerate(polygons):
                annotations.append(
                    Annotation(0, image.id, 1 + j % len(CATEGORIES), Polygon.from_points(points), z_order=j)
                )
        project.add_annotations(annotations)


def write_labelme(folder: Path, images: list[Image], per_image: list[list[np.ndarray]]) -> None:
    folder.mkdir()
    for image, polygons in zip(images, per_image):
        doc = {
            "version": "5.4.1",
            "flags": {},
            "shapes": [
                {
                    "label": CATEGORIES[j % len(CATEGORIES)].name,
                    "points": points.tolist(),
                    "group_id": None,
                    "description": "",
                    "shape_type": "polygon",
                    "flags": {},
                }
                for j, points in enumerate(polygons)
            ],
            "imagePath": Path(image.path).name,
            "imageData": None,
            "imageHeight": image.height,
            "imageWidth": image.width,
        }
        (folder / f"{image.id:06d}.json").write_text(json.dumps(doc))


def load_store(path: Path) -> tuple[int, int]:
    with Project.open(path) as project:
        images = project.images()
        annotations = project.annotations()
    return len(images), len(annotations)


def load_labelme(folder: Path) -> tuple[int, int]:
    """Read every JSON file and build the same objects the store returns (with the store's
    tricks: the trusted polygon constructors and the garbage collector paused)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_labelme(folder)
    finally:
        gc.freeze()
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _load_labelme(folder: Path) -> tuple[int, int]:
    category_ids = {c.name: c.id for c in CATEGORIES}
    images: list[Image] = []
    annotations: list[Annotation] = []
    next_id = 1
    for index, name in enumerate(sorted(os.listdir(folder)), start=1):
        with open(folder / name, encoding="utf-8") as handle:
            doc = json.load(handle)
        images.append(Image(index, f"images/{doc['imagePath']}", doc["imageWidth"], doc["imageHeight"]))
        for z, shape in enumerate(doc["shapes"]):
            # The same trusted (already-validated) construction path the store uses.
            ring = np.asarray(shape["points"], dtype=np.float64)
            ring.setflags(write=False)
            geometry = Polygon.unchecked((PolygonPart.unchecked(ring),))
            annotations.append(
                Annotation(next_id, index, category_ids[shape["label"]], geometry, z, False, {}, "human", None, "", "", "")
            )
            next_id += 1
    return len(images), len(annotations)


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def timed_cpu(fn, *args) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result): on a shared machine the CPU time
    is the steadier figure."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_edits(path: Path, count: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    add_ms, update_ms, undo_ms = [], [], []
    with Project.open(path) as project:
        for k in range(count):
            annotation = Annotation(0, 1 + k % 100, 1, Polygon.from_points(random_polygon(rng)))
            start = time.perf_counter()
            done = project.execute(AddAnnotation(annotation))
            add_ms.append((time.perf_counter() - start) * 1e3)
            new_geometry = Polygon.from_points(random_polygon(rng))
            start = time.perf_counter()
            project.execute(UpdateAnnotation(done.annotation.id, {"geometry": new_geometry}, "Move vertex"))
            update_ms.append((time.perf_counter() - start) * 1e3)
        for _ in range(count):
            start = time.perf_counter()
            project.undo()
            undo_ms.append((time.perf_counter() - start) * 1e3)
    return {
        "add": statistics.median(add_ms),
        "update": statistics.median(update_ms),
        "undo": statistics.median(undo_ms),
        "add_p95": float(np.percentile(add_ms, 95)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--polygons", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed loads of each kind (median reported)")
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp_path = Path(tmp)
        images, per_image = build_data(args.images, args.polygons)
        vertices = sum(len(p) for ps in per_image for p in ps)
        print(f"data: {args.images} images, {args.polygons} polygons, {vertices} vertices")
        build_s, _ = timed(write_project, tmp_path / "bench.segproj", images, per_image)
        json_s, _ = timed(write_labelme, tmp_path / "labelme", images, per_image)
        store_mb = (tmp_path / "bench.segproj").stat().st_size / 1e6
        json_mb = sum(f.stat().st_size for f in (tmp_path / "labelme").iterdir()) / 1e6
        print(f"write: store {build_s:.2f} s ({store_mb:.1f} MB), labelme JSON {json_s:.2f} s ({json_mb:.1f} MB)")

        store_wall, store_cpu, json_wall, json_cpu = [], [], [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine load and cache
            wall, cpu, counts_store = timed_cpu(load_store, tmp_path / "bench.segproj")
            store_wall.append(wall)
            store_cpu.append(cpu)
            wall, cpu, counts_json = timed_cpu(load_labelme, tmp_path / "labelme")
            json_wall.append(wall)
            json_cpu.append(cpu)
        assert counts_store == counts_json == (args.images, args.polygons), (counts_store, counts_json)
        med = statistics.median
        print(
            f"open + load all (median of {args.repeat}): store {med(store_wall):.3f} s wall / {med(store_cpu):.3f} s CPU, "
            f"labelme JSON baseline {med(json_wall):.3f} s wall / {med(json_cpu):.3f} s CPU; "
            f"ratio baseline/store {med(json_wall) / med(store_wall):.2f}x wall, {med(json_cpu) / med(store_cpu):.2f}x CPU "
            f"(goal: store faster and <= 1 s)"
        )

        edits = bench_edits(tmp_path / "bench.segproj", args.edits)
        print(
            f"one edit (median of {args.edits}, project of {args.polygons} polygons): "
            f"AddAnnotation {edits['add']:.2f} ms (p95 {edits['add_p95']:.2f}), "
            f"UpdateAnnotation {edits['update']:.2f} ms, undo {edits['undo']:.2f} ms  (goal <= 5 ms)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
