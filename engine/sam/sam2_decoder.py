"""SAM 2.1's mask decoder computed the way :mod:`engine.sam.sam1_decoder` computes SAM 1's.

SAM 2's ``MaskDecoder`` is SAM 1's with three additions, each kept here as the official
``MaskDecoder.forward`` does it: an object-score token before the IoU token, the encoder's two
high-resolution maps added inside the output upscaling (laid out once per image,
:class:`engine.sam.sam1_decoder.HighResBlocks`), and, for a single mask, the choice between the
single-mask output and the best multimask one by stability (the official module's own method is
called for that).
"""

from __future__ import annotations

from typing import Protocol, cast

import torch
from torch import Tensor, nn

from engine.sam.sam1_decoder import HighResBlocks, ImageSide, Sam1MaskDecoder, transformer_outputs, upscaled_masks


class Sam2MaskDecoder(Sam1MaskDecoder, Protocol):
    """The parts of ``sam2.modeling.sam.mask_decoder.MaskDecoder`` used here: SAM 1's and these."""

    pred_obj_scores: bool
    obj_score_token: nn.Embedding
    dynamic_multimask_via_stability: bool
    training: bool

    def _dynamic_multimask_via_stability(self, all_mask_logits: Tensor, all_iou_scores: Tensor) -> tuple[Tensor, Tensor]: ...


@torch.no_grad()
def decode(decoder: nn.Module, side: ImageSide, sparse_prompt_embeddings: Tensor, multimask: bool,
           high_res: HighResBlocks) -> tuple[Tensor, Tensor]:
    """The official SAM 2 ``MaskDecoder.forward`` (``repeat_image=False``) for one prompt set on
    ``side``: ``sparse_prompt_embeddings`` (1, T, C) -> mask logits (1, M, 4H, 4W) and predicted
    IoUs (1, M), M = 3 with ``multimask`` else 1 (the object score is not returned: the image
    predictor does not use it)."""
    sam = cast(Sam2MaskDecoder, decoder)
    first = 1 if sam.pred_obj_scores else 0
    weights = [sam.iou_token.weight, sam.mask_tokens.weight]
    if sam.pred_obj_scores:
        weights.insert(0, sam.obj_score_token.weight)
    output_tokens = torch.cat(weights, dim=0).unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
    tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)
    hs, keys = transformer_outputs(decoder, side, tokens, output_tokens.shape[1])
    iou_token_out = hs[:, first, :]
    mask_tokens_out = hs[:, first + 1: first + 1 + sam.num_mask_tokens, :]
    single_by_stability = not multimask and sam.dynamic_multimask_via_stability and not sam.training
    if multimask or single_by_stability:
        wanted = list(range(sam.num_mask_tokens))  # stability compares all of them
    else:
        wanted = [0]
    hyper_in = torch.stack([sam.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in wanted], dim=1)
    masks = upscaled_masks(sam.output_upscaling, keys, hyper_in, side.size_hw, high_res)
    iou_pred = sam.iou_prediction_head(iou_token_out)
    if multimask:
        return masks[:, 1:], iou_pred[:, 1:]
    if single_by_stability:
        return sam._dynamic_multimask_via_stability(masks, iou_pred)
    return masks, iou_pred[:, 0:1]
