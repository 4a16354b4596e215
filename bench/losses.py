"""Benchmark: per-class IoU of a U-Net trained with cross-entropy vs class-weighted cross-entropy
vs cross-entropy + Dice (and soft Dice alone with ``--losses``), same seeds, same budget.

Data (``../shared/data``):

* ``membranes`` — ISBI 2012 EM slices, 2 classes: 0 background (label 255), 1 membrane
  (label 0, ~22 % of the pixels). Slices 0-23 train, 24-29 validate, full 512 px.
* ``street`` — a street-like multi-class set from the COCO panoptic PNGs of ``coco128`` (100
  images): the outdoor stuff classes sky, tree, grass, building (+ house), pavement, road, fence
  and dirt, plus two street "things", person and car (+ truck), 11 classes like CamVid's;
  class 0 ``other`` is every other labelled segment (things and indoor stuff);
  unlabelled panoptic pixels (id 0) are ignore (255). Only images with at least 20 % of their
  pixels in the street classes are kept; images downscaled 3x (about 213x160 px), sorted by
  name, every 4th validates.

Training: ``engine.training`` (optimiser, schedule, ``Stepper`` with the loss from
``engine.losses``), ``unet_tiny`` (or ``--model``, e.g. ``lraspp_mobilenet_v3_large``, the
registry's builder, no pretrained weights) from scratch, random 128 px crops + flips, batch 4,
the same seeded initialisation and batches for every loss; ``--iterations 0`` evaluates the
untrained network. Loss ``ce+dice/all`` is CE + Dice with the Dice averaged over all classes,
absent ones included (``LossConfig.dice_include_absent``), for comparison with the default.
``--rare-crops P`` centres a share ``P`` of the crops on a pixel of a class drawn with probability
~ 1 / sqrt(its pixel share) (``engine.rare_class_crops``; 0, the default, draws images and crops
uniformly with the same random stream as before); ``--weighting`` and ``--clip-max`` change the
class weights of weighted cross-entropy.
Evaluation: one confusion matrix over the validation pixels (ignore left out), per-class IoU,
mIoU, pixel accuracy and the share of validation pixels predicted per class.

    .venv/bin/python bench/losses.py [--dataset street membranes] [--iterations 300] [--seeds 0 1]
                                      [--losses ce weighted-ce ce+dice] [--model unet_tiny] [--json out.json]
                                      [--rare-crops 0.5] [--weighting inverse-sqrt] [--clip-max 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.inference import semantic_logits
from engine.losses import DEFAULT_CLIP, ClassWeighting, LossKind, SemanticLoss, count_class_pixels, semantic_loss_for
from engine.models.registry import BuiltModel, build_model
from engine.rare_class_crops import RareClassCrops, crop_origin
from engine.training import Sample, Stepper, make_optimizer, make_schedule, seed_everything

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IGNORE = 255
STREET = {  # merged class name -> COCO panoptic category names
    "sky": ("sky-other-merged",),
    "tree": ("tree-merged",),
    "grass": ("grass-merged",),
    "building": ("building-other-merged", "house"),
    "pavement": ("pavement-merged",),
    "road": ("road",),
    "fence": ("fence-merged",),
    "dirt": ("dirt-merged",),
    "person": ("person",),  # things, but street scenes have them: the CamVid-like rare classes
    "car": ("car", "truck"),
}


@dataclass
class DataSet:
    name: str
    class_names: list[str]  # index 0 first
    train: list[tuple[np.ndarray, np.ndarray]]  # (H, W, 3) uint8 RGB, (H, W) uint8 labels
    val: list[tuple[np.ndarray, np.ndarray]]


def read_image(path: Path, flags: int) -> np.ndarray:
    """``cv2.imread`` that names the file it cannot read."""
    image = cv2.imread(str(path), flags)
    if image is None:
        raise SystemExit(f"cannot read {path}")
    return np.asarray(image)


def membranes(root: Path) -> DataSet:
    """ISBI 2012: 24 training and 6 validation slices; label 0 (membrane) -> class 1."""
    pairs = []
    for i in range(30):
        gray = read_image(root / "train_image" / f"{i}.png", cv2.IMREAD_GRAYSCALE)
        label = read_image(root / "train_label" / f"{i}.png", cv2.IMREAD_GRAYSCALE)
        pairs.append((np.repeat(gray[..., None], 3, 2), (label < 128).astype(np.uint8)))
    return DataSet("membranes", ["background", "membrane"], pairs[:24], pairs[24:])


def street(root: Path, downscale: int = 3, min_street_share: float = 0.2) -> DataSet:
    """COCO panoptic (coco128) -> the street-like label maps described in the module docstring."""
    meta = json.loads((root / "panoptic" / "panoptic_train2017.json").read_text())
    by_name = {c["name"]: c["id"] for c in meta["categories"]}
    names = ["other", *STREET]
    category_class = {by_name[n]: i + 1 for i, group in enumerate(STREET.values()) for n in group}
    pairs = []
    for annotation in sorted(meta["annotations"], key=lambda a: a["file_name"]):
        png = read_image(root / "panoptic" / "panoptic_train2017" / annotation["file_name"], cv2.IMREAD_COLOR)
        rgb_ids = png[..., ::-1].astype(np.int64)
        ids = rgb_ids[..., 0] + 256 * rgb_ids[..., 1] + 256 * 256 * rgb_ids[..., 2]
        labels = np.full(ids.shape, IGNORE, np.uint8)
        for segment in annotation["segments_info"]:
            labels[ids == segment["id"]] = category_class.get(segment["category_id"], 0)
        if ((labels > 0) & (labels != IGNORE)).mean() < min_street_share:
            continue
        image_path = root / "images" / "train2017" / annotation["file_name"].replace(".png", ".jpg")
        rgb = cv2.cvtColor(read_image(image_path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        size_wh = (rgb.shape[1] // downscale, rgb.shape[0] // downscale)
        pairs.append((cv2.resize(rgb, size_wh, interpolation=cv2.INTER_AREA),
                      cv2.resize(labels, size_wh, interpolation=cv2.INTER_NEAREST)))
    val = pairs[::4]
    train = [p for i, p in enumerate(pairs) if i % 4]
    return DataSet("street", names, train, val)


def crop_sample(pair: tuple[np.ndarray, np.ndarray], crop: int, rng: np.random.Generator,
                centre_yx: tuple[int, int] | None = None) -> Sample:
    """A ``crop`` px square (padded with ignore; random, or centred on ``centre_yx`` as far as the
    image allows) with random flips, as a training sample."""
    rgb, labels = pair
    height, width = labels.shape
    pad_h, pad_w = max(crop - height, 0), max(crop - width, 0)
    if pad_h or pad_w:
        rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)))
        labels = np.pad(labels, ((0, pad_h), (0, pad_w)), constant_values=IGNORE)
        height, width = labels.shape
    y, x = crop_origin((height, width), crop, centre_yx, rng)
    rgb, labels = rgb[y:y + crop, x:x + crop], labels[y:y + crop, x:x + crop]
    if rng.random() < 0.5:
        rgb, labels = rgb[:, ::-1], labels[:, ::-1]
    image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)
    return Sample(image, torch.from_numpy(np.ascontiguousarray(labels)).long())


@dataclass
class Scores:
    iou: np.ndarray  # (C,) per-class IoU over all validation pixels; NaN for a class absent from both
    pixel_accuracy: float  # correct / labelled validation pixels
    predicted_share: np.ndarray  # (C,) share of the labelled validation pixels predicted as each class
    true_share: np.ndarray  # (C,) share of the labelled validation pixels labelled as each class


@torch.inference_mode()
def evaluate(built: BuiltModel, data: DataSet) -> Scores:
    """Scores of ``built`` (eval mode) over all validation pixels, ignore left out."""
    built.module.eval()
    c = len(data.class_names)
    confusion = np.zeros((c, c), np.int64)
    for rgb, labels in data.val:
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div_(255.0)[None]
        predicted = semantic_logits(built, image)[0].argmax(0).numpy()
        valid = labels != IGNORE
        confusion += np.bincount(labels[valid].astype(np.int64) * c + predicted[valid], minlength=c * c).reshape(c, c)
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    total = max(int(confusion.sum()), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return Scores(iou, float(tp.sum() / total), confusion.sum(0) / total, confusion.sum(1) / total)


def make_criterion(data: DataSet, loss: str, weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
                   clip: tuple[float, float] = DEFAULT_CLIP) -> SemanticLoss:
    """The engine's loss called ``loss`` (a ``--loss`` spelling, or ``ce+dice/all``) for ``data``,
    class weights by ``weighting`` clipped to ``clip``."""
    include_absent = loss.endswith("/all")
    criterion = semantic_loss_for(loss.removesuffix("/all"), [labels for _, labels in data.train], data.class_names,
                                  weighting=weighting, clip=clip)
    if include_absent:
        criterion = SemanticLoss(dataclasses.replace(criterion.config, dice_include_absent=True), criterion.num_classes)
    return criterion


def run(data: DataSet, loss: str, seed: int, iterations: int, crop: int, batch: int,
        model: str = "unet_tiny", rare_crops: float = 0.0, weighting: ClassWeighting = ClassWeighting.MEDIAN_FREQUENCY,
        clip: tuple[float, float] = DEFAULT_CLIP) -> tuple[Scores, str, float]:
    """Train ``model`` from scratch with ``loss``; (scores, the loss's description, seconds).
    ``rare_crops``: the share of crops centred on a rare-class pixel (:mod:`engine.rare_class_crops`)."""
    started = time.perf_counter()
    seed_everything(seed)
    built = build_model(model, data.class_names[1:], pretrained=False)
    criterion = make_criterion(data, loss, weighting, clip)
    sampler = RareClassCrops([labels for _, labels in data.train], len(data.class_names), rare_crops)
    recipe = built.spec.recipe
    optimizer = make_optimizer(built, recipe)
    stepper = Stepper(built, optimizer, make_schedule(optimizer, recipe.warmup_iterations, iterations),
                      torch.device("cpu"), amp=False, criterion=criterion)
    rng = np.random.default_rng(seed)  # the same crops and order for every loss
    built.module.train()
    for _ in range(iterations):
        draws = [sampler.draw(rng) for _ in range(batch)]  # rare_crops 0: one uniform image index each, as before
        stepper.step([crop_sample(data.train[d.image_index], crop, rng, d.centre_yx) for d in draws])
    return evaluate(built, data), criterion.config.describe(), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", nargs="+", choices=["membranes", "street"], default=["street", "membranes"])
    parser.add_argument("--losses", nargs="+",
                        choices=[k.value for k in LossKind if k is not LossKind.AUTO] + ["ce+dice/all"],
                        default=["ce", "weighted-ce", "ce+dice"])
    parser.add_argument("--model", default="unet_tiny", help="semantic registry model, trained from scratch")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rare-crops", type=float, default=0.0,
                        help="share of crops centred on a pixel of a class drawn ~ 1/sqrt(share) (0: uniform crops)")
    parser.add_argument("--weighting", choices=[w.value for w in ClassWeighting], default="median-frequency")
    parser.add_argument("--clip-max", type=float, default=DEFAULT_CLIP[1], help="largest class weight")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.dataset:
        data = membranes(SHARED / "isbi2012_membrane") if name == "membranes" else street(SHARED / "coco128")
        freq = count_class_pixels([labels for _, labels in data.train], len(data.class_names)).shares()
        print(f"\n## {name}: {len(data.train)} train / {len(data.val)} val images; training pixel shares: "
              + ", ".join(f"{n} {100 * f:.2f}%" for n, f in zip(data.class_names, freq)), flush=True)
        print(f"{args.model}, {args.iterations} iterations, rare-class crops {args.rare_crops:g}, "
              f"{args.weighting} weights clipped to [{DEFAULT_CLIP[0]:g}, {args.clip_max:g}]")
        print("| loss | seed | " + " | ".join(data.class_names) + " | mIoU | pixel acc | s | load |")
        print("|---|---|" + "---|" * (len(data.class_names) + 4))
        for seed in args.seeds:
            for loss in args.losses:
                scores, described, seconds = run(data, loss, seed, args.iterations, args.crop, args.batch, args.model,
                                                 args.rare_crops, ClassWeighting(args.weighting),
                                                 (DEFAULT_CLIP[0], args.clip_max))
                iou = scores.iou
                cells = " | ".join("–" if np.isnan(v) else f"{v:.3f}" for v in iou)
                load = os.getloadavg()[0]
                print(f"| {loss} | {seed} | {cells} | {np.nanmean(iou):.3f} | {scores.pixel_accuracy:.3f} | "
                      f"{seconds:.0f} | {load:.1f} |", flush=True)
                rows.append({"dataset": name, "model": args.model, "iterations": args.iterations, "loss": loss,
                             "rare_crops": args.rare_crops, "weighting": args.weighting, "clip_max": args.clip_max,
                             "seed": seed, "iou": [float(v) for v in iou], "miou": float(np.nanmean(iou)),
                             "pixel_accuracy": scores.pixel_accuracy,
                             "predicted_share": [float(v) for v in scores.predicted_share],
                             "true_share": [float(v) for v in scores.true_share], "seconds": seconds,
                             "load_1min": load, "described": described, "class_names": data.class_names})
                if args.json is not None:  # after every row: a cut-short run keeps what it measured
                    args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
