"""Make a model built without weights look like torchvision's pretrained build.

torchvision builds a detector differently when it loads pretrained weights: the backbone's
BatchNorm becomes ``FrozenBatchNorm2d`` (v1 R-CNNs, RetinaNet v1, FCOS, MobileNet FPN) and only
the last 3 backbone stages train. We build with ``weights=None`` (never the network), so after
finding weights on disk we apply the same changes here before loading them.
"""

from __future__ import annotations

from torch import nn
from torchvision.ops.misc import FrozenBatchNorm2d


def freeze_batchnorm(module: nn.Module) -> int:
    """Replace every ``BatchNorm2d`` under ``module`` by a ``FrozenBatchNorm2d`` holding its
    statistics (eps 1e-5, torchvision's); returns how many were replaced."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
            count += 1
        else:
            count += freeze_batchnorm(child)
    return count


def freeze_resnet_stages(body: nn.Module, trainable_layers: int) -> None:
    """Stop gradients in the ResNet stages before the last ``trainable_layers`` (0..5)."""
    layers_to_train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        layers_to_train.append("bn1")
    for name, parameter in body.named_parameters():
        if all(not name.startswith(layer) for layer in layers_to_train):
            parameter.requires_grad_(False)


def freeze_mobilenet_stages(body: nn.Module, trainable_layers: int) -> None:
    """Stop gradients in the MobileNet feature blocks before the last ``trainable_layers``
    stages (torchvision's ``_mobilenet_extractor`` rule)."""
    blocks = list(body.children())
    stage_indices = [0] + [i for i, b in enumerate(blocks) if getattr(b, "_is_cn", False)] + [len(blocks) - 1]
    num_stages = len(stage_indices)
    trainable_layers = min(max(trainable_layers, 0), num_stages)
    freeze_before = len(blocks) if trainable_layers == 0 else stage_indices[num_stages - trainable_layers]
    for block in blocks[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)


def adapt_for_pretrained(model: nn.Module, *, family: str, frozen_bn: bool, trainable_layers: int) -> None:
    """Apply torchvision's pretrained-build changes to a detector's ``backbone.body``.

    ``family`` is ``"resnet"`` or ``"mobilenet"``; anything else is left alone.
    """
    body = getattr(getattr(model, "backbone", None), "body", None)
    if body is None or family not in ("resnet", "mobilenet"):
        return
    if frozen_bn:
        freeze_batchnorm(body)
    if family == "resnet":
        freeze_resnet_stages(body, trainable_layers)
    else:
        freeze_mobilenet_stages(body, trainable_layers)
