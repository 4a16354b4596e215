"""Keep the detectors' box math in float32 under autocast (AMP on CUDA).

torchvision decodes boxes in the dtype of the regression output
(``BoxCoder.decode_single``: ``boxes = boxes.to(rel_codes.dtype)``). Under bf16 autocast the
regression comes out of a bf16 conv/linear layer, so anchors, proposals and final boxes are
rounded to 8 significant bits: 4 px steps at 512-1024 px, 8 px steps at 1024-2048 px. Casting the
outputs of the few head layers that feed the box coder back to float32 (a forward hook) keeps
every coordinate in float32 while the backbone, the bulk of the compute, stays in bf16.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

# Sub-modules whose outputs feed torchvision's box coders / post-processing:
# R-CNN: the RPN head (objectness, deltas) and the box predictor (scores, deltas);
# RetinaNet / FCOS / SSD: the whole head (a dict of class logits and box regressions).
BOX_HEADS = ("rpn.head", "roi_heads.box_predictor", "head")


def _to_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (nested tuples, lists, dicts) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    if isinstance(value, dict):
        return {k: _to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_float32(v) for v in value)
    return value


def _float32_outputs(module: nn.Module, inputs: Any, output: Any) -> Any:
    return _to_float32(output)


def keep_box_math_float32(model: nn.Module) -> int:
    """Hook the box heads of a torchvision detector (see :data:`BOX_HEADS`) so their outputs
    are float32; returns how many were hooked (0 for other models). Idempotent."""
    hooked = 0
    for name in BOX_HEADS:
        try:
            head = model.get_submodule(name)
        except AttributeError:
            continue
        if getattr(head, "_segstudio_float32_outputs", False):
            hooked += 1
            continue
        head.register_forward_hook(_float32_outputs)
        head._segstudio_float32_outputs = True  # type: ignore[assignment]  # nn.Module.__setattr__ is typed for tensors/modules; a plain flag is meant
        hooked += 1
    return hooked
