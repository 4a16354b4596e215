"""Mixed precision: what the CUDA path does under bf16 autocast, checked with CPU bf16 autocast.

Under autocast the detectors' box regression comes out of a bf16 linear/conv layer and
torchvision decodes boxes in the dtype of the regression, so anchors and proposals would be
rounded to bf16 (8 significant bits: 4-8 px steps at 512-2048 px). The engine keeps the box
math in float32; these tests would catch a regression on the first GPU run.
"""

from __future__ import annotations

import pytest
import torch

from engine.inference import prepare_for_inference
from engine.models.registry import build_model
from engine.training import Sample, loss_of


def _bf16() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


@pytest.mark.parametrize("name", ["fasterrcnn_tiny", "maskrcnn_tiny"])
def test_detector_boxes_keep_float32_precision_under_bf16_autocast(name: str) -> None:
    torch.manual_seed(0)
    built = build_model(name, ["a"], pretrained=False)
    prepare_for_inference(built, torch.device("cpu"))
    built.module.roi_heads.score_thresh = 0.0  # keep every detection of the untrained head
    image = torch.rand(3, 600, 1200)
    with torch.inference_mode(), _bf16():
        out = built.module([image])[0]
    boxes = out["boxes"]
    # Measured (torch threads 1|2, ATEN_CPU_CAPABILITY=default|auto): 100 boxes (the per-image cap),
    # 119-154 coordinates >= 512, 97-100 % of them off the bf16 grid; for both models.
    assert len(boxes) > 20
    assert boxes.dtype == torch.float32
    # bf16 rounds coordinates in [512, 1024) to multiples of 4: float32 boxes do not.
    high = boxes[boxes >= 512]
    assert len(high) > 10 and (high % 4 != 0).float().mean() > 0.5


def test_detector_training_step_under_bf16_autocast_has_float32_box_losses() -> None:
    torch.manual_seed(0)
    built = build_model("maskrcnn_tiny", ["a"], pretrained=False)
    built.module.train()
    masks = torch.zeros(1, 200, 300, dtype=torch.uint8)
    masks[0, 50:120, 100:220] = 1
    target = {"boxes": torch.tensor([[100.0, 50.0, 220.0, 120.0]]), "labels": torch.tensor([1]), "masks": masks}
    with _bf16():
        loss, parts = loss_of(built, [Sample(torch.rand(3, 200, 300), target)], torch.device("cpu"), amp=False)
        proposals_dtype = built.module.rpn.head(  # the RPN head's outputs feed the box decoder
            [torch.rand(1, 64, 8, 8)])[1][0].dtype
    assert proposals_dtype == torch.float32
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in built.module.parameters())
