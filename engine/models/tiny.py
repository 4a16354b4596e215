"""Tiny detectors for tests and quick CPU trials: a MobileNetV3-Small FPN (64 channels) under
Faster R-CNN / Mask R-CNN with slim heads and small input sizes (128-256 px)."""

from __future__ import annotations

from typing import Any

from torch import nn
from torchvision.models import mobilenet_v3_small
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RPNHead

FPN_CHANNELS = 64
MIN_SIZE, MAX_SIZE = 192, 256


def _backbone() -> BackboneWithFPN:
    features = mobilenet_v3_small(weights=None).features
    # strides 8, 16, 32 -> indices 3 (24 ch), 8 (48 ch), 12 (576 ch)
    return BackboneWithFPN(features, {"3": "0", "8": "1", "12": "2"}, [24, 48, 576], FPN_CHANNELS)


def _common(num_classes: int) -> dict[str, Any]:
    anchors = AnchorGenerator(((16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 4)
    return {
        "num_classes": None,
        "min_size": MIN_SIZE,
        "max_size": MAX_SIZE,
        "rpn_anchor_generator": anchors,
        "rpn_head": RPNHead(FPN_CHANNELS, 3),
        "rpn_pre_nms_top_n_train": 300,
        "rpn_post_nms_top_n_train": 150,
        "rpn_pre_nms_top_n_test": 300,
        "rpn_post_nms_top_n_test": 150,
        "box_batch_size_per_image": 128,
        "box_head": TwoMLPHead(FPN_CHANNELS * 7 * 7, 128),
        "box_predictor": FastRCNNPredictor(128, num_classes),
    }


def fasterrcnn_tiny(num_classes: int) -> nn.Module:
    """A small Faster R-CNN (about 1.5 M parameters) for tests; boxes out."""
    model: nn.Module = FasterRCNN(_backbone(), **_common(num_classes))
    return model


def maskrcnn_tiny(num_classes: int) -> nn.Module:
    """A small Mask R-CNN for tests; instance masks out."""
    model: nn.Module = MaskRCNN(
        _backbone(),
        mask_head=MaskRCNNHeads(FPN_CHANNELS, [64, 64], 1),
        mask_predictor=MaskRCNNPredictor(64, 64, num_classes),
        **_common(num_classes),
    )
    return model
