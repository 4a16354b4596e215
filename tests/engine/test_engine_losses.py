"""Semantic training losses (engine.losses) and their automatic choice (engine.loss_choice):
hand-computed values on tiny tensors, ignore pixels, gradients, class weights, the train job's
record of the loss."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from annotations.store import Project
from engine.errors import EngineInputError
from engine.losses import (
    ClassFrequencies,
    ClassWeighting,
    LossConfig,
    LossKind,
    SemanticLoss,
    binary_map_loss,
    binary_map_weights,
    choose_loss,
    class_weights,
    count_class_pixels,
    cross_entropy,
    inverse_sqrt_weights,
    median_frequency_weights,
    semantic_loss_for,
    soft_dice_loss,
    soft_dice_loss_from_logits,
    training_criterion,
    two_map_weights,
)

IGNORE = 255
KINDS = (LossKind.CE, LossKind.WEIGHTED_CE, LossKind.DICE, LossKind.CE_DICE)


def _tiny() -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 2, 1, 3) logits and (1, 1, 3) labels: class 0, class 1, ignore."""
    logits = torch.tensor([[[[2.0, 0.0, -5.0]], [[0.0, 1.0, 7.0]]]])
    labels = torch.tensor([[[0, 1, IGNORE]]])
    return logits, labels


# ------------------------------------------------------------------------------------ values
def test_cross_entropy_matches_the_hand_computed_value() -> None:
    logits, labels = _tiny()
    # -log softmax: pixel 0 (class 0, logits 2 vs 0) and pixel 1 (class 1, logits 0 vs 1); pixel 2 ignored
    l0, l1 = math.log(1 + math.exp(-2)), math.log(1 + math.exp(-1))
    assert float(cross_entropy(logits, labels)) == pytest.approx((l0 + l1) / 2, abs=1e-6)


def test_weighted_cross_entropy_matches_the_hand_computed_value_and_torch() -> None:
    logits, labels = _tiny()
    weight = torch.tensor([1.0, 3.0])
    l0, l1 = math.log(1 + math.exp(-2)), math.log(1 + math.exp(-1))
    expected = (1.0 * l0 + 3.0 * l1) / (1.0 + 3.0)
    assert float(cross_entropy(logits, labels, weight)) == pytest.approx(expected, abs=1e-6)
    reference = F.cross_entropy(logits, labels, weight=weight, ignore_index=IGNORE)
    assert float(cross_entropy(logits, labels, weight)) == pytest.approx(float(reference), abs=1e-6)


def test_soft_dice_matches_the_hand_computed_value() -> None:
    # pixels: p=(0.8, 0.2) label 0; p=(0.4, 0.6) label 1; p=(0, 1) ignored
    probabilities = torch.tensor([[[[0.8, 0.4, 0.0]], [[0.2, 0.6, 1.0]]]])
    labels = torch.tensor([[[0, 1, IGNORE]]])
    # class 0: overlap 0.8, sum(t + p) = 1 + 0.8 + 0.4 = 2.2; class 1: overlap 0.6, sum = 0.2 + 1 + 0.6 = 1.8
    plain = 1 - (1.6 / 2.2 + 1.2 / 1.8) / 2
    smoothed = 1 - ((1.6 + 1) / (2.2 + 1) + (1.2 + 1) / (1.8 + 1)) / 2
    assert float(soft_dice_loss(probabilities, labels, smooth=0.0)) == pytest.approx(plain, abs=1e-6)
    assert float(soft_dice_loss(probabilities, labels, smooth=1.0)) == pytest.approx(smoothed, abs=1e-6)


def test_ce_plus_dice_is_the_sum_of_its_parts() -> None:
    logits, labels = _tiny()
    loss, parts = SemanticLoss(LossConfig(LossKind.CE_DICE, dice_weight=0.5), 2)(logits, labels)
    expected = float(cross_entropy(logits, labels)) + 0.5 * float(soft_dice_loss_from_logits(logits, labels))
    assert float(loss) == pytest.approx(expected, abs=1e-6)
    assert parts["loss_ce"] == pytest.approx(float(cross_entropy(logits, labels)), abs=1e-6)
    assert parts["loss_dice"] == pytest.approx(float(soft_dice_loss_from_logits(logits, labels)), abs=1e-6)


