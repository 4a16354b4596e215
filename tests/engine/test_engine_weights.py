"""Weights from disk: a file written here is found where torchvision's downloader puts it and
loaded the same way; heads are replaced (or remapped by class name); never the network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from torchvision.ops.misc import FrozenBatchNorm2d

from engine.errors import ModelWeightsError
from engine.models import weights as W
from engine.models.registry import REGISTRY, build_model, get_spec

LRASPP = "lraspp_mobilenet_v3_large"
VOC = W.weight_categories("LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1")


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME: ``hub/checkpoints`` is torchvision's download cache."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    folder = tmp_path / "torch_home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    return folder


def downloaded_lraspp(folder: Path) -> dict[str, torch.Tensor]:
    """A randomly initialised 21-class LR-ASPP saved under the name torchvision downloads it to."""
    torch.manual_seed(123)
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                      num_classes=21)
    state = model.state_dict()
    torch.save(state, folder / "lraspp_mobilenet_v3_large-d234d4ea.pth")
    return state


def test_cache_dir_follows_torch_home(torch_home: Path) -> None:
    assert W.checkpoint_dir() == torch_home
    assert W.find_cached("LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1") is None


def test_without_files_models_start_from_scratch(torch_home: Path) -> None:
    built = build_model("unet_tiny", ["cell"])
    assert built.report.source == "random" and built.num_classes == 2


def test_cached_torchvision_weight_is_found_and_loaded(torch_home: Path) -> None:
    saved = downloaded_lraspp(torch_home)
    built = build_model(LRASPP, ["cat", "dog", "membrane"])
    assert built.report.source == f"torchvision:{torch_home / 'lraspp_mobilenet_v3_large-d234d4ea.pth'}"
    state = built.module.state_dict()
    # Everything but the class-dependent head is loaded as is.
    backbone = [k for k in saved if k.startswith("backbone.")]
    assert backbone and all(torch.equal(state[k], saved[k]) for k in backbone)
    # Head rows: background, "cat" and "dog" come from the VOC rows; "membrane" keeps its fresh init.
    for key in ("classifier.low_classifier.weight", "classifier.high_classifier.weight"):
        assert key in built.report.remapped and state[key].shape[0] == 4
        assert torch.equal(state[key][0], saved[key][0])
        assert torch.equal(state[key][1], saved[key][VOC.index("cat")])
        assert torch.equal(state[key][2], saved[key][VOC.index("dog")])
        assert not any(torch.equal(state[key][3], row) for row in saved[key])


def test_same_class_count_loads_every_tensor(torch_home: Path) -> None:
    saved = downloaded_lraspp(torch_home)
    built = build_model(LRASPP, VOC[1:])
    assert not built.report.replaced and not built.report.remapped
    assert all(torch.equal(built.module.state_dict()[k], v) for k, v in saved.items())


def test_user_chosen_file_is_loaded_with_weights_only(torch_home: Path, tmp_path: Path) -> None:
    torch.manual_seed(7)
    donor = build_model("unet_tiny", ["a", "b"], pretrained=False)
    path = tmp_path / "mine.pt"
    torch.save({"model": donor.module.state_dict(), "epoch": 3}, path)  # torchvision-references layout
    built = build_model("unet_tiny", ["a", "b"], weights_file=path)
    assert built.report.source == f"file:{path}" and not built.report.replaced
    assert all(torch.equal(built.module.state_dict()[k], v) for k, v in donor.module.state_dict().items())
    # Fewer classes: the head is replaced, the rest loads.
    smaller = build_model("unet_tiny", ["a"], weights_file=path)
    assert smaller.report.replaced == ["classifier.weight", "classifier.bias"]


def test_unsafe_or_foreign_files_are_refused(torch_home: Path, tmp_path: Path) -> None:
    pickled = tmp_path / "pickled.pt"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "evil": object()}, pickled)
    with pytest.raises(ModelWeightsError, match="not a readable weight file"):
        build_model("unet_tiny", ["a"], weights_file=pickled)
    other = tmp_path / "other.pt"
    torch.save(build_model(LRASPP, ["a"], pretrained=False).module.state_dict(), other)
    with pytest.raises(ModelWeightsError, match="another model"):
        build_model("unet_tiny", ["a"], weights_file=other)
    with pytest.raises(ModelWeightsError, match="not found"):
        build_model("unet_tiny", ["a"], weights_file=tmp_path / "nope.pt")


def test_backbone_only_weights_and_pretrained_style_detector(torch_home: Path) -> None:
    torch.manual_seed(3)
    backbone = torchvision.models.mobilenet_v3_large(weights=None)
    torch.save(backbone.state_dict(), torch_home / "mobilenet_v3_large-8738ca79.pth")
    built = build_model("fasterrcnn_mobilenet_v3_large_320_fpn", ["person"])
    assert built.report.source.startswith("backbone:") and built.adapted
    state = built.module.state_dict()
    assert torch.equal(state["backbone.body.0.0.weight"], backbone.state_dict()["features.0.0.weight"])
    # Like torchvision's pretrained build: frozen BatchNorm, early stages without gradients.
    body = built.module.backbone.body
    assert any(isinstance(m, FrozenBatchNorm2d) for m in body.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in body.modules())
    assert not body["0"][0].weight.requires_grad and body["16"][0].weight.requires_grad


def test_every_registry_entry_names_a_real_torchvision_weight() -> None:
    for spec in REGISTRY.values():
        for name in (spec.weights, spec.backbone_weights):
            if name:
                assert W.weight_file_name(name).endswith(".pth")
    assert get_spec("maskrcnn_resnet50_fpn").output.value == "instance_masks"


def test_remap_class_rows_layouts() -> None:
    src = torch.arange(3 * 2 * 2, dtype=torch.float32).reshape(6, 2)  # 3 classes x m=2 rows
    dst = torch.zeros(4, 2)  # 2 classes x m=2
    out = W.remap_class_rows("roi_heads.box_predictor.bbox_pred.weight", src, dst, ["bg", "a", "b"], ["bg", "b"])
    assert torch.equal(out, torch.cat([src[0:2], src[4:6]]))
    # Anchor-major (RetinaNet classification head): row a*C + c.
    out = W.remap_class_rows("head.classification_head.cls_logits.weight", src, dst, ["bg", "a", "b"], ["bg", "b"])
    assert torch.equal(out, src[[0, 2, 3, 5]])
    assert W.remap_class_rows("x", src, torch.zeros(5, 2), ["bg", "a", "b"], ["bg", "b"]) is None


@pytest.mark.parametrize("new_ids", [(1, 3), (2, 1)], ids=["class-deleted-and-added", "classes-reordered"])
def test_warm_start_maps_head_rows_by_category_id_when_the_class_count_is_unchanged(
        tmp_path: Path, new_ids: tuple[int, int]) -> None:
    """A parent trained on categories (1, 2); the project now has (1, 3) (2 deleted, 3 added)
    or (2, 1) (reordered): same head shapes, but every row must follow its category id."""
    from engine import checkpoints
    from engine.models.registry import class_labels, rebuild

    torch.manual_seed(0)
    parent = build_model("fasterrcnn_tiny", ["a", "b"], pretrained=False)
    parent_path = tmp_path / "parent.pt"
    checkpoints.save_model(parent, (1, 2), parent_path)
    child = rebuild("fasterrcnn_tiny", class_labels(["x", "y"]), adapted=False)
    fresh = child.module.roi_heads.box_predictor.cls_score.weight.detach().clone()
    report = checkpoints.warm_start(child, new_ids, parent_path)

    old = parent.module.roi_heads.box_predictor.cls_score.weight.detach()
    new = child.module.roi_heads.box_predictor.cls_score.weight.detach()
    assert "roi_heads.box_predictor.cls_score.weight" in report.remapped
    assert torch.equal(new[0], old[0])  # background
    for index, category in enumerate(new_ids, start=1):
        expected = old[category] if category in (1, 2) else fresh[index]
        assert torch.equal(new[index], expected), f"class index {index} (category {category})"
    # Class-independent tensors are copied as they are.
    assert torch.equal(child.module.state_dict()["rpn.head.cls_logits.weight"],
                       parent.module.state_dict()["rpn.head.cls_logits.weight"])
