"""Benchmark: the retrain-on-corrections loop with a simulated annotator.

The annotator finishes images in order, each by writing the ground truth (after looking at the
pre-labels the current model left on it). Every ``--every`` finished images the engine retrains
(warm start, promotion only if validation improves) and re-predicts the unfinished images. After
each round it prints, against the number of finished images:

* pre-label quality on the still-unfinished images: mask AP (COCO, instance models) or mIoU
  (semantic models), measured with ``annotations.metrics`` against the ground truth;
* the share of pre-labels an annotator would accept as is (IoU >= 0.8 with a ground-truth shape);
* the time from the trigger to the promoted model (training + validation + version row), and
  the time to re-predict.

The first row (0 finished) is the untrained model. Data sets:
``membrane`` (ISBI 2012 EM slices, semantic, default model ``unet``) and ``balloon`` (instance,
default model ``maskrcnn_resnet50_fpn``; pretrained COCO weights are used when in torchvision's
cache).

    .venv/bin/python bench/retrain_curve.py [--dataset membrane] [--images 12] [--every 3] [--epochs 2]

``--curve N,N,...`` instead trains once from scratch per count (default model ``unet_instances``)
and prints held-out instance AP50 with the training process's CPU and wall seconds; run one count
per process for a fair CPU figure on a shared machine (``--dataset nuclei|balloon``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from annotations.geometry import Mask, Polygon, mask_iou, masks_iou_matrix, polygon_to_mask, rle
from annotations.metrics.detection import coco_map
from annotations.metrics.semantic import confusion_matrix, semantic_metrics
from annotations.model import Annotation, Category, Image, ImageStatus, PredictionState
from annotations.store import Project
from engine.jobs.prelabel import run_prelabel
from engine.jobs.train import run_train
from engine.protocol import Device, Prelabel, Train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ACCEPT_IOU = 0.8


def membrane_data(folder: Path, count: int, size: int) -> tuple[Path, dict[int, list[Mask]]]:
    """A project of ``count`` NEW EM slices (cropped to ``size``) and the membrane masks."""
    path = folder / "membranes.segproj"
    project = Project.create(path, [Category(1, "membrane", "#ff0000", is_thing=False)])
    truth: dict[int, list[Mask]] = {}
    images = []
    for k in range(count):
        gray = cv2.imread(str(DATA / "isbi2012_membrane" / "train_image" / f"{k}.png"), cv2.IMREAD_GRAYSCALE)[:size, :size]
        label = cv2.imread(str(DATA / "isbi2012_membrane" / "train_label" / f"{k}.png"), cv2.IMREAD_GRAYSCALE)[:size, :size]
        cv2.imwrite(str(folder / f"slice{k}.png"), gray)
        images.append(Image(k + 1, f"slice{k}.png", gray.shape[1], gray.shape[0]))
        truth[k + 1] = [rle.encode(label < 128)]
    project.add_images(images)
    project.close()
    return path, truth


def balloon_data(folder: Path, count: int) -> tuple[Path, dict[int, list[Mask]]]:
    """A project of ``count`` NEW balloon photos (train then val split) and their masks."""
    from train import balloon_regions  # bench/train.py

    items = (balloon_regions("train") + balloon_regions("val"))[:count]
    path = folder / "balloons.segproj"
    project = Project.create(path, [Category(1, "balloon", "#e6194b")])
    truth: dict[int, list[Mask]] = {}
    images = []
    for k, (image_path, polygons) in enumerate(items, start=1):
        from PIL import Image as PILImage

        with PILImage.open(image_path) as im:
            width, height = im.size
        images.append(Image(k, str(image_path), width, height))
        truth[k] = [polygon_to_mask(Polygon.from_points(p), (height, width)) for p in polygons]
    project.add_images(images)
    project.close()
    return path, truth


def stratified_order(contents: list[str]) -> list[int]:
    """Row indices of ``contents`` (one kind per row, e.g. "gray"/"color") reordered so that every
    prefix holds each kind in proportion: a row's key is its rank within its kind over the kind's
    size, so the first half holds the first half of every kind. Stable within a kind.

    >>> stratified_order(["g", "g", "g", "g", "c", "c"])
    [0, 4, 1, 2, 5, 3]
    """
    sizes = {kind: contents.count(kind) for kind in contents}
    seen: dict[str, int] = {}
    keys = []
    for row, kind in enumerate(contents):
        rank = seen.get(kind, 0)
        seen[kind] = rank + 1
        keys.append(((rank + 0.5) / sizes[kind], row))
    return [row for _, row in sorted(keys)]


NUCLEI_ORDER = ["stratified"]  # set from --order


def nuclei_data(folder: Path, count: int) -> tuple[Path, dict[int, list[Mask]]]:
    """A project of ``count`` NEW DSB 2018 microscopy images and their nuclei, in INDEX.csv order
    (``--order index``: its 28 gray images, then its 12 colour H&E ones) or stratified by the
    INDEX's content column (default: every prefix, so the finished images and the held-out half
    alike, holds gray and colour images in the data set's proportion, 7:3)."""
    import csv

    root = DATA / "dsb2018_nuclei40"
    with (root / "INDEX.csv").open() as f:
        rows = list(csv.DictReader(f))
    if NUCLEI_ORDER[0] == "stratified":
        rows = [rows[r] for r in stratified_order([row["content"] for row in rows])]
    ids = [row["image_id"] for row in rows][:count]
    path = folder / "nuclei.segproj"
    project = Project.create(path, [Category(1, "nucleus", "#e6194b")])
    truth: dict[int, list[Mask]] = {}
    images = []
    for k, image_id in enumerate(ids, start=1):
        sample = root / "stage1_train" / image_id
        image_path = next((sample / "images").glob("*.png"))
        rgb = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
        local = folder / f"nucleus{k}.png"
        cv2.imwrite(str(local), rgb)  # drops the alpha channel some DSB files carry
        height, width = rgb.shape[:2]
        images.append(Image(k, local.name, width, height))
        truth[k] = [rle.encode(cv2.imread(str(m), cv2.IMREAD_GRAYSCALE) > 127)
                    for m in sorted((sample / "masks").glob("*.png"))]
    project.add_images(images)
    project.close()
    return path, truth


