"""Benchmark: training images/s of the engine's loop against the torchvision references' detection
training loop settings, same model, same data, side by side.

* **baseline** — ``references/detection/train.py`` defaults: fp32 (no ``--amp``), batch 2, SGD
  (momentum 0.9, weight decay 1e-4, lr 0.02 x 2/16), linear warm-up, a map-style data set that
  opens the image with PIL and rasterises the polygons to masks on every access
  (``ConvertCocoPolysToMask``), random horizontal flip, a ``DataLoader`` (``--workers``, 4 on CUDA
  like the references' ``-j 4``, 0 on CPU).
* **ours** — ``engine.training``: decoded images and targets cached after the first epoch,
  transforms v2 (flip + photometric jitter), bf16 autocast and pinned memory on CUDA, gradient
  clipping, the same optimiser.

Data: the balloon training split (61 photos up to 2048 px, polygons). Prints images/s for both
and the ratio (goal on a GPU: >= 1.5x).

    .venv/bin/python bench/train.py [--model maskrcnn_resnet50_fpn] [--iterations 3] [--min-size 384]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.geometry import Polygon
from annotations.model import Annotation, Category, Image, ImageStatus
from annotations.store import Project
from engine.data import ImageCache, take_snapshot
from engine.inference import resolve_device
from engine.models.registry import build_model, get_spec
from engine.protocol import Device
from engine.training import Stepper, TrainingData, batch_indices, make_optimizer, seed_everything

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def balloon_regions(split: str) -> list[tuple[Path, list[np.ndarray]]]:
    """(image path, polygons (N, 2) xy in continuous pixel coordinates) of a balloon split."""
    folder = DATA / "balloon_via" / split
    regions = json.loads((folder / "via_region_data.json").read_text())
    out = []
    for entry in regions.values():
        polygons = []
        for region in entry["regions"].values():
            shape = region["shape_attributes"]
            polygons.append(np.stack([np.asarray(shape["all_points_x"], float) + 0.5,
                                      np.asarray(shape["all_points_y"], float) + 0.5], 1))
        out.append((folder / entry["filename"], polygons))
    return out


def balloon_project(folder: Path, split: str = "train", count: int = 0, *, finished: bool = True) -> Path:
    """A project over a balloon split; every image done with its polygons when ``finished``."""
    items = balloon_regions(split)[: count or None]
    path = folder / f"balloon_{split}.segproj"
    project = Project.create(path, [Category(1, "balloon", "#e6194b")])
    images = []
    for path_, _ in items:
        with PILImage.open(path_) as im:
            width, height = im.size
        images.append(Image(0, str(path_), width, height, ImageStatus.DONE if finished else ImageStatus.NEW))
    stored = project.add_images(images)
    if finished:
        project.add_annotations([Annotation(0, image.id, 1, Polygon.from_points(p))
                                 for image, (_, polygons) in zip(stored, items) for p in polygons])
    project.close()
    return path


class ReferenceDataset(torch.utils.data.Dataset):
    """The references' CocoDetection + ConvertCocoPolysToMask + flip, on the balloon polygons."""

    def __init__(self, items: list[tuple[Path, list[np.ndarray]]]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        path, polygons = self.items[index]
        image = PILImage.open(path).convert("RGB")
        width, height = image.size
        masks, boxes = [], []
        for polygon in polygons:
            rles = mask_utils.frPyObjects([polygon.reshape(-1).tolist()], height, width)
            masks.append(mask_utils.decode(mask_utils.merge(rles)))
            boxes.append([polygon[:, 0].min(), polygon[:, 1].min(), polygon[:, 0].max(), polygon[:, 1].max()])
        tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div_(255)
        target = {"boxes": torch.as_tensor(boxes, dtype=torch.float32), "labels": torch.ones(len(boxes), dtype=torch.int64),
                  "masks": torch.from_numpy(np.stack(masks))}
        if torch.rand(1) < 0.5:
            tensor = tensor.flip(-1)
            target["masks"] = target["masks"].flip(-1)
            b = target["boxes"].clone()
            target["boxes"][:, 0], target["boxes"][:, 2] = width - b[:, 2], width - b[:, 0]
        return tensor, target


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_baseline(model: torch.nn.Module, items, device: torch.device, batch: int, iterations: int, warmup: int,
                 workers: int, lr: float) -> float:
    """Images/s of the references' loop."""
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.001, total_iters=1000)
    loader = torch.utils.data.DataLoader(ReferenceDataset(items), batch_size=batch, shuffle=True, num_workers=workers,
                                         collate_fn=lambda b: tuple(zip(*b)), drop_last=True,
                                         persistent_workers=workers > 0)
    done, started = 0, None
    while done < warmup + iterations:
        for images, targets in loader:
            if done == warmup:
                sync(device)
                started = time.perf_counter()
            images = [i.to(device) for i in images]
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            losses = sum(model(images, targets).values())
            optimizer.zero_grad()
            losses.backward()
            optimizer.step()
            scheduler.step()
            done += 1
            if done == warmup + iterations:
                break
    sync(device)
    return iterations * batch / (time.perf_counter() - started)