def test_dice_is_zero_for_a_perfect_one_hot_prediction_even_with_an_absent_class() -> None:
    labels = torch.tensor([[[0, 1, 1], [0, 0, IGNORE]]])  # class 2 absent from labels and prediction
    probabilities = F.one_hot(labels.masked_fill(labels == IGNORE, 2), 3).permute(0, 3, 1, 2).float()
    for include_absent in (False, True):
        assert float(soft_dice_loss(probabilities, labels, include_absent=include_absent)) == pytest.approx(0.0, abs=1e-7)
    # the absent class predicted on one labelled pixel of class 0 (3 pixels): class 0 loses it,
    # Dice (2 * 2 + 1) / (3 + 2 + 1); averaged over the present classes 0 and 1 (class 1 perfect)
    wrong = probabilities.clone()
    wrong[0, :, 0, 0] = torch.tensor([0.0, 0.0, 1.0])
    assert float(soft_dice_loss(wrong, labels)) == pytest.approx(1 - (5 / 6 + 1) / 2, abs=1e-6)
    # include_absent also averages in class 2's Dice (0 + 1) / (0 + 1 + 1) = 0.5
    assert float(soft_dice_loss(wrong, labels, include_absent=True)) == pytest.approx(
        1 - (5 / 6 + 1 + 0.5) / 3, abs=1e-6)


def test_dice_averages_over_the_classes_present_in_the_batch_unless_asked() -> None:
    # 3 classes, only 0 and 1 labelled: soft probabilities everywhere, class 2 gets some mass
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 4, 4, generator=generator, requires_grad=True)
    labels = torch.randint(0, 2, (2, 4, 4), generator=generator)
    p = logits.softmax(1)
    truth = F.one_hot(labels, 3).permute(0, 3, 1, 2).float()
    dice = (2 * (truth * p).sum((0, 2, 3)) + 1) / ((truth + p).sum((0, 2, 3)) + 1)
    assert float(soft_dice_loss_from_logits(logits, labels)) == pytest.approx(1 - float(dice[:2].mean()), abs=1e-6)
    assert float(soft_dice_loss_from_logits(logits, labels, include_absent=True)) == pytest.approx(
        1 - float(dice.mean()), abs=1e-6)


def test_the_loss_config_passes_include_absent_to_the_dice_term() -> None:
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(1, 3, 4, 4, generator=generator)
    labels = torch.randint(0, 2, (1, 4, 4), generator=generator)
    for include_absent in (False, True):
        value, parts = SemanticLoss(LossConfig(LossKind.DICE, dice_include_absent=include_absent), 3)(logits, labels)
        assert float(value) == pytest.approx(
            float(soft_dice_loss_from_logits(logits, labels, include_absent=include_absent)), abs=1e-6)


# ------------------------------------------------------------------------------------ ignore
@pytest.mark.parametrize("kind", KINDS)
def test_ignore_pixels_change_nothing(kind: LossKind) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 8, 8, generator=generator)
    labels = torch.randint(0, 3, (2, 8, 8), generator=generator)
    labels[:, :3, :] = IGNORE
    config = LossConfig(kind, class_weights=(0.5, 1.0, 4.0))
    loss = SemanticLoss(config, 3)
    base = logits.clone().requires_grad_(True)
    value, _ = loss(base, labels)
    value.backward()
    changed = logits.clone()
    changed[:, :, :3, :] = torch.randn(2, 3, 3, 8, generator=generator) * 10
    assert float(loss(changed, labels)[0].detach()) == pytest.approx(float(value.detach()), abs=1e-6)
    assert base.grad is not None
    assert float(base.grad[:, :, :3, :].abs().max()) == 0.0  # no gradient from an ignored pixel
    assert float(base.grad[:, :, 3:, :].abs().max()) > 0.0


def test_a_batch_of_only_ignore_pixels_gives_zero_not_nan() -> None:
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    labels = torch.full((1, 4, 4), IGNORE)
    for kind in KINDS:
        value, _ = SemanticLoss(LossConfig(kind, class_weights=(1.0, 2.0)), 2)(logits, labels)
        assert math.isfinite(float(value.detach()))
        value.backward()


def test_ignore_pixels_are_not_counted_in_the_class_frequencies() -> None:
    a = np.array([[0, 0, 1], [IGNORE, IGNORE, 1]], np.uint8)
    b = np.array([[0, 0], [0, IGNORE]], np.uint8)
    frequencies = count_class_pixels([a, b], 3)
    assert frequencies.pixel_counts == (5, 2, 0)
    assert frequencies.present_image_pixels == (4 + 3, 4, 0)  # labelled pixels of the images containing the class
    with pytest.raises(EngineInputError, match="value 7"):
        count_class_pixels([np.array([[7]], np.uint8)], 3)


