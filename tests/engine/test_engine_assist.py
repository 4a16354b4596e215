"""Model assistance without lies: day-one pre-labels from fetched COCO weights (through a loopback
server, a weight file the test writes), refusals to store an untrained network's output (naming
the version that exists and ``--model N``), promotion only on a real gain, review priorities."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchvision
from weights_server import Server

import main as entry
from annotations.model import Category, Image, ImageStatus, ModelVersion
from annotations.store import Project
from cli.info import format_summary, project_summary
from engine.errors import EngineInputError
from engine.evaluation import MIN_GAIN, epoch_rank, promotion_decision
from engine.jobs.prelabel import run_prelabel
from engine.models import weight_files as F
from engine.pretrained_classes import COCO_CATEGORIES, PRETRAINED_FILES, VOC_CATEGORIES
from engine.priority import detection_priority, read_priorities, worst_first
from engine.protocol import Prelabel

DETECTOR = "fasterrcnn_mobilenet_v3_large_320_fpn"
PERSON = COCO_CATEGORIES.index("person")



@pytest.fixture
def torch_home(torch_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared private cache, with no weight files registered by other tests."""
    monkeypatch.setattr(F, "_extra", {})
    return torch_home


def people_project(folder: Path, names: list[str]) -> Path:
    """Two NEW photos-to-be (noise images) in a project with the given class names."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "street.segproj"
    project = Project.create(path, [Category(i + 1, n, "#ff0000") for i, n in enumerate(names)])
    rng = np.random.default_rng(0)
    images = []
    for k in (1, 2):
        cv2.imwrite(str(folder / f"p{k}.png"), rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
        images.append(Image(k, f"p{k}.png", 320, 240))
    project.add_images(images)
    project.close()
    return path


def coco_detector_file() -> bytes:
    """A random-weight 91-class COCO detector state dict whose box classifier is sure every box
    is a person (so a zero-shot pre-label has something to store)."""
    torch.manual_seed(0)
    model = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None,
                                                                               num_classes=91)
    state = model.state_dict()
    state["roi_heads.box_predictor.cls_score.bias"][PERSON] = 12.0
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_pretrained_class_tables_match_torchvision() -> None:
    from torchvision.models import _meta, get_weight

    from engine.models.registry import get_spec

    assert COCO_CATEGORIES == tuple(_meta._COCO_CATEGORIES) and VOC_CATEGORIES == tuple(_meta._VOC_CATEGORIES)
    for model, (dataset, filename) in PRETRAINED_FILES.items():
        weight = get_weight(get_spec(model).weights or "")
        assert filename == Path(weight.url).name
        assert list(weight.meta["categories"]) == list(COCO_CATEGORIES if dataset == "coco" else VOC_CATEGORIES)


def test_fetch_through_loopback_then_zero_shot_prelabel_of_a_coco_class(tmp_path: Path, server: Server,
                                                                        torch_home: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    project_path = people_project(tmp_path / "p", ["person", "nucleus"])
    # Before the fetch: nothing on disk, nothing can be proposed, the refusal says how to fetch.
    with pytest.raises(EngineInputError, match="weights"):
        run_prelabel(Prelabel(str(project_path)))
    body = coco_detector_file()
    official = F.find(DETECTOR)
    server.put(official.filename, body)
    # torchvision's file name; the test file's own hash stands in for the official one.
    F.register([replace(official, sha256=hashlib.sha256(body).hexdigest(),
                        hash_prefix=hashlib.sha256(body).hexdigest()[:8])])
    assert entry.main(["weights", "fetch", DETECTOR, "--mirror", server.base + "/models"]) == 0
    assert (torch_home / official.filename).read_bytes() == body
    assert "stored" in capsys.readouterr().out

    with Project.open(project_path, readonly=True) as project:
        summary = project_summary(project)
    assert any(b["model"] == DETECTOR and b["classes"] == ["person"] and b["weights_on_disk"]
               for b in summary["before_training"])
    assert "can propose person" in format_summary(summary)

    result = run_prelabel(Prelabel(str(project_path), score_threshold=0.5))  # no training, no --model
    assert result.prediction_count > 0
    with Project.open(project_path, readonly=True) as project:
        version = project.get_model_version(result.model_version_id)
        assert version.architecture == DETECTOR and version.trained_on["image_ids"] == []
        assert version.trained_on["init"].startswith("torchvision:")
        # Only the class the COCO weights know is proposed; "nucleus" (an untrained row) is not.
        assert {p.category_id for p in project.predictions()} == {1}
        assert set(read_priorities(project)) == {1, 2}


def test_weights_fetch_cli_failure_exits_2_and_leaves_the_cache_alone(server: Server, torch_home: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert entry.main(["weights", "fetch", DETECTOR, "--mirror", server.base + "/nothing-here"]) == 2
    assert "HTTP 404" in capsys.readouterr().err
    assert not torch_home.exists() or not any(torch_home.iterdir())
    assert entry.main(["weights", "fetch", "no-such-weights"]) == 2


def test_untrained_networks_are_refused_and_the_flag_allows_them(blob_project: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(EngineInputError, match=r"(?s)no promoted version .*allow-untrained") as refusal:
        run_prelabel(Prelabel(str(blob_project), model="maskrcnn_tiny"))
    assert "main.py train" in str(refusal.value)
    result = run_prelabel(Prelabel(str(blob_project), model="maskrcnn_tiny", allow_untrained=True,
                                   score_threshold=0.0))
    with pytest.raises(EngineInputError, match=f"(?s)version {result.model_version_id} .*never trained"):
        run_prelabel(Prelabel(str(blob_project), model=str(result.model_version_id)))


def test_refusal_names_the_unpromoted_version_and_how_to_use_it(blob_project: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with Project.open(blob_project) as project:
        version = project.add_model_version(ModelVersion(
            0, "unet_tiny", (1,), {"image_ids": [1, 2], "init": "random"},
            {"primary": "miou", "miou": 0.41, "baseline": {"miou": 0.40},
             "promotion_reason": "gain below the minimum"}, "somewhere.pt", promoted=False))
    with pytest.raises(EngineInputError) as refusal:
        run_prelabel(Prelabel(str(blob_project)))
    message = str(refusal.value)
    assert f"version {version.id} (unet_tiny, trained on 2 images; miou 0.410 vs 0.400 before; not promoted" in message
    assert f"--model {version.id}" in message


def test_promotion_needs_a_real_gain_on_enough_images() -> None:
    noise = promotion_decision({"segm_map": 0.0005, "val_images": 8}, {"segm_map": 0.0}, "segm_map")
    assert not noise.promoted and "below the minimum" in noise.reason
    few = promotion_decision({"miou": 0.9, "val_images": 1}, {"miou": 0.1}, "miou", min_val_images=2)
    assert not few.promoted and "validation image" in few.reason
    real = promotion_decision({"miou": 0.40, "val_images": 3}, {"miou": 0.40 - 2 * MIN_GAIN}, "miou")
    assert real.promoted and "gain +0.04" in real.reason
    undefined = promotion_decision({"miou": None, "val_images": 3}, None, "miou")
    assert not undefined.promoted


def test_best_epoch_breaks_ties_by_finer_metric_then_loss() -> None:
    first = epoch_rank({"segm_map": 0.0, "segm_map50": 0.0}, "segm_map", train_loss=3.01)
    last = epoch_rank({"segm_map": 0.0, "segm_map50": 0.0}, "segm_map", train_loss=0.64)
    finer = epoch_rank({"segm_map": 0.0, "segm_map50": 0.02}, "segm_map", train_loss=1.0)
    assert last > first and finer > last


def test_priority_orders_uncertain_images_first() -> None:
    sure = detection_priority([0.99, 0.97, 0.02])
    unsure = detection_priority([0.55, 0.45, 0.6])
    assert unsure > sure and 0.0 <= sure <= 1.0 and unsure <= 1.0
    assert worst_first([1, 2, 3], {1: 0.1, 3: 0.9}) == [3, 1, 2]


def test_semantic_prelabel_stores_low_confidence_area(membrane_project: Callable[..., Path]) -> None:
    path = membrane_project(n_done=0, n_new=2, size=64)
    run_prelabel(Prelabel(str(path), model="unet_tiny", allow_untrained=True))
    with Project.open(path, readonly=True) as project:
        priorities = read_priorities(project)
        statuses = {i.id: i.status for i in project.images()}
    assert set(priorities) == {1, 2} and all(0.0 <= p <= 1.0 for p in priorities.values())
    assert all(s is ImageStatus.PRELABELED for s in statuses.values())


def test_from_scratch_batch_norm_statistics_can_move(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MobileNetV3's BatchNorm momentum 0.01 leaves the running statistics at their initial
    values over a short CPU training (eval output collapses to one class); the registry raises
    it to 0.1 for every build and rebuild."""
    from engine.models.registry import build_model, rebuild

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    raw = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=2)
    assert min(m.momentum for m in raw.modules() if isinstance(m, torch.nn.BatchNorm2d)) == pytest.approx(0.01)
    for built in (build_model("lraspp_mobilenet_v3_large", ["road"]),
                  rebuild("lraspp_mobilenet_v3_large", ["__background__", "road"], adapted=False)):
        norms = [m for m in built.module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert norms and all(m.momentum >= 0.1 for m in norms)
