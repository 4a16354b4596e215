"""Benchmark of the review against pycocotools' COCOeval, on the same synthetic data, in one run.

Data: N images (default 5,000) x M ground-truth masks (default 20) of random ellipses on
256 x 256 images over 10 classes, stored as compressed RLE; the "model" finds 85 % of them with
jittered shape, position and size, 10 % with the wrong class, plus a few false positives.

Timed side by side (best of ``--repeat``):

- baseline: pycocotools ``COCO`` index + ``loadRes`` + ``COCOeval`` evaluate / accumulate /
  summarize (segm) — mAP alone;
- ours: ``review_coco`` — one IoU matrix per image (``pycocotools.mask.iou`` on RLE), two-pass
  Hungarian matching, per-image / per-class / confusion / histogram report data, and the COCO
  mAP on the *same* IoU matrices through the fastest installed evaluator (faster-coco-eval
  when present), and the boundary IoU (dilation 0.02) of every matched pair.

Goal (issue 4): identical AP, and our full review <= pycocotools' time for mAP alone.

    .venv/bin/python bench/review.py [--images 5000] [--masks 20] [--repeat 2] [--no-boundary-too] [--semantic]

``--semantic`` also times the review with the pixel-level section (every shape of both sides
rasterized into label maps, one confusion matrix, mIoU / pixel accuracy) and prints its extra cost.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotations.metrics.detection import STAT_NAMES, available_backends
from annotations.metrics.review_core import review_coco


def _ellipse_rle(h: int, w: int, cx: float, cy: float, ax: float, ay: float, angle: float) -> dict:
    m = np.zeros((h, w), dtype=np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(ax)), max(1, int(ay))), angle, 0, 360, 1, -1)
    r = mask_utils.encode(np.asfortranarray(m))
    return {"size": [h, w], "counts": r["counts"].decode("ascii")}


def make_data(n_images: int, n_masks: int, size: int = 256, n_classes: int = 10, seed: int = 0) -> tuple[dict, list]:
    """(COCO ground truth dict, COCO segm results list)."""
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    ann_id = 1
    for image_id in range(1, n_images + 1):
        images.append({"id": image_id, "width": size, "height": size, "file_name": f"img_{image_id:05d}.png"})
        for _ in range(n_masks):
            cx, cy = rng.uniform(20, size - 20, 2)
            ax, ay = rng.uniform(4, 40, 2)
            angle = rng.uniform(0, 180)
            seg = _ellipse_rle(size, size, cx, cy, ax, ay, angle)
            cat = int(rng.integers(1, n_classes + 1))
            anns.append({"id": ann_id, "image_id": image_id, "category_id": cat, "segmentation": seg,
                         "area": float(mask_utils.area(seg)), "bbox": mask_utils.toBbox(seg).tolist(), "iscrowd": 0})
            ann_id += 1
            if rng.random() < 0.85:
                pred = _ellipse_rle(size, size, cx + rng.normal(0, 3), cy + rng.normal(0, 3), ax * rng.uniform(0.8, 1.2),
                                    ay * rng.uniform(0.8, 1.2), angle + rng.normal(0, 10))
                pcat = cat if rng.random() < 0.9 else int(rng.integers(1, n_classes + 1))
                results.append({"image_id": image_id, "category_id": pcat, "segmentation": pred, "score": float(rng.random())})
        for _ in range(int(rng.integers(0, 3))):
            cx, cy = rng.uniform(20, size - 20, 2)
            seg = _ellipse_rle(size, size, cx, cy, rng.uniform(4, 30), rng.uniform(4, 30), 0)
            results.append({"image_id": image_id, "category_id": int(rng.integers(1, n_classes + 1)),
                            "segmentation": seg, "score": float(rng.random() * 0.5)})
    categories = [{"id": c, "name": f"class{c}"} for c in range(1, n_classes + 1)]
    return {"images": images, "annotations": anns, "categories": categories}, results


def pycocotools_map(gt: dict, results: list) -> np.ndarray:
    """The baseline: plain pycocotools, as a user would run it."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.asarray(evaluator.stats)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--masks", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--evaluator", default="auto", choices=["auto", "pycocotools", "faster_coco_eval"],
                        help="the evaluator our review uses for the mAP part")
    parser.add_argument("--no-boundary-too", action="store_true", help="also time the review without boundary IoU")
    parser.add_argument("--semantic", action="store_true",
                        help="also time the review with the semantic (pixel mIoU) section and print its extra cost")
    args = parser.parse_args()

    t0 = time.perf_counter()
    gt, results = make_data(args.images, args.masks)
    print(f"data: {len(gt['images'])} images, {len(gt['annotations'])} GT masks, {len(results)} predictions "
          f"(generated in {time.perf_counter() - t0:.1f} s); evaluators installed: "
          f"{[b.value for b in available_backends()]}")

    def timed(fn):
        best, value = float("inf"), None
        for _ in range(args.repeat):
            g, r = copy.deepcopy(gt), copy.deepcopy(results)  # both sides get fresh, untouched inputs
            start = time.perf_counter()
            value = fn(g, r)
            best = min(best, time.perf_counter() - start)
        return best, value

    t_base, base_stats = timed(pycocotools_map)
    t_ours, report = timed(lambda g, r: review_coco(g, r, "segm", boundary=True, backend=args.evaluator))
    ours_stats = np.array([report.coco[n] for n in STAT_NAMES])
    ours_stats = np.where(np.isnan(ours_stats), -1.0, ours_stats)  # we report COCOeval's -1 as NaN
    diff = float(np.max(np.abs(ours_stats - base_stats)))
    s = report.summary
    print(f"pycocotools COCOeval (mAP only)                 : {t_base:7.2f} s   AP={base_stats[0]:.6f}")
    print(f"SegStudio full review (matching + boundary IoU  : {t_ours:7.2f} s   AP={ours_stats[0]:.6f}   "
          f"evaluator={s['evaluator']}")
    print("  + mAP + per-image/class/confusion/PR report)")
    print(f"max |stat difference| over the 12 COCO stats    : {diff:.3g}  ({'identical' if diff < 1e-12 else 'DIFFERENT'})")
    print(f"ratio full review / pycocotools mAP             : {t_ours / t_base:.2f}  "
          f"({'meets' if t_ours <= t_base else 'misses'} the <= 1.0 goal)")
    print(f"report: tp={s['tp']} fp={s['fp']} fn={s['fn']} mismatches={s['label_mismatches']} f1={s['f1']:.4f} "
          f"mean IoU={s['mean_iou']:.4f} mean boundary IoU={s['mean_boundary_iou']:.4f}; "
          f"worst image {report.per_image[0].image_id}")
    if args.no_boundary_too:
        t_nb, _ = timed(lambda g, r: review_coco(g, r, "segm", boundary=False, backend=args.evaluator))
        print(f"review without boundary IoU                     : {t_nb:7.2f} s   ratio {t_nb / t_base:.2f}")
    if args.semantic:
        t_sem, sem_report = timed(lambda g, r: review_coco(g, r, "segm", boundary=True, backend=args.evaluator,
                                                           semantic=True))
        sem = sem_report.semantic
        print(f"full review + semantic section                  : {t_sem:7.2f} s   ratio {t_sem / t_base:.2f}; "
              f"extra {t_sem - t_ours:+.2f} s ({(t_sem - t_ours) / max(1, len(gt['images'])) * 1e3:.2f} ms/image, "
              f"{(t_sem / t_ours - 1) * 100:+.0f} % of the review)")
        print(f"  pixel accuracy={sem['pixel_accuracy']:.4f} mIoU={sem['miou']:.4f} "
              f"mIoU without background={sem['miou_foreground']:.4f}")
    return 0 if diff < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