# ------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("kind", KINDS)
def test_gradients_flow_through_every_loss_into_a_model(kind: LossKind) -> None:
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 3, padding=1)
    images = torch.rand(2, 3, 16, 16)
    labels = torch.randint(0, 3, (2, 16, 16))
    loss = SemanticLoss(LossConfig(kind, class_weights=(0.3, 1.0, 5.0)), 3)
    value, parts = loss(model(images), labels)
    value.backward()
    assert parts and all(math.isfinite(v) for v in parts.values())
    grad = model.weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all()) and float(grad.abs().sum()) > 0
    # one SGD step lowers this batch's loss
    with torch.no_grad():
        for p in model.parameters():
            assert p.grad is not None
            p.sub_(0.05 * p.grad)
    assert float(loss(model(images), labels)[0].detach()) < float(value.detach())


# ------------------------------------------------------------------------------------ weights
def test_median_frequency_weights_follow_the_segnet_formula() -> None:
    # image A: 6 px class 0, 2 px class 1; image B: 3 px class 0, 1 px class 2 (and 4 ignore)
    a = np.array([[0, 0, 0, 0], [0, 0, 1, 1]], np.uint8)
    b = np.array([[0, 0, 0, 2], [IGNORE] * 4], np.uint8)
    frequencies = count_class_pixels([a, b], 4)
    freq = np.array([9 / 12, 2 / 8, 1 / 4])  # pixels of c / labelled pixels of images with c
    median = float(np.median(freq))
    weights = median_frequency_weights(frequencies, clip=(0.01, 100.0))
    assert weights[:3] == pytest.approx(tuple(median / freq), abs=1e-12)
    assert weights[3] == 1.0  # absent class
    clipped = median_frequency_weights(frequencies, clip=(0.5, 1.0))
    assert clipped[:3] == pytest.approx(tuple(np.clip(median / freq, 0.5, 1.0)), abs=1e-12)


def test_inverse_sqrt_weights_follow_their_formula() -> None:
    frequencies = ClassFrequencies((800, 150, 50, 0), (1000, 1000, 1000, 0))
    shares = np.array([0.8, 0.15, 0.05])
    expected = np.sqrt(np.median(shares) / shares)
    assert inverse_sqrt_weights(frequencies, clip=(0.01, 100.0)) == pytest.approx((*expected, 1.0), abs=1e-12)
    assert inverse_sqrt_weights(frequencies, clip=(0.5, 1.5)) == pytest.approx(
        (*np.clip(expected, 0.5, 1.5), 1.0), abs=1e-12)
    assert class_weights(frequencies, ClassWeighting.INVERSE_SQRT, (0.01, 100.0)) == pytest.approx(
        (*expected, 1.0), abs=1e-12)
    with pytest.raises(EngineInputError, match="clip"):
        inverse_sqrt_weights(frequencies, clip=(2.0, 1.0))


def test_two_map_weights_weigh_a_binary_map_like_two_classes() -> None:
    negative, positive = two_map_weights(positive_pixels=10, negative_pixels=90, clip=(0.01, 100.0))
    freq = np.array([0.9, 0.1])
    assert (negative, positive) == pytest.approx(tuple(np.median(freq) / freq), abs=1e-12)
    assert positive / negative == pytest.approx(9.0)  # BCE pos_weight


def test_binary_map_weights_count_each_map_over_all_images_without_ignore() -> None:
    first = np.array([[[1, 0, 0, IGNORE]], [[0, 0, 0, 1]]], np.uint8)  # (2 maps, 1, 4)
    second = np.array([[[1, 1, 0, 0]], [[0, 0, 0, IGNORE]]], np.uint8)
    weights = binary_map_weights([first, second], clip=(0.01, 100.0))
    assert weights == [two_map_weights(3, 4, clip=(0.01, 100.0)), two_map_weights(1, 6, clip=(0.01, 100.0))]
    assert binary_map_weights([]) == []
    with pytest.raises(EngineInputError, match="maps"):
        binary_map_weights([first, first[:1]])


