"""EfficientViT-SAM (MIT Han Lab): the light SAM for CPU laptops, through the ``efficientsam`` package.

The network classes are the official ones (mit-han-lab/efficientvit, packaged on PyPI as
``efficientsam``, Apache-2.0), built by its model zoo without weights. A checkpoint is what the
official loader reads: a state dict, or ``{"state_dict": state_dict}``; it is read with
``torch.load(weights_only=True)`` and loaded strictly (every tensor name and shape), so a file
that does not fit is refused with an error naming the file.

The passes follow the official ``EfficientViTSamPredictor`` (the parity test checks them):
image resized so its long side is 512 (PIL, bilinear), ImageNet normalisation, zero padding to
512 x 512 at the bottom/right; prompts in a 1024-long-side frame; the 256 x 256 mask logits
cover the padded 1024 x 1024 frame, so they are upsampled, cropped to the image and resized.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import normalize, to_pil_image, to_tensor
from torchvision.transforms.functional import resize as resize_image

from engine.errors import EngineInputError, ModelWeightsError
from engine.sam import sam1_decoder
from engine.sam.cache import Embedding
from engine.sam.catalog import SamFamily, SamModelSpec
from engine.sam.checkpoint_io import load_strictly, read_checkpoint

PIXEL_MEAN = (123.675 / 255, 116.28 / 255, 103.53 / 255)
PIXEL_STD = (58.395 / 255, 57.12 / 255, 57.375 / 255)
PROMPT_SIDE = 1024
"""The prompt encoder's frame: the image scaled so its long side is 1024."""


def require_efficientsam() -> None:
    """Raise :class:`EngineInputError` with the install line when ``efficientsam`` is missing."""
    try:
        importlib.import_module("efficientsam.sam_model_zoo")
    except ImportError as exc:
        raise EngineInputError(f"EfficientViT-SAM needs the 'efficientsam' package: "
                               f"{SamFamily.EFFICIENTVIT_SAM.install_hint}") from exc


def build_network(spec: SamModelSpec) -> nn.Module:
    """``spec``'s network from the official model zoo (``spec.config``, e.g.
    ``"efficientvit-sam-l0"``), random weights, eval mode."""
    require_efficientsam()
    from efficientsam.sam_model_zoo import create_efficientvit_sam_model

    network: nn.Module = create_efficientvit_sam_model(spec.config, pretrained=False)
    return network.eval()


def load_network(spec: SamModelSpec, checkpoint: Path, device: torch.device | str = "cpu") -> nn.Module:
    """``spec``'s network with the weights of ``checkpoint`` (a state dict, or ``{"state_dict": ...}``)."""
    network = build_network(spec)
    payload = read_checkpoint(checkpoint, "EfficientViT-SAM")
    if isinstance(payload, dict) and isinstance(payload.get("state_dict"), dict):
        payload = payload["state_dict"]
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise ModelWeightsError(f"{checkpoint} is not an EfficientViT-SAM checkpoint (expected a state dict)")
    return load_strictly(network, payload, checkpoint, spec.name, device)


def save_checkpoint(network: nn.Module, path: Path) -> None:
    """Write ``network``'s weights as a plain state dict (tests and ``bench/`` make random-weight files)."""
    torch.save(network.state_dict(), path)


