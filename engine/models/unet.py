"""A compact U-Net for semantic segmentation that trains well from scratch on a few images.

Four down-sampling stages with BatchNorm, bilinear up-sampling and skip connections; any input
size works (the input is padded to a multiple of 16 and the output cropped back).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _DoubleConv(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net: ``forward(x)`` maps (B, in_channels, H, W) to logits (B, num_classes, H, W).

    ``base_channels`` is the width of the first stage (doubled per stage, ``depth`` stages).
    Inputs are expected normalised (the engine's semantic adapter does it).
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, base_channels: int = 32, depth: int = 4) -> None:
        super().__init__()
        if num_classes < 1 or base_channels < 1 or depth < 1:
            raise ValueError(f"bad U-Net shape: classes={num_classes} base={base_channels} depth={depth}")
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.depth, self.base_channels = depth, base_channels
        self.stem = _DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList(_DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(_DoubleConv(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth)))
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def build_options(self) -> dict[str, int]:
        """The constructor arguments that shape the weights (saved with them, so a model file
        rebuilds at its own width even after the registry's default changes)."""
        return {"base_channels": self.base_channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = (-height) % multiple, (-width) % multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="reflect" if min(height, width) > max(pad_h, pad_w) else "replicate")
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        y = skips.pop()
        for block in self.up:
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], dim=1))
        logits: torch.Tensor = self.classifier(y)
        return logits[..., :height, :width]
