"""The instance U-Net: training targets (interiors, rims, touching pixels), the seeded watershed
that splits touching objects, the registry default without downloaded weights, and a learned
result from scratch on a CPU (touching discs, a few images)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from annotations.geometry import rle
from annotations.model import Annotation, Category, Image, ImageStatus
from annotations.store import Project
from engine.jobs.train import run_train
from engine.models.instance_unet import InstanceUNet, split_instances
from engine.models.registry import build_model, default_architecture
from engine.protocol import Device, Train


def discs(size_hw: tuple[int, int], circles: list[tuple[int, int, int]]) -> np.ndarray:
    """(N, H, W) uint8 masks of discs (cx, cy, r)."""
    out = np.zeros((len(circles), *size_hw), np.uint8)
    for k, (cx, cy, r) in enumerate(circles):
        cv2.circle(out[k], (cx, cy), r, 1, -1)
    return out


def test_targets_mark_rims_and_touching_pixels() -> None:
    model = InstanceUNet(2, boundary_px=1)
    masks = torch.from_numpy(discs((40, 60), [(15, 20, 9), (33, 20, 9)]))  # two discs touching at x ~ 24
    target = model.label_map(masks, torch.tensor([1, 1]), (40, 60))
    assert target[20, 15] == 1 and target[20, 33] == 1  # interiors
    assert target[20, 24] == 2 and target[20, 6] == 2  # touching point and an outer rim: the boundary class
    assert target[2, 2] == 0


def test_watershed_splits_touching_objects() -> None:
    masks = discs((40, 60), [(15, 20, 9), (33, 20, 9)])
    union = masks.max(axis=0).astype(bool)
    probs = np.zeros((3, 40, 60), np.float32)
    probs[0] = ~union
    interior = np.stack([cv2.erode(m, np.ones((5, 5), np.uint8)) for m in masks]).max(axis=0).astype(bool)
    probs[1] = interior
    probs[2] = union & ~interior
    instances = split_instances(probs, min_area_px=4)
    assert len(instances) == 2
    for inst in instances:
        best = max(float((inst.mask & m).sum() / (inst.mask | m).sum()) for m in masks)
        assert best > 0.8  # each region is one disc (rims re-assigned by the watershed)
        assert inst.class_index == 1 and 0.0 <= inst.score <= 1.0


def test_instance_unet_is_the_default_without_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert default_architecture([Category(1, "nucleus", "#fff", is_thing=True)]) == "unet_instances"
    built = build_model("unet_instances", ["nucleus", "cell"])
    built.module.eval()
    with torch.no_grad():
        out = built.module([torch.rand(3, 50, 70)])[0]
    assert out["masks"].shape[1:] == (1, 50, 70) and out["boxes"].shape[1] == 4
    assert len(out["labels"]) == len(out["scores"]) == len(out["masks"])


def disc_project(folder: Path, n_done: int, n_test: int, seed: int) -> Path:
    """Noisy 128x128 images with 4 discs each, two of them touching; the first ``n_done``
    finished (ground truth annotated), the rest new."""
    rng = np.random.default_rng(seed)
    path = folder / "discs.segproj"
    project = Project.create(path, [Category(1, "cell", "#00ff00", is_thing=True)])
    images, annotations = [], []
    for k in range(1, n_done + n_test + 1):
        r = int(rng.integers(9, 13))
        cx, cy = int(rng.integers(20, 60)), int(rng.integers(20, 108))
        circles = [(cx, cy, r), (cx + 2 * r - 1, cy, r)]  # touching
        circles += [(int(rng.integers(90, 112)), int(rng.integers(15, 50)), 8),
                    (int(rng.integers(90, 112)), int(rng.integers(75, 112)), 10)]
        masks = discs((128, 128), circles)
        gray = rng.normal(50, 12, (128, 128))
        gray[masks.max(axis=0) > 0] += 120
        cv2.imwrite(str(folder / f"d{k}.png"), gray.clip(0, 255).astype(np.uint8))
        done = k <= n_done
        images.append(Image(k, f"d{k}.png", 128, 128, ImageStatus.DONE if done else ImageStatus.NEW))
        if done:
            annotations += [Annotation(0, k, 1, rle.encode(m.astype(bool))) for m in masks]
    project.add_images(images)
    project.add_annotations(annotations)
    project.close()
    return path


# Measured spread of this exact request (shared 2-core AMD EPYC VM, load 11-15, 2026-12-07 03:15-03:26;
# segm AP50 on the 4 validation images, best of 3 epochs x 60 iterations):
#   1 torch thread, seeds 0, 1, 2, 3: AP50 1.000, 1.000, 1.000, 1.000 (mAP 1.000 each), baseline 0.000,
#   about 40 CPU s each; 2 torch threads, seed 2: AP50 1.000 (mAP 1.000; 286 CPU s: OpenMP spinning
#   under the load).
#   A shorter request (2 x 40 iterations) gave AP50 1.000, 0.672, 0.188 for seeds 0, 1, 2: not converged,
#   hence 180 iterations. Threshold 0.75: margin 0.25 below every measured run of this request, and
#   above what a model that merges the touching pair can reach (2 of 4 discs per image matched: <= 0.5);
#   the untrained network scores 0.000.
AP50_THRESHOLD = 0.75


def test_learns_to_split_touching_discs_from_scratch(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    path = disc_project(tmp_path, n_done=10, n_test=0, seed=0)
    result = run_train(Train(str(path), model="unet_instances", epochs=3, iterations_per_epoch=60, batch_size=2,
                             device=Device.CPU, val_fraction=0.4, reprelabel=False, seed=0))
    assert result.baseline_metrics["segm_map50"] < 0.05  # the untrained network finds nothing
    assert result.metrics["segm_map50"] >= AP50_THRESHOLD, result.metrics
    assert result.promoted and "gain" in result.metrics["promotion_reason"]
