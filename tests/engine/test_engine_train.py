"""The train job on real data: learning is real, promotion, lineage, pre-labels, cancel, seeds."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotations.geometry import Mask, rle
from annotations.model import ImageStatus
from annotations.store import Project
from engine import checkpoints
from engine.errors import EngineInputError, JobCancelled
from engine.evaluation import MIN_GAIN, PER_IMAGE, bootstrap_gain_interval, promotion_decision
from engine.jobs.train import run_train
from engine.protocol import Train


def membrane_truth(shared_data: Path, index: int, size: int) -> np.ndarray:
    label = cv2.imread(str(shared_data / "isbi2012_membrane" / "train_label" / f"{index}.png"), cv2.IMREAD_GRAYSCALE)
    return label[:size, :size] < 128


@pytest.mark.slow
def test_training_beats_the_untrained_model_and_prelabels_land(
    membrane_project: Callable[..., Path], shared_data: Path
) -> None:
    """Seeded training reproduces on one CPU only (float kernels differ between CPU models and
    thread counts, and a few dozen updates amplify the difference), so the thresholds are set
    against the spread over SEEDS and kernels, which is what another machine looks like.

    Measured spread of this exact request (AMD EPYC, 2 cores, 2026-12-07 02:25-02:55, engine with
    best-epoch weights kept), seed s, torch.set_num_threads(t), ATEN_CPU_CAPABILITY=default (the
    plain C++ kernels instead of AVX2, as on another CPU):

    ==========================  ===========  ===========  ====================
    configuration               baseline     val mIoU     pre-label IoU 7, 8
    ==========================  ===========  ===========  ====================
    t=1, seeds 0..9             0.094-0.406  0.642-0.776  0.441-0.615
    t=2, seeds 0, 2             0.102-0.103  0.644-0.754  0.443-0.590
    t=1, ATEN default, s=2, 3   0.102-0.105  0.657-0.743  0.427-0.607
    re-measured at 03:23 against the tree then (H5's data/evaluation changes):
    t=1, seeds 0, 2, 3          0.101-0.106  0.660-0.776  0.434-0.591
    t=2, seeds 0, 1, 2          0.100-0.101  0.662-0.771  0.435-0.598
    t=1, ATEN default, s=2, 4   0.101-0.412  0.653-0.780  0.433-0.601
    threshold                   < 0.45       > 0.55       > 0.35
    ==========================  ===========  ===========  ====================

    The old request (2 epochs x 10 iterations) gave val mIoU 0.368-0.776 and pre-label IoU
    0.044-0.553 in 11 runs (seeds 0..5 at 1 thread, 0..4 at 2); the AMD EPYC failure (0.4488 vs
    0.45) sat inside that spread. 4 x 15 iterations put the result far from the lines.

    - baseline < 0.45: the untrained net answers (nearly) one class; a constant answer scores at
      most max(background fraction) / 2 = 0.41 on these images (all membrane: 0.10).
    - val mIoU > 0.55: worst measured 0.642 (margin 0.09); and > baseline + 0.2: the runs whose
      baseline was 0.40-0.41 reached 0.747-0.776 (margin >= 0.14).
    - pre-label IoU > 0.35: worst measured 0.427 (margin 0.077); answering "all membrane" scores
      0.19 / 0.22 on these two images, so 0.35 still claims 1.6x the trivial answer.
    """
    project_path = membrane_project(n_done=6, n_new=2, size=256)
    request = Train(str(project_path), model="unet_tiny", epochs=4, batch_size=4, seed=0, iterations_per_epoch=15)
    result = run_train(request)

    # Learning is real: validation mIoU of the trained model vs the untrained one (same images).
    assert result.primary_metric == "miou"
    assert result.baseline_metrics["miou"] < 0.45
    assert result.metrics["miou"] > result.baseline_metrics["miou"] + 0.2
    assert result.metrics["miou"] > 0.55
    assert result.promoted

    with Project.open(project_path, readonly=True) as project:
        (version,) = project.model_versions()
        assert version.id == result.model_version_id and version.promoted and version.parent_id is None
        assert version.architecture == "unet_tiny" and version.classes == (1,)
        assert version.trained_on["image_ids"] == [1, 2, 3, 4, 5, 6]
        assert version.trained_on["revision"] == project.revision
        assert set(version.trained_on["val_image_ids"]).isdisjoint(version.trained_on["train_image_ids"])
        assert version.metrics["baseline"]["miou"] == pytest.approx(result.baseline_metrics["miou"])
        assert checkpoints.resolve(project_path, version.weights_path).is_file()

        # Pre-labels of the unfinished images, tagged with the new version; finished images untouched.
        assert result.prelabel is not None and result.prelabel.image_ids == (7, 8)
        for image_id, index in ((7, 6), (8, 7)):
            (prediction,) = project.predictions(image_id)
            assert prediction.model_version_id == version.id and prediction.category_id == 1
            assert isinstance(prediction.geometry, Mask) and prediction.geometry.size == (256, 256)
            assert project.get_image(image_id).status is ImageStatus.PRELABELED
            predicted, truth = rle.decode(prediction.geometry), membrane_truth(shared_data, index, 256)
            assert (predicted & truth).sum() / (predicted | truth).sum() > 0.35  # spread: see the docstring
        for image_id in range(1, 7):
            assert project.predictions(image_id) == []
            assert project.get_image(image_id).status is ImageStatus.DONE

    # A second run warm-starts from the promoted version; its baseline is that version.
    again = run_train(Train(str(project_path), model="unet_tiny", epochs=1, batch_size=4, seed=0,
                            iterations_per_epoch=3, reprelabel=False))
    assert again.baseline_metrics["miou"] == pytest.approx(result.metrics["miou"], abs=1e-9)
    with Project.open(project_path, readonly=True) as project:
        second = project.get_model_version(again.model_version_id)
        assert second.parent_id == version.id
        assert second.trained_on["init"].startswith("version:")
        # Promotion needs a real gain (engine.evaluation.MIN_GAIN), not any gain.
        assert second.promoted == (again.metrics["miou"] - again.baseline_metrics["miou"] >= MIN_GAIN)
    assert not (checkpoints.models_dir(project_path) / "runs").exists() or not any(
        (checkpoints.models_dir(project_path) / "runs").iterdir())


def test_seeded_runs_reproduce(membrane_project: Callable[..., Path]) -> None:
    histories = []
    for _ in range(2):
        path = membrane_project(n_done=3, n_new=0, size=128)
        result = run_train(Train(str(path), model="unet_tiny", epochs=1, batch_size=2, seed=5,
                                 iterations_per_epoch=3, reprelabel=False))
        histories.append((result.history, result.baseline_metrics))
    assert histories[0] == histories[1]


def test_cancel_mid_training_leaves_nothing_behind(membrane_project: Callable[..., Path]) -> None:
    path = membrane_project(n_done=3, n_new=1, size=128)
    calls = {"n": 0}
    progress_seen: list[int] = []

    def cancel_after_three_iterations() -> bool:
        calls["n"] += 1
        return len(progress_seen) > 3

    with pytest.raises(JobCancelled):
        run_train(Train(str(path), model="unet_tiny", epochs=20, batch_size=2, iterations_per_epoch=10),
                  lambda done, total, message="", metrics=None: progress_seen.append(done),
                  cancel_after_three_iterations)
    assert len(progress_seen) <= 6  # stopped within one iteration of the request
    with Project.open(path, readonly=True) as project:
        assert project.model_versions() == []
        assert project.predictions() == []
    folder = checkpoints.models_dir(path)
    assert not folder.exists() or not list(folder.rglob("*.pt"))


def test_bad_training_requests_are_input_errors(membrane_project: Callable[..., Path]) -> None:
    one = membrane_project(n_done=1, n_new=1, size=64)
    with pytest.raises(EngineInputError, match="at least 2 finished images"):
        run_train(Train(str(one), model="unet_tiny", epochs=1))
    with pytest.raises(EngineInputError, match="unknown model"):
        run_train(Train(str(one), model="no_such_net"))
    with pytest.raises(EngineInputError, match="epochs"):
        run_train(Train(str(one), model="unet_tiny", epochs=0))


@pytest.mark.slow
def test_instance_model_trains_and_validates_with_coco_map(blob_project: Path) -> None:
    result = run_train(Train(str(blob_project), model="maskrcnn_tiny", epochs=1, batch_size=1, seed=0,
                             iterations_per_epoch=2, val_fraction=0.5))
    assert result.primary_metric == "segm_map"
    for metrics in (result.metrics, result.baseline_metrics):
        assert metrics["val_images"] == 1 and metrics["val_objects"] == 2
        assert metrics["segm_map"] is None or 0.0 <= metrics["segm_map"] <= 1.0
        assert metrics["bbox_map"] is None or 0.0 <= metrics["bbox_map"] <= 1.0
        assert list(metrics[PER_IMAGE]) == [str(i) for i in result.history[0]["val"][PER_IMAGE]]  # one AP per image
        assert len(metrics[PER_IMAGE]) == 1
    with Project.open(blob_project, readonly=True) as project:
        (version,) = project.model_versions()
        assert version.architecture == "maskrcnn_tiny" and version.promoted == result.promoted


def test_warm_start_parent_without_its_weight_file_is_a_clear_input_error(blob_project: Path) -> None:
    from dataclasses import replace

    from engine.versions import initial_version

    with Project.open(blob_project) as project:
        version = initial_version(project, "unet_tiny")
        project.update_model_version(replace(version, promoted=True))
    missing = checkpoints.resolve(blob_project, version.weights_path)
    missing.unlink()
    with pytest.raises(EngineInputError, match=rf"model version {version.id} .*{missing.name}.*--weights"):
        run_train(Train(str(blob_project), epochs=1, iterations_per_epoch=1))


def test_one_class_validation_reports_saliency_measures(membrane_project: Callable[..., Path]) -> None:
    """A foreground/background model's validation carries the saliency measures of its probability
    maps (soft maps: the threshold-swept F-beta and E-measure exist), consistent with the mIoU
    line: MAE and S-measure within [0, 1], and the same validation images counted."""
    path = membrane_project(n_done=3, n_new=0, size=96)
    result = run_train(Train(str(path), model="unet_tiny", epochs=1, batch_size=2, seed=1,
                             iterations_per_epoch=2, reprelabel=False))
    saliency = result.metrics["saliency"]
    assert saliency["images"] == result.metrics["val_images"]
    assert saliency["soft"] is True
    assert saliency["fbeta_max"] is not None and saliency["e_max"] is not None
    assert 0.0 <= saliency["mae"] <= 1.0 and 0.0 <= saliency["s_measure"] <= 1.0
    assert "saliency" in result.baseline_metrics  # the untrained model is measured the same way


def per_image(values: list[float]) -> dict[str, object]:
    """Validation metrics as evaluate() gives them: the aggregate (here the mean) and per image."""
    return {"miou": sum(values) / len(values), "val_images": len(values),
            PER_IMAGE: {str(i + 1): v for i, v in enumerate(values)}}


def test_promotion_refuses_too_few_images_and_small_gains_and_says_why() -> None:
    few = promotion_decision(per_image([0.9, 0.9]), per_image([0.1, 0.1]), "miou", min_val_images=3)
    assert not few.promoted and "only 2 validation image(s); at least 3" in few.reason
    small = promotion_decision(per_image([0.51, 0.52, 0.50, 0.51]), per_image([0.50, 0.50, 0.49, 0.50]), "miou")
    assert not small.promoted and "below the minimum 0.02" in small.reason
    undefined = promotion_decision({"miou": None, "val_images": 3}, None, "miou")
    assert not undefined.promoted and "undefined" in undefined.reason


def test_promotion_needs_a_gain_that_survives_resampling_the_validation_images() -> None:
    # Mean gain +0.08 (above MIN_GAIN) made of one big win and losses elsewhere: luck of the split.
    lucky = promotion_decision(per_image([0.9, 0.3, 0.35, 0.3, 0.35]), per_image([0.3, 0.35, 0.4, 0.35, 0.4]), "miou")
    assert not lucky.promoted and "bootstrap interval" in lucky.reason and "reaches 0" in lucky.reason
    # The same mean gain, +0.08 on every image: real.
    steady = promotion_decision(per_image([0.48, 0.53, 0.58, 0.43, 0.48]), per_image([0.4, 0.45, 0.5, 0.35, 0.4]), "miou")
    assert steady.promoted and "lies above 0" in steady.reason
    # Two images: no interval, the absolute rules decide and the reason says so.
    two = promotion_decision(per_image([0.9, 0.3]), per_image([0.3, 0.35]), "miou")
    assert two.promoted and "too few images" in two.reason


def test_bootstrap_interval_brackets_the_mean_gain_and_repeats() -> None:
    new, old = per_image([0.9, 0.3, 0.35, 0.3, 0.35]), per_image([0.3, 0.35, 0.4, 0.35, 0.4])
    interval = bootstrap_gain_interval(new, old)
    assert interval is not None and interval.images == 5
    assert interval.mean_gain == pytest.approx(0.08)
    assert interval.low < 0.0 < interval.mean_gain < interval.high <= 0.6  # a max gain of +0.6 bounds every mean
    assert bootstrap_gain_interval(new, old) == interval  # seeded: the same decision every time
    assert bootstrap_gain_interval(per_image([0.5, 0.6]), None) is None  # too few images to resample
    first = bootstrap_gain_interval(per_image([0.5, 0.6, 0.7]), None)  # no baseline: gains against 0
    assert first is not None and first.low >= 0.5 and first.high <= 0.7
