"""The pre-label job: predictions stored with their model version, finished images untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from annotations.geometry import Box, Mask, rle
from annotations.model import Image, ImageStatus, Prediction, PredictionState
from annotations.store import Project
from engine import checkpoints
from engine.errors import EngineInputError, JobCancelled
from engine.jobs.prelabel import run_prelabel, store_batch
from engine.protocol import Prelabel
from engine.versions import initial_version


def confident_masks(project_path: Path) -> None:
    """Make the untrained tiny Mask R-CNN's masks confident (its random mask logits sit just
    below 0.5, so every mask would be empty and dropped)."""
    with Project.open(project_path) as project:
        version = initial_version(project, "maskrcnn_tiny")
    path = checkpoints.resolve(project_path, version.weights_path)
    built, class_ids = checkpoints.load_model(path)
    with torch.no_grad():
        built.module.roi_heads.mask_predictor.mask_fcn_logits.bias.fill_(4.0)
    checkpoints.save_model(built, class_ids, path)
    from engine.versions import clear_cache

    clear_cache()


def test_instance_prelabels_are_stored_as_rle_with_their_version(blob_project: Path) -> None:
    confident_masks(blob_project)
    progress: list[tuple[int, int]] = []
    result = run_prelabel(Prelabel(str(blob_project), model="maskrcnn_tiny", allow_untrained=True,
                                   score_threshold=0.0, batch_size=2),
                          lambda done, total, message="", metrics=None: progress.append((done, total)))
    assert result.image_ids == (3, 4) and result.prediction_count > 0
    assert progress[0][1] == 2 and progress[-1] == (2, 2)
    with Project.open(blob_project, readonly=True) as project:
        (version,) = project.model_versions()
        assert version.id == result.model_version_id and not version.promoted
        assert version.architecture == "maskrcnn_tiny" and version.trained_on["init"] == "random"
        assert checkpoints.resolve(blob_project, version.weights_path).is_file()
        predictions = project.predictions()
        assert len(predictions) == result.prediction_count
        for p in predictions:
            assert p.image_id in (3, 4) and p.model_version_id == version.id and p.category_id == 1
            assert isinstance(p.geometry, Mask) and p.geometry.size == (96, 128) and rle.area(p.geometry) > 0
            assert p.state is PredictionState.PROPOSED and 0.0 <= p.score <= 1.0
        assert project.get_image(3).status is ImageStatus.PRELABELED
        assert project.get_image(4).status is ImageStatus.IN_PROGRESS  # only new -> prelabeled
        assert project.get_image(1).status is ImageStatus.DONE and project.predictions(1) == []

    # Again: the untrained version is reused and the earlier proposals are superseded.
    again = run_prelabel(Prelabel(str(blob_project), model="maskrcnn_tiny", allow_untrained=True, score_threshold=0.0))
    assert again.model_version_id == result.model_version_id
    with Project.open(blob_project, readonly=True) as project:
        assert len(project.model_versions()) == 1
        assert len(project.predictions(state=PredictionState.SUPERSEDED)) == result.prediction_count
        assert len(project.predictions(state=PredictionState.PROPOSED)) == again.prediction_count


def test_box_model_stores_boxes_and_skips_finished_images(blob_project: Path) -> None:
    result = run_prelabel(Prelabel(str(blob_project), model="fasterrcnn_tiny", allow_untrained=True,
                                   image_ids=(1, 3), score_threshold=0.0))
    assert result.image_ids == (3,) and result.skipped_image_ids == (1,)
    with Project.open(blob_project, readonly=True) as project:
        predictions = project.predictions()
        assert predictions and all(isinstance(p.geometry, Box) and p.image_id == 3 for p in predictions)


def test_image_finished_meanwhile_is_left_alone(blob_project: Path) -> None:
    with Project.open(blob_project) as project:
        image = project.get_image(3)
        project.put_image_status(3, ImageStatus.DONE)  # the annotator finished it while the model ran
        stored = store_batch(project, [(image, [Prediction(0, 3, 1, Box(1, 1, 5, 5), 0.9, 1)])])
        assert stored == 0 and project.predictions(3) == []
        assert project.get_image(3).status is ImageStatus.DONE


def test_bad_prelabel_requests(blob_project: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="no image with id 99"):
        run_prelabel(Prelabel(str(blob_project), model="unet_tiny", allow_untrained=True, image_ids=(99,)))
    with pytest.raises(EngineInputError, match="unknown model"):
        run_prelabel(Prelabel(str(blob_project), model="resnet9000"))
    with pytest.raises(EngineInputError, match="no model version|model version"):
        run_prelabel(Prelabel(str(blob_project), model="42"))
    (tmp_path / "blob3.png").unlink()
    with pytest.raises(EngineInputError, match=r"image 3 .*blob3\.png.*not found"):
        run_prelabel(Prelabel(str(blob_project), model="unet_tiny", allow_untrained=True, image_ids=(3,)))  # every image fails
    with pytest.raises(JobCancelled):
        run_prelabel(Prelabel(str(blob_project), model="unet_tiny", allow_untrained=True, image_ids=(4,)),
                     is_cancelled=lambda: True)


def test_prelabel_without_a_trained_or_pretrained_model_is_refused(blob_project: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """No promoted version and no pretrained weights on disk: an untrained network would only
    propose noise, so the default pre-label refuses with a message that says what to do, and
    stores nothing (no version row, no weight file)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    with Project.open(blob_project, readonly=True) as project:
        assert project.current_model_version() is None
        before = project.counts()
    with pytest.raises(EngineInputError, match="no promoted model yet"):
        run_prelabel(Prelabel(str(blob_project)))
    with Project.open(blob_project, readonly=True) as project:
        assert project.counts() == before
    assert not checkpoints.models_dir(blob_project).exists() or not any(checkpoints.models_dir(blob_project).rglob("*.pt"))