def run_ours(built, project_path: Path, device: torch.device, batch: int, iterations: int, warmup: int,
             lr: float) -> float:
    """Images/s of the engine's loop (cache warm after the warm-up, as from the 2nd epoch on)."""
    with Project.open(project_path, readonly=True) as project:
        snapshot = take_snapshot(project)
    spec = built.spec
    data = TrainingData(list(snapshot.images), built, {1: 1}, ImageCache(), spec.recipe)
    built.module.to(device).train()
    optimizer = make_optimizer(built, spec.recipe, lr)
    stepper = Stepper(built, optimizer, torch.optim.lr_scheduler.LinearLR(optimizer, 0.001, total_iters=1000), device)
    for i in range(len(data)):  # first epoch: decode and build targets once
        data.sample(i)
    order = list(batch_indices(len(data), batch, warmup + iterations, 0, 1))
    for indices in order[:warmup]:
        stepper.step([data.sample(i) for i in indices])
    sync(device)
    started = time.perf_counter()
    for indices in order[warmup:]:
        stepper.step([data.sample(i) for i in indices])
    sync(device)
    return iterations * batch / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="maskrcnn_resnet50_fpn")
    parser.add_argument("--device", choices=[d.value for d in Device], default="auto")
    parser.add_argument("--iterations", type=int, default=0, help="timed iterations (default 50 on CUDA, 3 on CPU)")
    parser.add_argument("--warmup", type=int, default=0, help="untimed iterations (default 10 on CUDA, 1 on CPU)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--min-size", type=int, default=0, help="detector input short side (default 800 CUDA, 384 CPU)")
    parser.add_argument("--images", type=int, default=0, help="balloon images (default all 61 on CUDA, 8 on CPU)")
    parser.add_argument("--workers", type=int, default=-1, help="baseline DataLoader workers (default 4 CUDA, 0 CPU)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    device = resolve_device(Device(args.device))
    cuda = device.type == "cuda"
    iterations = args.iterations or (50 if cuda else 3)
    warmup = args.warmup or (10 if cuda else 1)
    min_size = args.min_size or (800 if cuda else 384)
    workers = args.workers if args.workers >= 0 else (4 if cuda else 0)
    lr = 0.02 * args.batch_size / 16
    if not get_spec(args.model).output.is_detection:
        parser.error("this benchmark compares detection training loops; pick a detector")
    with tempfile.TemporaryDirectory() as tmp:
        project_path = balloon_project(Path(tmp), "train", args.images or (0 if cuda else 8))
        items = balloon_regions("train")[: (args.images or (0 if cuda else 8)) or None]
        seed_everything(0)
        built = build_model(args.model, ["balloon"])
        built.module.transform.min_size = (min_size,)
        built.module.transform.max_size = int(round(min_size * 1333 / 800))
        reference = copy.deepcopy(built.module)
        print(f"{args.model} ({built.report.source}), {len(items)} balloon images at short side {min_size}, "
              f"batch {args.batch_size}, device {device}{' ' + torch.cuda.get_device_name() if cuda else ''}")
        base, ours = [], []
        for _ in range(args.repeat):
            base.append(run_baseline(copy.deepcopy(reference), items, device, args.batch_size, iterations, warmup,
                                     workers, lr))
            fresh = copy.deepcopy(built)
            ours.append(run_ours(fresh, project_path, device, args.batch_size, iterations, warmup, lr))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"baseline (references loop, fp32, {workers} workers): {b:8.2f} images/s")
    print(f"ours (engine.training{', bf16 autocast' if cuda else ''}):        {o:8.2f} images/s")
    print(f"ratio ours/baseline: {o / b:.2f}x  ({iterations} timed iterations after {warmup}, median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
