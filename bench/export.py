"""Benchmark of the COCO exporter against a plain per-mask pycocotools loop.

Builds (untimed) a project of N synthetic 1080p images x M RLE masks (blobs of varied size),
then times, in the same run and on the same masks:

1. baseline: the plain script everyone writes — for each mask ``pycocotools.mask.area`` and
   ``toBbox``, build the annotation dict, ``json.dump`` the document;
2. ``export_coco`` with 1 worker (reads the project file, area/bbox, writes the JSON);
3. ``export_coco`` with 2 workers (processes).

Prints masks/s for each, the ratio of (2) to the baseline and the speed-up of (3) over (2),
plus the CPU seconds of the parent and the workers in (3): on a busy machine the wall-clock
speed-up cannot show, the serial share can.
Goal (issue 3): >= 1,000 masks/s per core and >= 1.8x with both cores.

    .venv/bin/python bench/export.py [--images 2000] [--masks 50] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.formats import ExportOptions
from annotations.formats.coco import export_coco
from annotations.geometry import Mask
from annotations.model import Annotation, Category, Image
from annotations.store import Project

HEIGHT, WIDTH = 1080, 1920


def mask_pool(count: int, seed: int = 0) -> list[Mask]:
    """Varied blobs: unions of 1-3 ellipses of 10-250 px radius, encoded once."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    pool = []
    for _ in range(count):
        blob = np.zeros((HEIGHT, WIDTH), dtype=bool)
        cx, cy = rng.uniform(150, WIDTH - 150), rng.uniform(150, HEIGHT - 150)
        for _ in range(int(rng.integers(1, 4))):
            rx, ry = rng.uniform(10, 250, size=2)
            ox, oy = rng.normal(0, 40, size=2)
            blob |= ((xx - cx - ox) / rx) ** 2 + ((yy - cy - oy) / ry) ** 2 <= 1
        encoded = mask_utils.encode(np.asfortranarray(blob.astype(np.uint8)))
        pool.append(Mask((HEIGHT, WIDTH), encoded["counts"]))
    return pool


def build(folder: Path, n_images: int, n_masks: int, pool: list[Mask]) -> Project:
    project = Project.create(folder / "bench.segproj", [Category(i, f"class{i}") for i in range(1, 11)])
    images = project.add_images([Image(0, f"images/{i:06d}.jpg", WIDTH, HEIGHT) for i in range(n_images)])
    batch = []
    for image in images:
        for k in range(n_masks):
            batch.append(Annotation(0, image.id, 1 + k % 10, pool[(image.id * 7 + k * 13) % len(pool)]))
        if len(batch) >= 20_000:
            project.add_annotations(batch)
            batch = []
    if batch:
        project.add_annotations(batch)
    return project


def baseline(project: Project, out: Path) -> float:
    """Seconds of the plain loop over masks already in memory (loading them is not timed)."""
    images = project.images()
    per_image = {im.id: [(a.id, a.category_id, a.geometry) for a in project.annotations(im.id)] for im in images}
    start = time.perf_counter()
    annotations = []
    for image in images:
        for ann_id, category_id, mask in per_image[image.id]:
            rle = {"size": [image.height, image.width], "counts": mask.counts}
            annotations.append({
                "id": ann_id, "image_id": image.id, "category_id": category_id,
                "segmentation": {"size": rle["size"], "counts": mask.counts.decode("ascii")},
                "area": float(mask_utils.area(rle)), "bbox": mask_utils.toBbox(rle).tolist(), "iscrowd": 0,
            })
    document = {"images": [{"id": im.id, "file_name": im.path, "width": im.width, "height": im.height} for im in images],
                "annotations": annotations, "categories": [{"id": c.id, "name": c.name} for c in project.categories()]}
    with open(out, "w") as handle:
        json.dump(document, handle)
    return time.perf_counter() - start


CPU = {"parent": 0.0, "workers": 0.0}


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed_export(project: Project, out: Path, workers: int) -> float:
    """Wall seconds of one export; parent and worker CPU seconds go to ``CPU``."""
    parent, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    export_coco(project, out, ExportOptions(workers=workers, overwrite=True))
    wall = time.perf_counter() - start
    CPU["parent"], CPU["workers"] = _cpu(resource.RUSAGE_SELF) - parent, _cpu(resource.RUSAGE_CHILDREN) - children
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--masks", type=int, default=50, help="masks per image")
    parser.add_argument("--pool", type=int, default=300, help="distinct synthetic masks")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        pool = mask_pool(args.pool)
        project = build(tmp, args.images, args.masks, pool)
        total = args.images * args.masks
        mean_counts = np.mean([len(m.counts) for m in pool])
        print(f"built {args.images} images x {args.masks} masks at {HEIGHT}x{WIDTH} "
              f"(mean RLE {mean_counts:.0f} bytes) in {time.perf_counter() - t0:.1f} s; cpu cores: {os.cpu_count()}")
        base = min(baseline(project, tmp / "baseline.json") for _ in range(args.repeat))
        one = min(timed_export(project, tmp / "one", 1) for _ in range(args.repeat))
        one_cpu = CPU["parent"]
        two = min(timed_export(project, tmp / "two", 2) for _ in range(args.repeat))
        serial_cpu, worker_cpu = CPU["parent"], CPU["workers"]
        first, second = (tmp / name / "annotations" / "instances_train.json" for name in ("one", "two"))
        same = first.read_bytes() == second.read_bytes()
        project.close()
    print(f"baseline pycocotools loop : {total / base:10.0f} masks/s  ({base:.2f} s)")
    print(f"export_coco, 1 worker     : {total / one:10.0f} masks/s  ({one:.2f} s)  ratio vs baseline {base / one:.2f}x")
    print(f"export_coco, 2 workers    : {total / two:10.0f} masks/s  ({two:.2f} s)  speed-up vs 1 worker {one / two:.2f}x")
    print(f"outputs identical: {same}")
    # Wall-clock speed-up needs two idle cores; the CPU accounting shows what the code allows.
    projected = one_cpu / (serial_cpu + worker_cpu / 2)
    print(f"cpu: 1 worker {one_cpu:.2f} s; 2 workers: parent {serial_cpu:.2f} s + workers {worker_cpu:.2f} s "
          f"-> projected speed-up on 2 idle cores {projected:.2f}x (load average now {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
