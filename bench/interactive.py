"""Benchmark: interactive segmentation, every available method side by side with GrabCut.

For each method: the image-embedding time (SAM; GrabCut has none), the per-click latency
(median, p95) and a simulated annotator's NoC@85 / NoC@90 (RITM protocol, box first): the box of
the object's extent, then a click at the centre (farthest from the border) of the largest error
region, positive on a miss and negative on a false alarm, until the IoU reaches the target or
``--max-clicks`` interactions are spent (counted as ``--max-clicks`` then). The box is the first
interaction (``--first click``: clicks only, the first at the object's centre). Data: real
photos and annotations in ``../shared/data``: balloons (VIA polygons, photos scaled to at most
2 MP), DSB 2018 nuclei (one PNG per nucleus) and labelme's instance examples (COCO conversion).

Methods: ``grabcut`` (``engine.interactive.grabcut_mask``, what answers without weights); every
SAM model whose weight file is in the cache (``main.py weights fetch NAME``) or given with
``--sam-weights NAME=FILE``; and ``--random-sam`` (SAM 2.1 tiny and the light EfficientViT-SAM L0
with seeded random weights, each whose package is installed: their latency is real, their masks
and so their NoC are meaningless). SAM runs through the product path (``engine.sam.lane.SamLane``:
cached embedding, previous mask as refinement prompt). For SAM the decoder pass alone (prompt
encoder + mask decoder, what the ``<= 50 ms`` goal is about) is timed apart from the whole click
(which adds mask upsampling to the image and sorting). The load average is printed before and
after: on a shared machine wall times mean little, CPU times more.

    .venv/bin/python bench/interactive.py [--threads 2] [--objects 12] [--max-clicks 10] [--random-sam]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.geometry import Polygon, polygon_to_mask, rle
from engine.interactive import grabcut_mask

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TWO_MEGAPIXELS = 2_000_000
Point = tuple[float, float]


@dataclass
class Sample:
    source: str
    image_key: str
    rgb: np.ndarray
    truth: np.ndarray  # (H, W) bool


@dataclass
class Tally:
    embed_s: list[float] = field(default_factory=list)
    embed_cpu_s: list[float] = field(default_factory=list)
    click_ms: list[float] = field(default_factory=list)
    click_cpu_ms: list[float] = field(default_factory=list)
    decoder_ms: list[float] = field(default_factory=list)
    decoder_cpu_ms: list[float] = field(default_factory=list)
    noc85: list[int] = field(default_factory=list)
    noc90: list[int] = field(default_factory=list)
    first_iou: list[float] = field(default_factory=list)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def balloons(count: int) -> list[Sample]:
    folder = SHARED / "balloon_via" / "val"
    regions = json.loads((folder / "via_region_data.json").read_text())
    out: list[Sample] = []
    for entry in regions.values():
        bgr = cv2.imread(str(folder / entry["filename"]))
        scale = min(1.0, (TWO_MEGAPIXELS / (bgr.shape[0] * bgr.shape[1])) ** 0.5)
        rgb = cv2.cvtColor(cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        for region in list(entry["regions"].values())[:2]:
            shape = region["shape_attributes"]
            pts = np.stack([np.asarray(shape["all_points_x"]) + 0.5, np.asarray(shape["all_points_y"]) + 0.5], 1) * scale
            truth = rle.decode(polygon_to_mask(Polygon.from_points(pts), rgb.shape[:2]))
            if truth.sum() >= 400:
                out.append(Sample("balloons", entry["filename"], rgb, truth))
        if len(out) >= count:
            return out[:count]
    return out


def nuclei(count: int) -> list[Sample]:
    folder = SHARED / "dsb2018_nuclei40" / "stage1_train"
    out: list[Sample] = []
    for image_dir in sorted(folder.iterdir())[:6]:
        bgr = cv2.imread(str(next((image_dir / "images").glob("*.png"))), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        masks = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0 for p in sorted((image_dir / "masks").glob("*.png"))]
        masks = sorted((m for m in masks if m.sum() >= 150), key=lambda m: -int(m.sum()))
        out += [Sample("nuclei", image_dir.name, rgb, m) for m in masks[:2]]
        if len(out) >= count:
            return out[:count]
    return out


def labelme(count: int) -> list[Sample]:
    from pycocotools import mask as coco_mask

    folder = SHARED / "labelme_examples" / "instance_segmentation" / "data_dataset_coco"
    data = json.loads((folder / "annotations.json").read_text())
    images = {im["id"]: im for im in data["images"]}
    out: list[Sample] = []
    cache: dict[int, np.ndarray] = {}
    for ann in sorted(data["annotations"], key=lambda a: -a["area"]):
        im = images[ann["image_id"]]
        if ann["image_id"] not in cache:
            bgr = cv2.imread(str(folder / im["file_name"]))
            cache[ann["image_id"]] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rgb = cache[ann["image_id"]]
        rles = coco_mask.frPyObjects(ann["segmentation"], rgb.shape[0], rgb.shape[1])
        truth = coco_mask.decode(coco_mask.merge(rles)).astype(bool)
        out.append(Sample("labelme", im["file_name"], rgb, truth))
        if len(out) >= count:
            break
    return out


def next_click(mask: np.ndarray, truth: np.ndarray) -> tuple[Point, bool]:
    """The centre of the largest error region (farthest from its border) and whether the click
    is positive (a missed part of the object) or negative (a false alarm)."""
    best: tuple[float, Point, bool] = (-1.0, (0.0, 0.0), True)
    for region, positive in ((truth & ~mask, True), (mask & ~truth, False)):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(region.astype(np.uint8), connectivity=8)
        if count <= 1:
            continue
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        blob = np.pad(labels == largest, 1).astype(np.uint8)
        dist = cv2.distanceTransform(blob, cv2.DIST_L2, 5)[1:-1, 1:-1]
        row, col = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if dist[row, col] > best[0]:
            best = (float(dist[row, col]), (col + 0.5, row + 0.5), positive)
    return best[1], best[2]


Segmenter = Callable[[Sample, Sequence[float] | None, list[Point], list[Point]], np.ndarray]
Preparer = Callable[[Sample], None]


@dataclass
class Method:
    name: str
    segment: Segmenter
    prepare: Preparer | None = None  # untimed per-image work done when the image opens (SAM's embedding)
    embed_log: list[tuple[float, float]] = field(default_factory=list)  # (wall s, CPU s) per new embedding
    decoder_log: list[tuple[float, float]] = field(default_factory=list)  # (wall ms, CPU ms) per decoder pass


def simulate(sample: Sample, method: Method, tally: Tally, max_clicks: int, first: str = "box") -> None:
    """One object: ``first`` "box" (the object's extent, then clicks) or "click" (clicks only, the
    first at the object's centre)."""
    if method.prepare is not None:
        method.prepare(sample)
    segment = method.segment
    ys, xs = np.nonzero(sample.truth)
    box: tuple[float, float, float, float] | None = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
    positive: list[Point] = []
    negative: list[Point] = []
    if first == "click":
        box = None
        positive.append(next_click(np.zeros_like(sample.truth), sample.truth)[0])
    noc85 = noc90 = max_clicks
    for interaction in range(1, max_clicks + 1):
        started, cpu = time.perf_counter(), time.process_time()
        mask = segment(sample, box, positive, negative)
        tally.click_ms.append((time.perf_counter() - started) * 1000)
        tally.click_cpu_ms.append((time.process_time() - cpu) * 1000)
        score = iou(mask, sample.truth)
        if interaction == 1:
            tally.first_iou.append(score)
        if score >= 0.85:
            noc85 = min(noc85, interaction)
        if score >= 0.90:
            noc90 = interaction
            break
        point, is_positive = next_click(mask, sample.truth)
        (positive if is_positive else negative).append(point)
    tally.noc85.append(noc85)
    tally.noc90.append(noc90)


def grabcut_segmenter(sample: Sample, box: Sequence[float] | None, positive: list[Point], negative: list[Point]) -> np.ndarray:
    return grabcut_mask(sample.rgb, box_xyxy=box, positive=positive, negative=negative)


def sam_method(label: str, name: str, weights: str | None, random_weights: bool) -> Method:
    """SAM through the product path; the embedding of each object's image is computed (or found
    cached) before its first prompt, outside the click timing, and its seconds logged: as in the
    GUI, where the embedding is prepared when the image opens."""
    import torch

    from engine.sam.catalog import find_model
    from engine.sam.lane import SamLane
    from engine.sam.model import build_network
    from engine.sam.predictor import SamPredictor

    lane = SamLane()
    if random_weights:
        torch.manual_seed(0)
        predictor = SamPredictor(build_network(find_model(name)), name=name, cache=lane.cache)
    else:
        predictor = SamPredictor.from_weights(name, weights, cache=lane.cache)

    method = Method(label, lambda *_: np.zeros(0, bool))
    decode = predictor.backend.decode

    def timed_decode(*args: object, **kwargs: object) -> object:
        started, cpu = time.perf_counter(), time.process_time()
        out = decode(*args, **kwargs)  # type: ignore[arg-type]
        method.decoder_log.append(((time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000))
        return out

    predictor.backend.decode = timed_decode  # type: ignore[method-assign,assignment]

    def prepare(sample: Sample) -> None:
        cpu = time.process_time()
        wall = lane.prepare(predictor, sample.image_key, sample.rgb)
        if wall > 0:  # 0: found in the cache
            method.embed_log.append((wall, time.process_time() - cpu))

    def segment(sample: Sample, box: Sequence[float] | None, positive: list[Point], negative: list[Point]) -> np.ndarray:
        answer = lane.segment(predictor, sample.image_key, sample.rgb, box, positive, negative)
        return answer.full_mask(0)

    method.segment, method.prepare = segment, prepare
    return method


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


HEADER = (f"{'method':<36} {'embed':>9} {'emb cpu':>7} {'emb p95':>7} {'click ms':>8} {'p95 ms':>7} {'cpu med':>7} {'cpu p95':>7}"
          f" {'dec ms':>6} {'dec p95':>7} {'dec cpu':>7} {'dec cpu95':>9} {'1st IoU':>7} {'NoC@85':>6} {'NoC@90':>6}"
          f" {'n':>3}")


def summary(name: str, tally: Tally) -> str:
    embeds = [s for s in tally.embed_s if s > 0]
    embed = f"{statistics.median(embeds):6.2f} s" if embeds else "     - "
    if tally.embed_cpu_s:
        embed += f" {statistics.median(tally.embed_cpu_s):6.2f}s {p95(tally.embed_cpu_s):6.2f}s"
    else:
        embed += f" {'-':>7} {'-':>7}"
    if tally.decoder_ms:
        decoder = (f" {statistics.median(tally.decoder_ms):6.0f} {p95(tally.decoder_ms):7.0f}"
                   f" {statistics.median(tally.decoder_cpu_ms):7.0f} {p95(tally.decoder_cpu_ms):9.0f}")
    else:
        decoder = f" {'-':>6} {'-':>7} {'-':>7} {'-':>9}"
    return (f"{name:<36} {embed:>25} {statistics.median(tally.click_ms):8.0f} {p95(tally.click_ms):7.0f}"
            f" {statistics.median(tally.click_cpu_ms):7.0f} {p95(tally.click_cpu_ms):7.0f}{decoder}"
            f" {statistics.mean(tally.first_iou):7.3f} {statistics.mean(tally.noc85):6.2f}"
            f" {statistics.mean(tally.noc90):6.2f} {len(tally.noc90):3d}")


def load_average() -> str:
    """The machine's 1/5/15-minute load averages (as ``uptime`` prints them)."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2,
                        help="torch/OpenCV threads (the target laptop: 2 cores; use 1 on a machine busy with other work:"
                             " 2 OpenMP threads on oversubscribed cores spin-wait and run many times slower)")
    parser.add_argument("--objects", type=int, default=12, help="objects per data set")
    parser.add_argument("--max-clicks", type=int, default=10)
    parser.add_argument("--random-sam", action="store_true",
                        help="add random-weight SAM 2.1 tiny and EfficientViT-SAM L0 (latency only)")
    parser.add_argument("--sam-weights", action="append", default=[], metavar="NAME=FILE")
    parser.add_argument("--sets", default="balloons,nuclei,labelme")
    parser.add_argument("--first", choices=["box", "click"], default="box",
                        help="the first interaction: the object's box (then clicks), or a click at its centre (clicks only)")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"no real data at {SHARED}", file=sys.stderr)
        return 2
    cv2.setNumThreads(args.threads)
    loaders = {"balloons": balloons, "nuclei": nuclei, "labelme": labelme}
    samples = [s for name in args.sets.split(",") for s in loaders[name](args.objects)]
    methods: list[Method] = [Method("grabcut", grabcut_segmenter)]
    try:
        import torch

        torch.set_num_threads(args.threads)
        from engine.models.weight_files import cache_path, is_cached
        from engine.sam.catalog import SAM_MODELS, find_model

        given = dict(item.split("=", 1) for item in args.sam_weights)
        for model in SAM_MODELS:
            if model.name in given or is_cached(model.weight_file):
                weights = given.get(model.name) or str(cache_path(model.weight_file))
                methods.append(sam_method(model.name, model.name, weights, False))
        if args.random_sam:
            import importlib.util

            for name in ("sam2.1_hiera_tiny", "efficientvit_sam_l0"):
                package = find_model(name).family.package
                if importlib.util.find_spec(package) is None:
                    print(f"{name}: package {package!r} not installed; skipped", file=sys.stderr)
                    continue
                methods.append(sam_method(f"{name} RANDOM weights", name, None, True))
    except ImportError as exc:
        print(f"SAM not available ({exc}); GrabCut only", file=sys.stderr)
    print(f"{len(samples)} objects ({args.sets}), first interaction: {args.first}, up to {args.max_clicks} interactions each,"
          f" {args.threads} threads; load average {load_average()}")
    for source in dict.fromkeys(s.source for s in samples):
        subset = [s for s in samples if s.source == source]
        print(f"\n{source}: {len(subset)} objects, images {sorted({s.rgb.shape[:2] for s in subset})[:3]}")
        print(HEADER)
        for method in methods:
            tally = Tally()
            method.embed_log.clear()
            method.decoder_log.clear()
            for sample in subset:
                simulate(sample, method, tally, args.max_clicks, args.first)
            tally.embed_s = [wall for wall, _ in method.embed_log]
            tally.embed_cpu_s = [cpu for _, cpu in method.embed_log]
            tally.decoder_ms = [wall for wall, _ in method.decoder_log]
            tally.decoder_cpu_ms = [cpu for _, cpu in method.decoder_log]
            print(summary(method.name, tally), flush=True)
    print("\nclick ms: wall time per interaction (median, p95); cpu: process CPU time (all threads), less"
          " sensitive to a busy machine. dec: the SAM decoder pass alone (prompt encoder + mask decoder), wall"
          " median/p95 and CPU median/p95. embed: wall median, then CPU median and p95, seconds per new image"
          " (SAM; cached afterwards).")
    print(f"load average at the end: {load_average()}")
    if args.random_sam:
        print("SAM with RANDOM weights: its latency is real; its masks (and so 1st IoU and NoC) are meaningless.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
