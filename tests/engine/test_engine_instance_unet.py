"""The instance U-Net: training targets (interiors, rims, touching pixels; computed once per image
by the engine and equal to the former per-iteration full-image target on a real image), the
seeded watershed that splits touching objects, the registry default without downloaded weights,
and a learned result from scratch on a CPU (touching discs, a few images)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from annotations.geometry import Mask, rle
from annotations.model import Annotation, Category, Image, ImageStatus
from annotations.store import Project
from engine.data import ImageCache, SnapshotImage, SnapshotShape
from engine.jobs.train import run_train
from engine.models.instance_unet import InstanceUNet, split_instances
from engine.models.registry import build_model, default_architecture
from engine.protocol import Device, Train
from engine.training import TrainingData


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


def full_image_label_map(masks: torch.Tensor, labels: torch.Tensor, size_hw: tuple[int, int], num_classes: int,
                         boundary_px: int) -> torch.Tensor:
    """The former target, rebuilt on every training iteration over the whole image (all masks at
    once): the reference the cached, per-object-window target must equal."""
    target = torch.zeros(size_hw, dtype=torch.long)
    m = masks.float().unsqueeze(1)
    eroded = m
    for _ in range(boundary_px):
        eroded = -F.max_pool2d(-eroded, 3, stride=1, padding=1)
    rim = (m - eroded).squeeze(1) > 0.5
    grown = F.max_pool2d(m, 3, stride=1, padding=1).squeeze(1) > 0.5
    covered = m.squeeze(1) > 0.5
    for index in range(len(labels)):
        target[covered[index]] = int(labels[index])
    boundary = rim.any(dim=0) | ((grown.sum(dim=0) > 1) & covered.any(dim=0)) | (covered.sum(dim=0) > 1)
    target[boundary] = num_classes
    return target


def test_cached_target_equals_the_per_iteration_target_on_a_real_image(shared_data: Path) -> None:
    folder = shared_data / "dsb2018_nuclei40" / "stage1_train" / \
        "6b6d4e6ff52de473a4b6f8bd0f11ae22242d508cc4117ff38ec39cbb88088aaa"  # 520 x 696, 61 nuclei, some touching
    image_path = next((folder / "images").glob("*.png"))
    masks = np.stack([cv2.imread(str(m), cv2.IMREAD_GRAYSCALE) > 127 for m in sorted((folder / "masks").glob("*.png"))])
    height, width = masks.shape[1:]
    shapes = tuple(SnapshotShape(1, rle.encode(m)) for m in masks)
    item = SnapshotImage(Image(1, image_path.name, width, height), image_path, shapes)
    built = build_model("unet_instances", ["nucleus"], pretrained=False)
    data = TrainingData([item], built, {1: 1}, ImageCache(), built.spec.recipe)
    reference = full_image_label_map(torch.from_numpy(masks.astype(np.uint8)), torch.ones(len(masks), dtype=torch.long),
                                     (height, width), built.num_classes, 2)
    assert int((reference == 2).sum()) > 1000 and int((reference == 1).sum()) > 10000  # rims and interiors present
    cached = torch.from_numpy(data._prepare(item)[1]).long()  # type: ignore[arg-type]  # dense: an (H, W) array
    assert torch.equal(cached, reference)
    flips = [reference, reference.flip(1), reference.flip(0), reference.flip(0).flip(1)]
    torch.manual_seed(0)
    seen = set()
    for _ in range(12):  # each draw's target is the reference under the draw's flips
        drawn = data.sample(0).target["label_map"]  # type: ignore[index]  # dense models: a dict
        matches = [k for k, f in enumerate(flips) if torch.equal(drawn, f)]
        assert matches, "the augmented target is not a flip of the full-image target"
        seen.add(matches[0])
    assert len(seen) > 1  # the flips did run


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


def test_input_is_chosen_from_the_training_images_and_saved_with_the_weights() -> None:
    rng = np.random.default_rng(0)
    gray = [np.repeat(rng.integers(0, 255, (32, 32, 1), dtype=np.uint8), 3, axis=2) for _ in range(3)]
    colourful = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    model = InstanceUNet(2)
    assert "gray input: 0 of 3" in model.choose_input(gray) and not model.colour
    image = torch.rand(3, 24, 24)
    standard = model.standardise(image)
    assert torch.equal(standard[0], standard[1])  # gray: one level on the three channels
    assert "colour input: 2 of 4" in model.choose_input(gray[:2] + colourful[:2]) and model.colour  # half is enough
    standard = model.standardise(image)
    assert not torch.equal(standard[0], standard[1])
    assert standard.mean(dim=(1, 2)).abs().max() < 1e-4 and abs(float(standard.std()) - 1.0) < 1e-3
    restored = InstanceUNet(2)
    restored.load_state_dict(model.state_dict())
    assert restored.colour  # the choice travels with the weights
    old_file = {k: v for k, v in model.state_dict().items() if k != "colour_input"}
    older = InstanceUNet(2)
    older.load_state_dict(old_file, strict=False)
    assert not older.colour  # files from before the choice: gray, as they were trained


def test_zoomed_crops_keep_the_crop_size_and_valid_labels() -> None:
    model = InstanceUNet(2, crop_size=32, zoom_range=(0.5, 2.0))
    masks = torch.from_numpy(discs((80, 90), [(30, 40, 12), (55, 40, 12)]))
    target = model.label_map(masks, torch.tensor([1, 1]), (80, 90))
    torch.manual_seed(0)
    sizes = set()
    for _ in range(20):
        crop, label = model._crop(torch.rand(3, 80, 90), target)
        assert crop.shape == (3, 32, 32) and label.shape == (32, 32) and label.dtype == torch.long
        assert set(label.unique().tolist()) <= {0, 1, 2}
        sizes.add(int((label > 0).sum()))
    assert len(sizes) > 5  # the zoom varies the object size between draws


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


# Measured spread of this exact request with the registry's current instance U-Net (width 16, zoomed
# crops, seed threshold 0.3; shared 2-core AMD EPYC VM, load 7-10, 2026-12-07 06:00-06:30; segm AP50
# on the 4 validation images, best of 3 epochs x 60 iterations, 1 torch thread, ~92 CPU s each):
#   seeds 0, 1, 2: AP50 0.655, 1.000, 1.000 (mAP 0.606, 0.992, 0.870), baseline 0.000 each.
#   (The earlier width-8 model without zoom reached 1.000 for seeds 0-3 in the same request: the wider,
#   zoom-augmented model that generalises better on real nuclei converges more slowly on these discs.)
#   Threshold 0.55: margin 0.105 below the worst measured run, and still above what a model that
#   merges every touching pair can reach (2 of 4 discs per image matched: <= 0.5); the untrained
#   network scores 0.000.
AP50_THRESHOLD = 0.55


def test_learns_to_split_touching_discs_from_scratch(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    path = disc_project(tmp_path, n_done=10, n_test=0, seed=0)
    result = run_train(Train(str(path), model="unet_instances", epochs=3, iterations_per_epoch=60, batch_size=2,
                             device=Device.CPU, val_fraction=0.4, reprelabel=False, seed=0))
    assert result.baseline_metrics["segm_map50"] < 0.05  # the untrained network finds nothing
    assert result.metrics["segm_map50"] >= AP50_THRESHOLD, result.metrics
    assert result.promoted and "gain" in result.metrics["promotion_reason"]


def _median_frequency_by_hand(target: torch.Tensor, channels: int) -> list[float]:
    """Median-frequency weights of one (H, W) target, clipped to [0.1, 10] (one image: every present
    class's frequency is its share of the image's pixels)."""
    counts = np.bincount(target.numpy().ravel(), minlength=channels).astype(np.float64)
    freq = counts / counts.sum()
    return [float(np.clip(np.median(freq) / f, 0.1, 10.0)) for f in freq]


def test_the_chosen_pixel_criterion_changes_the_instance_loss_on_a_fixed_batch() -> None:
    from engine.losses import LossConfig, LossKind, SemanticLoss, instance_map_criterion

    torch.manual_seed(0)
    model = InstanceUNet(2, crop_size=48, crops_per_image=1)  # train mode: the loss of one cropped image
    masks = torch.from_numpy(discs((64, 64), [(20, 30, 9), (37, 30, 9), (50, 52, 7)]))
    target = model.label_map(masks, torch.tensor([1, 1, 1]), (64, 64))
    image = torch.rand(3, 64, 64)
    image[:, masks.max(dim=0).values > 0] += 0.5
    batch = [image.clamp(0, 1)]

    def loss_with(criterion: object) -> torch.Tensor:
        model.pixel_criterion = criterion  # type: ignore[assignment]  # SemanticLoss or None
        torch.manual_seed(1)  # the same crop and rotation for every criterion
        return model([batch[0]], [{"label_map": target}])["loss_pixels"].detach()

    def by_hand(weight: torch.Tensor | None) -> torch.Tensor:
        torch.manual_seed(1)
        crop, label = model._crop(model.standardise(batch[0]), target)
        logits = model.net(crop[None]).float()
        return F.cross_entropy(logits, label[None], weight=weight, ignore_index=255)

    criterion, text = instance_map_criterion("weighted-ce", [target.numpy()], ["__background__", "cell"])
    assert criterion is not None
    weights = _median_frequency_by_hand(target, 3)
    assert criterion.config.class_weights == pytest.approx(weights)
    assert weights[0] < 1.0 < max(weights)  # background the commonest: weighted below the rarer maps
    assert f"boundary {weights[2]:.3g}" in text and "chosen by the user" in text
    weighted = loss_with(criterion)
    plain = loss_with(SemanticLoss(LossConfig(LossKind.CE), 3))
    own = loss_with(None)
    with torch.no_grad():
        assert float(weighted) == pytest.approx(float(by_hand(torch.tensor(weights))), rel=1e-5)
        assert float(plain) == pytest.approx(float(by_hand(None)), rel=1e-5)
        assert float(own) == pytest.approx(float(by_hand(torch.tensor([1.0, 1.0, 2.0]))), rel=1e-5)
    assert abs(float(weighted) - float(plain)) > 1e-3 and abs(float(own) - float(plain)) > 1e-3


def test_auto_keeps_the_instance_models_own_loss_and_says_why() -> None:
    from engine.losses import instance_map_criterion, training_criterion

    target = np.zeros((20, 20), np.uint8)
    target[5:15, 5:15], target[5, 5:15] = 1, 2
    criterion, text = training_criterion("auto", True, [], {}, ["__background__", "cell"], dense_label_maps=[target])
    assert criterion is None and "own cross-entropy, boundary weighted 2" in text and "auto" in text
    dice, text = instance_map_criterion("dice", [target], ["__background__", "cell"])
    assert dice is not None and text.startswith("instance maps: dice") and "cell interior" in text


def test_train_with_weighted_ce_records_the_instance_map_weights(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    path = disc_project(tmp_path, n_done=4, n_test=0, seed=3)
    result = run_train(Train(str(path), model="unet_instances", epochs=1, iterations_per_epoch=2, batch_size=2,
                             device=Device.CPU, val_fraction=0.5, reprelabel=False, seed=0, loss="weighted-ce"))
    with Project.open(path, readonly=True) as project:
        trained_on = project.get_model_version(result.model_version_id).trained_on
        shapes = {i: project.annotations(i) for i in trained_on["train_image_ids"]}
    model = build_model("unet_instances", ["cell"], pretrained=False).module
    assert isinstance(model, InstanceUNet)
    targets = []
    for masks in shapes.values():  # the dense targets of the training images, built here by hand
        stack = torch.from_numpy(np.stack([rle.decode(cast(Mask, a.geometry)) for a in masks]).astype(np.uint8))
        targets.append(model.label_map(stack, torch.ones(len(masks), dtype=torch.long), (128, 128)).numpy())
    counts = np.bincount(np.concatenate([t.ravel() for t in targets]), minlength=3).astype(np.float64)
    freq = counts / counts.sum()  # every class is in every image: median-frequency denominators are all pixels
    weights = np.clip(np.median(freq) / freq, 0.1, 10.0)
    expected = f"background {weights[0]:.3g}, cell interior {weights[1]:.3g}, boundary {weights[2]:.3g}"
    assert trained_on["loss"] == result.loss
    assert result.loss.startswith("instance maps: weighted-ce [median-frequency: ") and expected in result.loss, result.loss