def test_binary_map_loss_matches_the_hand_computed_value_and_ignores_void() -> None:
    logits = torch.tensor([[[[0.0, 2.0, -1.0]], [[1.0, 1.0, 1.0]]]])  # (1, 2 maps, 1, 3)
    targets = torch.tensor([[[[1, 0, IGNORE]], [[0, 1, 1]]]])
    bce = lambda x, t: math.log(1 + math.exp(-x)) if t else math.log(1 + math.exp(x))  # noqa: E731 - the reference formula reads best as a one-line lambda
    map0 = (2.0 * bce(0.0, 1) + 1.0 * bce(2.0, 0)) / 3.0  # weights (negative 1, positive 2)
    map1 = (1.0 * bce(1.0, 0) + 2.0 * bce(1.0, 1) * 2) / 5.0
    value = binary_map_loss(logits, targets, [(1.0, 2.0), (1.0, 2.0)])
    assert float(value) == pytest.approx((map0 + map1) / 2, abs=1e-6)
    plain = binary_map_loss(logits, targets)
    assert float(plain) == pytest.approx(((bce(0.0, 1) + bce(2.0, 0)) / 2 + (bce(1.0, 0) + 2 * bce(1.0, 1)) / 3) / 2,
                                         abs=1e-6)
    changed = logits.clone()
    changed[0, 0, 0, 2] = 50.0  # an ignored pixel
    assert float(binary_map_loss(changed, targets, dice_weight=1.0)) == pytest.approx(
        float(binary_map_loss(logits, targets, dice_weight=1.0)), abs=1e-6)


# ------------------------------------------------------------------------------------ choice
def test_auto_keeps_cross_entropy_when_classes_are_balanced() -> None:
    config = choose_loss(LossKind.AUTO, ClassFrequencies((700, 300), (1000, 1000)), ["background", "membrane"])
    assert config.kind is LossKind.CE
    assert "balanced enough" in config.reason and "'membrane'" in config.reason and "30%" in config.reason


def test_auto_picks_a_balancing_loss_when_classes_are_very_unbalanced() -> None:
    frequencies = ClassFrequencies((9000, 950, 50), (10000, 10000, 2000))
    config = choose_loss("auto", frequencies, ["background", "road", "pole"])
    assert config.kind is LossKind.WEIGHTED_CE and config.class_weights[2] > config.class_weights[0]
    assert "very unbalanced" in config.reason and "'pole'" in config.reason and "180x" in config.reason
    assert config.describe().startswith("weighted-ce [median-frequency: ")
    dice = choose_loss("auto", frequencies, ["background", "road", "pole"], unbalanced_kind=LossKind.CE_DICE)
    assert dice.kind is LossKind.CE_DICE
    # just below the threshold: plain cross-entropy
    near = ClassFrequencies((909, 91), (1000, 1000))
    assert choose_loss("auto", near).kind is LossKind.CE
    assert choose_loss("auto", ClassFrequencies((910, 90), (1000, 1000))).kind is LossKind.WEIGHTED_CE


def test_auto_with_one_class_and_explicit_choices() -> None:
    assert choose_loss("auto", ClassFrequencies((100, 0), (100, 0))).kind is LossKind.CE
    explicit = choose_loss("weighted-ce", ClassFrequencies((9000, 10), (9010, 9010)))
    assert explicit.kind is LossKind.WEIGHTED_CE and explicit.reason == "chosen by the user"
    assert "weighted-ce [median-frequency" in explicit.describe()
    with pytest.raises(EngineInputError, match="unknown training loss 'focal'"):
        choose_loss("focal", None)
    with pytest.raises(EngineInputError, match="class frequencies"):
        choose_loss("weighted-ce", None)
    with pytest.raises(EngineInputError, match="resolve"):
        SemanticLoss(LossConfig(LossKind.AUTO), 2)


def test_semantic_loss_for_counts_label_maps_and_builds_the_weighted_loss() -> None:
    maps = [np.array([[0] * 30 + [1] * 2 + [IGNORE] * 8], np.uint8)]
    loss = semantic_loss_for("auto", maps, ["background", "rare"])
    assert loss.config.kind is LossKind.WEIGHTED_CE
    assert loss.config.class_weights == pytest.approx(median_frequency_weights(count_class_pixels(maps, 2)))


def test_detectors_keep_their_own_losses() -> None:
    assert training_criterion("auto", True, [], {}, []) == (None, "the model's own detection losses")
    with pytest.raises(EngineInputError, match="semantic"):
        training_criterion("dice", True, [], {}, [])


def test_train_cli_accepts_every_loss() -> None:
    from cli import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.register(parser.add_subparsers())
    for kind in LossKind:
        assert parser.parse_args(["train", "p.segproj", "--loss", kind.value]).loss == kind.value
    assert parser.parse_args(["train", "p.segproj"]).loss == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "p.segproj", "--loss", "focal"])


