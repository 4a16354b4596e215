"""Benchmark: the engine's pre-label path against the plain eager torchvision loop.

Same model, same weights, same images, side by side in one process:

* **baseline** — what people write first: for each image, decode it, ``model([tensor])`` in
  fp32 at batch 1 under ``torch.no_grad()`` (``--baseline-rle`` also binarises and RLE-encodes the
  masks, the work our path must do to store them).
* **ours** — ``engine.jobs.prelabel.run_prelabel``: batched, prefetching decode thread, AMP
  (bf16) and pinned memory on CUDA, one pycocotools call per image to encode masks, one store
  transaction per batch (supersede + insert + status).

The model is the registry's architecture built for the 80 COCO classes. COCO weights are used when
they are in torchvision's cache (heads kept by class name); otherwise it is random, and
``--force-detections`` (default on for random weights) biases the heads so every image carries
``detections_per_img`` confident masks, like a trained model on a busy image (random heads would
otherwise make no detections, and skip the mask head).

Prints ms/image for both, the ratio, and on CUDA the share of the compute floor (0.67 ms/image
for Mask R-CNN R50-FPN on an H100, performance_anchors.md G1).

    .venv/bin/python bench/prelabel.py [--model maskrcnn_resnet50_fpn] [--images 4] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.model import Category, Image
from annotations.store import Project
from engine import checkpoints
from engine.images import read_rgb, to_tensor
from engine.inference import encode_masks, resolve_device
from engine.jobs.prelabel import run_prelabel
from engine.protocol import Device, Prelabel
from engine.versions import clear_cache, initial_version, load_version

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FLOOR_MS = {"maskrcnn_resnet50_fpn": 0.67}  # H100 compute floor, performance_anchors.md §7 G1


def coco128_project(folder: Path, count: int) -> Path:
    """A project over the first ``count`` coco128 images, with the 80 COCO categories."""
    coco = json.loads((DATA / "coco128" / "instances_train2017.json").read_text())
    images = sorted(coco["images"], key=lambda i: i["id"])[:count]
    path = folder / "coco128.segproj"
    project = Project.create(path, [Category(c["id"], c["name"]) for c in coco["categories"]])
    root = DATA / "coco128" / "images" / "train2017"
    project.add_images([Image(0, str(root / i["file_name"]), i["width"], i["height"]) for i in images])
    project.close()
    return path


def force_detections(project_path: Path, architecture: str) -> None:
    """Bias a random model's heads to emit confident detections and non-empty masks."""
    with Project.open(project_path) as project:
        version = initial_version(project, architecture)
    path = checkpoints.resolve(project_path, version.weights_path)
    built, class_ids = checkpoints.load_model(path)
    roi = getattr(built.module, "roi_heads", None)
    with torch.no_grad():
        if roi is not None:
            roi.box_predictor.cls_score.bias.zero_()
            roi.box_predictor.cls_score.bias[1] = 12.0  # every proposal: class 1, score ~1
            if getattr(roi, "mask_predictor", None) is not None:
                roi.mask_predictor.mask_fcn_logits.bias.fill_(3.0)
    checkpoints.save_model(built, class_ids, path)
    clear_cache()


def baseline(project_path: Path, model_arg: str, device: torch.device, rle: bool) -> tuple[float, int]:
    """Plain loop, batch 1, fp32. Returns (seconds, detections)."""
    with Project.open(project_path, readonly=True) as project:
        version = project.get_model_version(int(model_arg))
        images = [(project.image_path(i), i) for i in project.images()]
    built = load_version(project_path, version, device)
    model = built.module.to(device).eval()
    count = 0
    sync(device)
    started = time.perf_counter()
    for path, image in images:
        tensor = to_tensor(read_rgb(path, size_hw=image.size_hw)).to(device)
        with torch.no_grad():
            out = model([tensor])[0]
        keep = out["scores"] >= 0.5
        count += int(keep.sum())
        if rle and "masks" in out:
            encode_masks((out["masks"][keep, 0] >= 0.5).to(torch.uint8).cpu().numpy())
        else:
            {k: v.cpu() for k, v in out.items()}
    sync(device)
    return time.perf_counter() - started, count


def ours(project_path: Path, model_arg: str, device: Device, batch_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    result = run_prelabel(Prelabel(str(project_path), model=model_arg, device=device, batch_size=batch_size,
                                   score_threshold=0.5))
    sync(resolve_device(device))
    return time.perf_counter() - started, result.prediction_count


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="maskrcnn_resnet50_fpn")
    parser.add_argument("--images", type=int, default=0, help="coco128 images (default 100 on CUDA, 4 on CPU)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", choices=[d.value for d in Device], default="auto")
    parser.add_argument("--repeat", type=int, default=0, help="timed repeats (default 5 on CUDA, 1 on CPU)")
    parser.add_argument("--force-detections", choices=["auto", "yes", "no"], default="auto")
    parser.add_argument("--baseline-rle", action="store_true", help="baseline also encodes masks to RLE")
    args = parser.parse_args()

    device = resolve_device(Device(args.device))
    cuda = device.type == "cuda"
    count = args.images or (100 if cuda else 4)
    repeat = args.repeat or (5 if cuda else 1)
    with tempfile.TemporaryDirectory() as tmp:
        project_path = coco128_project(Path(tmp), count)
        with Project.open(project_path) as project:
            version = initial_version(project, args.model)
        random_weights = version.trained_on.get("init") == "random"
        if args.force_detections == "yes" or (args.force_detections == "auto" and random_weights):
            force_detections(project_path, args.model)
        model_arg = str(version.id)
        print(f"model {args.model} ({version.trained_on.get('init')}), {count} coco128 images, device {device}"
              f"{' ' + torch.cuda.get_device_name() if cuda else ''}, torch threads {torch.get_num_threads()}")
        # warm-up (allocator, cudnn autotune, first-call overheads)
        baseline(project_path, model_arg, device, args.baseline_rle)
        ours(project_path, model_arg, Device(device.type), args.batch_size)
        base_times, our_times = [], []
        for _ in range(repeat):
            t, base_dets = baseline(project_path, model_arg, device, args.baseline_rle)
            base_times.append(t)
            t, our_preds = ours(project_path, model_arg, Device(device.type), args.batch_size)
            our_times.append(t)
    base_ms = statistics.median(base_times) / count * 1000
    our_ms = statistics.median(our_times) / count * 1000
    print(f"baseline (eager fp32, batch 1{', + RLE' if args.baseline_rle else ''}): {base_ms:9.1f} ms/image"
          f"  ({base_dets} detections >= 0.5)")
    print(f"ours (run_prelabel, batch {args.batch_size}{', bf16' if cuda else ''}, stored):"
          f" {our_ms:9.1f} ms/image  ({our_preds} predictions stored)")
    print(f"ratio baseline/ours: {base_ms / our_ms:.2f}x  (median of {repeat})")
    floor = FLOOR_MS.get(args.model)
    if cuda and floor:
        print(f"compute floor {floor} ms/image (H100 bf16): ours at {floor / our_ms:.1%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