def quality(project: Project, truth: dict[int, list[Mask]], semantic: bool,
            only: set[int] | None = None) -> tuple[str, float | None, float | None]:
    """(metric name, value, accepted share) of the proposed pre-labels on unfinished images
    (``only``: just these image ids). Instance models also set :data:`LAST_AP50`."""
    unfinished = [i for i in project.images() if not i.status.is_finished and (only is None or i.id in only)]
    if not unfinished:
        return ("miou" if semantic else "mask AP"), None, None
    accepted, total = 0, 0
    if semantic:
        cm = np.zeros((2, 2), np.int64)
        for image in unfinished:
            preds = project.predictions(image.id, state=PredictionState.PROPOSED)
            gt = rle.decode(truth[image.id][0])
            pred = rle.decode(preds[0].geometry) if preds else np.zeros_like(gt)
            cm += confusion_matrix(gt.astype(np.uint8), pred.astype(np.uint8), 2)
            for p in preds:
                total += 1
                accepted += mask_iou(p.geometry, truth[image.id][0]) >= ACCEPT_IOU
        return "miou", semantic_metrics(cm).miou, (accepted / total if total else None)
    images, annotations, results = [], [], []
    for image in unfinished:
        images.append({"id": image.id, "width": image.width, "height": image.height})
        for m in truth[image.id]:
            annotations.append({"id": len(annotations) + 1, "image_id": image.id, "category_id": 1, "iscrowd": 0,
                                "area": float(rle.area(m)), "segmentation": m.to_coco(),
                                "bbox": list(rle.bbox(m).xywh)})
        preds = project.predictions(image.id, state=PredictionState.PROPOSED)
        masks = [p.geometry for p in preds if isinstance(p.geometry, Mask)]
        if masks:
            ious = masks_iou_matrix(masks, truth[image.id])
            total += len(masks)
            accepted += int((ious.max(axis=1) >= ACCEPT_IOU).sum()) if ious.size else 0
        results += [{"image_id": image.id, "category_id": 1, "score": p.score, "segmentation": p.geometry.to_coco()}
                    for p in preds if isinstance(p.geometry, Mask)]
    stats = coco_map({"images": images, "annotations": annotations, "categories": [{"id": 1}]}, results, "segm")
    LAST_AP50[0] = stats["AP50"]
    return "mask AP", stats["AP"], (accepted / total if total else None)


LAST_AP50: list[float | None] = [None]