# ------------------------------------------------------------------------------------ the job
def test_the_train_job_uses_and_records_the_requested_loss(membrane_project: Callable[..., Path]) -> None:
    from engine.jobs.train import run_train
    from engine.protocol import Train

    torch.set_num_threads(1)
    path = membrane_project(n_done=3, n_new=0, size=96)
    result = run_train(Train(str(path), model="unet_tiny", epochs=1, batch_size=2, seed=0, iterations_per_epoch=2,
                             reprelabel=False, loss="ce+dice"))
    assert result.loss == "ce+dice (chosen by the user)"
    auto = run_train(Train(str(path), model="unet_tiny", epochs=1, batch_size=2, seed=0, iterations_per_epoch=1,
                           reprelabel=False))
    # membranes are about a fifth of the pixels: balanced enough for plain cross-entropy
    assert auto.loss.startswith("ce (auto: classes balanced enough") and "'membrane'" in auto.loss
    assert "than 'background'" in auto.loss
    with Project.open(path, readonly=True) as project:
        assert project.get_model_version(result.model_version_id).trained_on["loss"] == result.loss
        assert project.get_model_version(auto.model_version_id).trained_on["loss"] == auto.loss


# ------------------------------------------------------------------ class-balanced crops
def test_rare_classes_are_drawn_by_inverse_square_root_share() -> None:
    from engine.rare_class_crops import class_draw_probabilities

    p = class_draw_probabilities(np.array([90, 9, 1, 0]))
    raw = np.array([1 / math.sqrt(0.9), 1 / math.sqrt(0.09), 1 / math.sqrt(0.01), 0.0])
    assert p == pytest.approx(raw / raw.sum())
    assert p[3] == 0.0 and class_draw_probabilities(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]


def test_rare_class_crops_centre_on_a_pixel_of_the_drawn_class() -> None:
    from engine.rare_class_crops import RareClassCrops

    common = np.zeros((20, 30), np.uint8)
    common[:, 15:] = 1
    rare = common.copy()
    rare[3, 4] = 2  # one pixel of class 2, in image 1 only
    rare[0, :] = IGNORE
    sampler = RareClassCrops([common, rare], 3, probability=1.0)
    assert sampler.images_with_class == ((0, 1), (0, 1), (1,))
    rng = np.random.default_rng(0)
    draws = [sampler.draw(rng) for _ in range(2000)]
    for d in draws:
        assert d.centre_yx is not None and d.class_index is not None
        assert [common, rare][d.image_index][d.centre_yx] == d.class_index  # never an ignore pixel
    share_rare = sum(d.class_index == 2 for d in draws) / len(draws)
    # class 2 is 1 of 1129 labelled pixels: drawn with probability 0.905 (binomial sd 0.007 over 2000 draws)
    assert share_rare == pytest.approx(float(sampler.class_probabilities[2]), abs=0.03)
    assert all(d.centre_yx == (3, 4) for d in draws if d.class_index == 2)


def test_rare_class_crops_at_probability_zero_are_the_uniform_draws() -> None:
    from engine.rare_class_crops import RareClassCrops, crop_origin

    maps = [np.zeros((40, 40), np.uint8), np.ones((40, 40), np.uint8)]
    sampler = RareClassCrops(maps, 2, probability=0.0)
    mine, plain = np.random.default_rng(5), np.random.default_rng(5)
    for _ in range(50):  # the same random stream as choosing an image and a crop uniformly
        d = sampler.draw(mine)
        assert d.centre_yx is None and d.image_index == int(plain.integers(2))
        assert crop_origin((40, 50), 32, None, mine) == (int(plain.integers(0, 9)), int(plain.integers(0, 19)))


def test_crop_origin_centres_and_shifts_the_crop_into_the_image() -> None:
    from engine.rare_class_crops import RareClassCrops, crop_origin

    rng = np.random.default_rng(0)
    assert crop_origin((100, 120), 32, (50, 60), rng) == (34, 44)
    assert crop_origin((100, 120), 32, (2, 119), rng) == (0, 88)
    with pytest.raises(EngineInputError, match="larger than"):
        crop_origin((20, 120), 32, None, rng)
    with pytest.raises(EngineInputError, match="probability"):
        RareClassCrops([np.zeros((4, 4), np.uint8)], 2, probability=1.5)
    with pytest.raises(EngineInputError, match="label map 0"):
        RareClassCrops([np.full((4, 4), 7, np.uint8)], 2)