def preprocess_shape(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so the long side is ``long_side``, rounded as the official code does."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


class _PromptEncoder(Protocol):
    def __call__(self, *, points: tuple[torch.Tensor, torch.Tensor] | None, boxes: torch.Tensor | None,
                 masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def get_dense_pe(self) -> torch.Tensor: ...


class _MaskDecoder(Protocol):
    def __call__(self, *, image_embeddings: torch.Tensor, image_pe: torch.Tensor, sparse_prompt_embeddings: torch.Tensor,
                 dense_prompt_embeddings: torch.Tensor, multimask_output: bool) -> tuple[torch.Tensor, torch.Tensor]: ...


class EfficientVitNetwork(Protocol):
    """The parts of the official ``EfficientViTSam`` the backend uses."""

    image_size: tuple[int, int]  # (prompt frame side 1024, encoder input side)
    image_encoder: nn.Module
    prompt_encoder: _PromptEncoder
    mask_decoder: _MaskDecoder


class EfficientVitBackend:
    """EfficientViT-SAM passes around an official network (:func:`load_network`)."""

    def __init__(self, network: nn.Module) -> None:
        self.network = cast(EfficientVitNetwork, network)
        self.encoder = self.network.image_encoder
        self.input_side = int(self.network.image_size[1])
        self.device = next(iter(network.parameters())).device
        with torch.no_grad():
            self._dense_pe = self.network.prompt_encoder.get_dense_pe()
        self._kept = sam1_decoder.KeptImage(cast(nn.Module, self.network.mask_decoder),
                                            cast(nn.Module, self.network.prompt_encoder), self._dense_pe)

    @torch.no_grad()
    def embed(self, pixels: np.ndarray, size_hw: tuple[int, int]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """(h, w, 3) uint8 -> image embedding (1, 256, 64, 64); no high-resolution maps."""
        target_hw = preprocess_shape(*size_hw, self.input_side)
        image = np.ascontiguousarray(pixels)
        if max(size_hw) != self.input_side or image.shape[:2] != target_hw:
            image = np.array(resize_image(to_pil_image(image), list(target_hw)))  # writable, as the official code
        tensor = normalize(to_tensor(image), list(PIXEL_MEAN), list(PIXEL_STD))
        height, width = tensor.shape[-2:]
        tensor = F.pad(tensor, (0, self.input_side - width, 0, self.input_side - height), value=0.0)
        features = self.network.image_encoder(tensor[None].to(self.device))
        return features, ()

    def _prompt_scale(self, size_hw: tuple[int, int]) -> tuple[float, float]:
        """(x scale, y scale) from window pixels to the prompt frame."""
        new_h, new_w = preprocess_shape(*size_hw, PROMPT_SIDE)
        return new_w / size_hw[1], new_h / size_hw[0]

    @torch.no_grad()
    def decode(self, embedding: Embedding, box_xyxy: tuple[float, float, float, float] | None,
               points_xy: list[tuple[float, float]], labels: list[int], mask_input: torch.Tensor | None,
               multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`engine.sam.backend.SamBackend.decode`; points and box go in separately
        (SAM 1's prompt encoder pads the points with a non-point only when there is no box)."""
        scale = torch.tensor(self._prompt_scale(embedding.window.size_hw), dtype=torch.float64)
        points = None
        if points_xy:  # scaled in float64, then float32, as the official (numpy) transform
            coords = (torch.tensor(points_xy, dtype=torch.float64) * scale).float().to(self.device)
            points = (coords[None], torch.tensor([labels], dtype=torch.int, device=self.device))
        boxes = None
        if box_xyxy is not None:
            corners = torch.tensor(box_xyxy, dtype=torch.float64).reshape(2, 2) * scale
            boxes = corners.reshape(1, 4).float().to(self.device)
        masks_in = None if mask_input is None else mask_input.to(self.device)
        encoder = cast(nn.Module, self.network.prompt_encoder)
        sparse, no_mask_dense = encoder(points=points, boxes=boxes, masks=None)
        mask = None if masks_in is None else sam1_decoder.mask_features(encoder, masks_in)
        # The decoder's image side is kept per image; a mask prompt changes it by a low-rank part.
        side = self._kept.side(embedding, embedding.image_embed, no_mask_dense, mask)
        low_res, iou = sam1_decoder.decode(cast(nn.Module, self.network.mask_decoder), side, sparse, multimask)
        return low_res[0], iou[0]

    def window_logits(self, low_res: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        """The logits cover the padded 1024 x 1024 frame: upsample to it, crop the image's part."""
        new_h, new_w = preprocess_shape(*size_hw, PROMPT_SIDE)
        full = F.interpolate(low_res[None].float(), (PROMPT_SIDE, PROMPT_SIDE), mode="bilinear", align_corners=False)
        return full[0, :, :new_h, :new_w]