def curve(args: argparse.Namespace) -> int:
    """Instance AP50 against the number of finished images: for each count, a fresh project whose
    first ``count`` images are finished, one training from scratch, then pre-labels (score >= 0.5)
    of the fixed held-out images scored against their ground truth. Prints CPU and wall seconds."""
    import os

    import torch

    torch.set_num_threads(args.threads)
    counts = [int(c) for c in args.curve.split(",")]
    loader = nuclei_data if args.dataset == "nuclei" else balloon_data
    print(f"{args.dataset}: model {args.model or 'unet_instances'}, held-out images {args.test_from}..{args.images}"
          f"{' (' + args.order + ' order)' if args.dataset == 'nuclei' else ''}, "
          f"{args.epochs} epochs x {args.iterations_per_epoch} iterations, batch {args.batch_size}, "
          f"{args.threads} torch thread(s), load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(" finished | AP50 held-out | mask AP | accepted | promoted | train CPU s | train wall s | load avg | input")
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            path, truth = loader(Path(tmp), args.images)
            with Project.open(path) as project:
                for image_id in range(1, count + 1):
                    finish(project, image_id, truth[image_id])
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = run_train(Train(str(path), model=args.model or "unet_instances", epochs=args.epochs,
                                     device=Device(args.device), batch_size=args.batch_size, seed=args.seed,
                                     iterations_per_epoch=args.iterations_per_epoch, reprelabel=False))
            cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
            held_out = set(range(args.test_from, args.images + 1))
            run_prelabel(Prelabel(str(path), model=str(result.model_version_id), image_ids=tuple(sorted(held_out)),
                                  device=Device(args.device), score_threshold=0.5))
            with Project.open(path) as project:
                _, value, share = quality(project, truth, False, held_out)
                trained_on = project.get_model_version(result.model_version_id).trained_on
            print(f"  {count:6d}  | {fmt(LAST_AP50[0])}        | {fmt(value)}  | {fmt(share)}   | "
                  f"{'yes' if result.promoted else 'no ':>3}      | {cpu_s:10.0f}  | {wall_s:11.0f}  | "
                  f"{os.getloadavg()[0]:.1f}     | {trained_on.get('input', '-')}", flush=True)
            print(f"           promotion: {result.metrics.get('promotion_reason')}", flush=True)
    return 0


def finish(project: Project, image_id: int, masks: list[Mask]) -> None:
    """The annotator's work on one image: the ground truth, then done."""
    project.add_annotations([Annotation(0, image_id, 1, m) for m in masks])
    project.put_image_status(image_id, ImageStatus.DONE)


def fmt(value: float | None) -> str:
    return "   -  " if value is None or value != value else f"{value:6.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=["membrane", "balloon", "nuclei"], default="membrane")
    parser.add_argument("--model", default="",
                        help="default: unet (membrane), maskrcnn_resnet50_fpn (balloon), unet_instances (nuclei, --curve)")
    parser.add_argument("--curve", default="", metavar="N,N,...",
                        help="instance AP50 vs finished images: train from scratch once per count (e.g. 5,10,20)")
    parser.add_argument("--test-from", type=int, default=21, help="--curve: held-out images are TEST_FROM..IMAGES")
    parser.add_argument("--threads", type=int, default=1, help="--curve: torch threads")
    parser.add_argument("--order", choices=["stratified", "index"], default="stratified",
                        help="nuclei: image order (stratified gray/colour, or INDEX.csv's: colour H&E last)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--every", type=int, default=3, help="retrain after this many newly finished images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--iterations-per-epoch", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--size", type=int, default=256, help="membrane: crop the slices to this side")
    parser.add_argument("--device", choices=[d.value for d in Device], default="auto")
    args = parser.parse_args()
    NUCLEI_ORDER[0] = args.order
    if args.curve:
        return curve(args)
    semantic = args.dataset == "membrane"
    model = args.model or {"membrane": "unet", "balloon": "maskrcnn_resnet50_fpn", "nuclei": "unet_instances"}[args.dataset]

    with tempfile.TemporaryDirectory() as tmp:
        loader = {"membrane": lambda f, n: membrane_data(f, n, args.size), "balloon": balloon_data,
                  "nuclei": nuclei_data}[args.dataset]
        path, truth = loader(Path(tmp), args.images)
        device = Device(args.device)
        run_prelabel(Prelabel(str(path), model=model, device=device, score_threshold=0.5,
                              allow_untrained=True))  # row 0: the untrained model, on purpose
        print(f"{args.dataset}: {args.images} images, model {model}, retrain every {args.every} finished images, "
              f"{args.epochs} epochs per round")
        print(" finished | pre-labels on unfinished images  | trigger -> promoted | re-predict | promoted")
        rows = []
        with Project.open(path) as project:
            name, value, share = quality(project, truth, semantic)
        print(f"  {0:6d}  | {name} {fmt(value)}  accepted {fmt(share)} |          -          |     -      | untrained")
        for k, image_id in enumerate(sorted(truth), start=1):
            with Project.open(path) as project:
                finish(project, image_id, truth[image_id])
            if k % args.every or k == len(truth) or k < 2:
                continue
            started = time.perf_counter()
            result = run_train(Train(str(path), model=model, epochs=args.epochs, device=device,
                                     batch_size=args.batch_size, iterations_per_epoch=args.iterations_per_epoch,
                                     reprelabel=True))
            total_s = time.perf_counter() - started
            repredict_s = result.prelabel.seconds if result.prelabel else 0.0
            with Project.open(path) as project:
                name, value, share = quality(project, truth, semantic)
            rows.append((k, value, share, total_s - repredict_s, repredict_s, result.promoted))
            print(f"  {k:6d}  | {name} {fmt(value)}  accepted {fmt(share)} | {total_s - repredict_s:15.1f} s "
                  f"| {repredict_s:8.1f} s | {'yes' if result.promoted else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
