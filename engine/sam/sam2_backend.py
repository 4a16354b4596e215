"""SAM 2.1's encoder and decoder passes, as the official ``SAM2ImagePredictor`` does them (the
decoder regrouped for speed: :mod:`engine.sam.sam2_decoder`).

Image: to [0, 1], resized to R x R (antialiased), ImageNet normalisation; prompts: box corners
(labels 2, 3) first, then clicks, normalised by the window size times R; masks: the decoder's
256 x 256 logits cover the whole (squashed) window. The parity test checks all of it against the
official predictor.
"""

from __future__ import annotations

from typing import Protocol, cast

import numpy as np
import torch
from torch import nn
from torchvision.transforms.functional import normalize, resize

from engine.sam import sam1_decoder, sam2_decoder
from engine.sam.cache import Embedding

PIXEL_MEAN = (0.485, 0.456, 0.406)
PIXEL_STD = (0.229, 0.224, 0.225)


class PromptEncoder(Protocol):
    def __call__(self, *, points: tuple[torch.Tensor, torch.Tensor] | None, boxes: torch.Tensor | None,
                 masks: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def get_dense_pe(self) -> torch.Tensor: ...


class Sam2Network(Protocol):
    """The parts of the official ``sam2.modeling.sam2_base.SAM2Base`` the backend uses."""

    image_size: int
    directly_add_no_mem_embed: bool
    no_mem_embed: torch.Tensor
    image_encoder: nn.Module
    sam_prompt_encoder: PromptEncoder
    sam_mask_decoder: nn.Module

    def forward_image(self, img_batch: torch.Tensor) -> dict[str, object]: ...

    def _prepare_backbone_features(
        self, backbone_out: dict[str, object]
    ) -> tuple[object, list[torch.Tensor], object, object]: ...


class Sam2Backend:
    """SAM 2.1 passes around an official network (:func:`engine.sam.model.load_network`)."""

    def __init__(self, network: nn.Module) -> None:
        self.network = cast(Sam2Network, network)
        self.encoder = self.network.image_encoder
        self.resolution = int(self.network.image_size)
        self.device = next(iter(network.parameters())).device
        with torch.no_grad():
            self._dense_pe = self.network.sam_prompt_encoder.get_dense_pe()
        self._kept = sam1_decoder.KeptImage(self.network.sam_mask_decoder, cast(nn.Module, self.network.sam_prompt_encoder),
                                            self._dense_pe)

    @torch.no_grad()
    def embed(self, pixels: np.ndarray, size_hw: tuple[int, int]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """(h, w, 3) uint8 -> image embedding (1, 256, R/16, R/16) and maps (1, 32, R/4, R/4),
        (1, 64, R/8, R/8); ``size_hw`` is not needed (the window is squashed to R x R)."""
        image = torch.from_numpy(np.ascontiguousarray(pixels)).to(self.device).permute(2, 0, 1).float().div_(255.0)
        image = resize(image, [self.resolution, self.resolution], antialias=True)
        image = normalize(image, list(PIXEL_MEAN), list(PIXEL_STD))[None]
        backbone_out = self.network.forward_image(image)
        _, vision_feats, _, _ = self.network._prepare_backbone_features(backbone_out)
        if self.network.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + self.network.no_mem_embed
        sizes = [(self.resolution // s, self.resolution // s) for s in (4, 8, 16)]
        feats = [f.permute(1, 2, 0).reshape(1, -1, *hw) for f, hw in zip(vision_feats, sizes)]
        return feats[-1], tuple(feats[:-1])

    @torch.no_grad()
    def decode(self, embedding: Embedding, box_xyxy: tuple[float, float, float, float] | None,
               points_xy: list[tuple[float, float]], labels: list[int], mask_input: torch.Tensor | None,
               multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """See :meth:`engine.sam.backend.SamBackend.decode`; the box goes in as two corner points."""
        xy = list(points_xy)
        all_labels = list(labels)
        if box_xyxy is not None:
            xy = [(box_xyxy[0], box_xyxy[1]), (box_xyxy[2], box_xyxy[3]), *xy]
            all_labels = [2, 3, *all_labels]
        h, w = embedding.window.size_hw
        coords = torch.tensor(xy, dtype=torch.float32, device=self.device)
        coords = coords / torch.tensor([w, h], dtype=torch.float32, device=self.device) * self.resolution
        label_tensor = torch.tensor([all_labels], dtype=torch.int, device=self.device)
        masks_in = None if mask_input is None else mask_input.to(self.device)
        encoder = self.network.sam_prompt_encoder
        sparse, no_mask_dense = encoder(points=(coords[None], label_tensor), boxes=None, masks=None)
        mask = None if masks_in is None else sam1_decoder.mask_features(cast(nn.Module, encoder), masks_in)
        # The decoder's image side is kept per image; a mask prompt changes it by a low-rank part.
        side = self._kept.side(embedding, embedding.image_embed, no_mask_dense, mask)
        feat_s0, feat_s1 = embedding.high_res_feats
        high_res = self._kept.high_res(embedding, feat_s0, feat_s1)
        low_res, iou = sam2_decoder.decode(self.network.sam_mask_decoder, side, sparse, multimask, high_res)
        return low_res[0], iou[0]

    def window_logits(self, low_res: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        """SAM 2's logits already cover the whole window."""
        return low_res