def test_an_image_named_twice_is_predicted_once(blob_project: Path) -> None:
    """``--images 3,3`` (or 3 twice in one batch): one set of proposals, not two."""
    once = run_prelabel(Prelabel(str(blob_project), model="fasterrcnn_tiny", allow_untrained=True,
                                 image_ids=(3,), score_threshold=0.0))
    twice = run_prelabel(Prelabel(str(blob_project), model="fasterrcnn_tiny", allow_untrained=True,
                                  image_ids=(3, 3), score_threshold=0.0))
    assert twice.image_ids == (3,)
    with Project.open(blob_project, readonly=True) as project:
        proposed = project.predictions(3, state=PredictionState.PROPOSED)
        assert len(proposed) == twice.prediction_count == once.prediction_count


def test_a_missing_or_unreadable_image_is_skipped_and_reported(blob_project: Path, tmp_path: Path) -> None:
    """One bad file does not abort the run: the other images (in later batches too) are
    predicted and stored, the bad ones are reported with the reason and left untouched."""
    with Project.open(blob_project) as project:
        project.put_image_status(4, ImageStatus.NEW)
        project.add_images([Image(5, "blob5.png", 128, 96, ImageStatus.NEW)])
    (tmp_path / "blob5.png").write_bytes((tmp_path / "blob4.png").read_bytes())
    (tmp_path / "blob3.png").unlink()  # missing
    (tmp_path / "blob4.png").write_bytes(b"not an image")  # unreadable
    result = run_prelabel(Prelabel(str(blob_project), model="fasterrcnn_tiny", allow_untrained=True,
                                   score_threshold=0.0, batch_size=1))
    assert result.image_ids == (5,)
    assert [image_id for image_id, _ in result.failed_images] == [3, 4]
    reasons = dict(result.failed_images)
    assert "blob3.png" in reasons[3] and "not found" in reasons[3]
    assert "blob4.png" in reasons[4] and "not a readable image" in reasons[4]
    with Project.open(blob_project, readonly=True) as project:
        assert result.prediction_count > 0
        assert {p.image_id for p in project.predictions()} == {5}
        assert project.get_image(5).status is ImageStatus.PRELABELED
        assert project.get_image(3).status is ImageStatus.NEW and project.get_image(4).status is ImageStatus.NEW
