"""The SAM 1 mask decoder (EfficientViT-SAM's) with its per-image part computed once per image.

A click runs the prompt encoder and the mask decoder. Part of the decoder's work does not depend
on the prompt when no mask is given as a prompt: the image tokens plus the "no mask" embedding,
their positional encoding, and the first layer's projections of the 4,096 image tokens (the keys
and values the tokens attend to, and the queries of the image-to-token attention). Those are
:class:`ImageSide`, computed once per image (for a refinement click, whose previous mask changes
the dense prompt, it is computed per click from the image's :class:`ImageTokens`, laid out once);
:func:`decode` then runs the same operations as the official ``MaskDecoder.forward`` for the
rest, in the same order (results equal to float rounding; the parity test compares the answers
with the official predictor's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, cast

import torch
from torch import Tensor, nn


class _Attention(Protocol):
    num_heads: int
    q_proj: nn.Linear
    k_proj: nn.Linear
    v_proj: nn.Linear
    out_proj: nn.Linear

    def __call__(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor: ...

    def _separate_heads(self, x: Tensor, num_heads: int) -> Tensor: ...

    def _recombine_heads(self, x: Tensor) -> Tensor: ...


class _Block(Protocol):
    skip_first_layer_pe: bool
    self_attn: _Attention
    cross_attn_token_to_image: _Attention
    cross_attn_image_to_token: _Attention
    norm1: nn.Module
    norm2: nn.Module
    norm3: nn.Module
    norm4: nn.Module
    mlp: nn.Module


class _Transformer(Protocol):
    layers: list[_Block]
    final_attn_token_to_image: _Attention
    norm_final_attn: nn.Module


class Sam1MaskDecoder(Protocol):
    """The parts of segment-anything's ``MaskDecoder`` (as packaged with EfficientViT-SAM) used here."""

    transformer: _Transformer
    iou_token: nn.Embedding
    mask_tokens: nn.Embedding
    num_mask_tokens: int
    output_upscaling: nn.Module
    output_hypernetworks_mlps: list[nn.Module]
    iou_prediction_head: nn.Module


@dataclass(frozen=True)
class ImageSide:
    """The prompt-independent part of one image's decoding: token tensors are (1, N, C) with N
    image tokens (64 x 64) of C = 256 channels; ``first_*`` are (1, heads, N, C'/heads) after the
    first layer's projections."""

    keys: Tensor
    key_pe: Tensor
    keys_with_pe: Tensor
    first_k: Tensor
    first_v: Tensor
    first_image_q: Tensor
    size_hw: tuple[int, int]


def _heads(attention: _Attention, x: Tensor) -> Tensor:
    return attention._separate_heads(x, attention.num_heads)


def _attend(attention: _Attention, q_heads: Tensor, k_heads: Tensor, v_heads: Tensor) -> Tensor:
    """The official ``Attention.forward`` after its input projections."""
    c_per_head = q_heads.shape[-1]
    weights = q_heads @ k_heads.permute(0, 1, 3, 2)
    weights = weights / math.sqrt(c_per_head)
    weights = torch.softmax(weights, dim=-1)
    out: Tensor = attention.out_proj(attention._recombine_heads(weights @ v_heads))
    return out


@dataclass(frozen=True)
class ImageTokens:
    """One image's tokens, laid out once as the decoder reads them: ``image`` and ``pe`` (1, N, C)
    contiguous (the official decoder permutes them at every click); ``size_hw`` = (H, W), N = H * W."""

    image: Tensor
    pe: Tensor
    size_hw: tuple[int, int]


@torch.no_grad()
def image_tokens(image_embeddings: Tensor, image_pe: Tensor) -> ImageTokens:
    """:class:`ImageTokens` of ``image_embeddings`` (1, C, H, W) and its ``image_pe`` (1, C, H, W)."""
    _, _, height, width = image_embeddings.shape
    return ImageTokens(image_embeddings.flatten(2).permute(0, 2, 1).contiguous(),
                       image_pe.flatten(2).permute(0, 2, 1).contiguous(), (height, width))


@torch.no_grad()
def prepare_image_side(decoder: nn.Module, tokens: ImageTokens, dense_prompt: Tensor, *, keep: bool) -> ImageSide:
    """:class:`ImageSide` of an image for a dense prompt embedding ``dense_prompt`` (1, C, H, W):
    the "no mask" embedding (then kept for every click: ``keep`` lays the projections out
    contiguously once) or a previous mask's (computed for that click)."""
    sam = cast(Sam1MaskDecoder, decoder)
    keys = tokens.image + dense_prompt.flatten(2).permute(0, 2, 1)
    keys_with_pe = keys + tokens.pe
    first = sam.transformer.layers[0]
    to_image, to_token = first.cross_attn_token_to_image, first.cross_attn_image_to_token
    first_k = _heads(to_image, to_image.k_proj(keys_with_pe))
    first_v = _heads(to_image, to_image.v_proj(keys))
    first_image_q = _heads(to_token, to_token.q_proj(keys_with_pe))
    if keep:
        first_k, first_v, first_image_q = first_k.contiguous(), first_v.contiguous(), first_image_q.contiguous()
    return ImageSide(keys=keys, key_pe=tokens.pe, keys_with_pe=keys_with_pe, first_k=first_k, first_v=first_v,
                     first_image_q=first_image_q, size_hw=tokens.size_hw)


def _block(layer: _Block, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor,
           cached: ImageSide | None) -> tuple[Tensor, Tensor]:
    """The official ``TwoWayAttentionBlock.forward``; ``cached`` supplies layer 0's image-side projections."""
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        queries = queries + layer.self_attn(q=q, k=q, v=queries)
    queries = layer.norm1(queries)

    to_image = layer.cross_attn_token_to_image
    q = queries + query_pe
    if cached is not None:
        k, k_heads, v_heads = cached.keys_with_pe, cached.first_k, cached.first_v
    else:
        k = keys + key_pe
        k_heads, v_heads = _heads(to_image, to_image.k_proj(k)), _heads(to_image, to_image.v_proj(keys))
    queries = layer.norm2(queries + _attend(to_image, _heads(to_image, to_image.q_proj(q)), k_heads, v_heads))
    queries = layer.norm3(queries + layer.mlp(queries))

    to_token = layer.cross_attn_image_to_token
    q = queries + query_pe
    image_q = cached.first_image_q if cached is not None else _heads(to_token, to_token.q_proj(keys + key_pe))
    attn_out = _attend(to_token, image_q, _heads(to_token, to_token.k_proj(q)), _heads(to_token, to_token.v_proj(queries)))
    return queries, layer.norm4(keys + attn_out)


@torch.no_grad()
def decode(decoder: nn.Module, side: ImageSide, sparse_prompt_embeddings: Tensor,
           multimask: bool) -> tuple[Tensor, Tensor]:
    """The official ``MaskDecoder.forward`` for one prompt set with no mask prompt:
    ``sparse_prompt_embeddings`` (1, T, C) -> low-resolution mask logits (1, M, 4H, 4W) and
    predicted IoUs (1, M), M = 3 with ``multimask`` else 1."""
    sam = cast(Sam1MaskDecoder, decoder)
    output_tokens = torch.cat([sam.iou_token.weight, sam.mask_tokens.weight], dim=0)
    output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
    tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)

    queries, keys = tokens, side.keys
    for index, layer in enumerate(sam.transformer.layers):
        queries, keys = _block(layer, queries, keys, tokens, side.key_pe, side if index == 0 else None)
    q = queries + tokens
    k = keys + side.key_pe
    attn_out = sam.transformer.final_attn_token_to_image(q=q, k=k, v=keys)
    hs = sam.transformer.norm_final_attn(queries + attn_out)

    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1: (1 + sam.num_mask_tokens), :]
    height, width = side.size_hw
    src = keys.transpose(1, 2).view(1, keys.shape[-1], height, width)
    upscaled = sam.output_upscaling(src)
    hyper_in = torch.stack([sam.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :])
                            for i in range(sam.num_mask_tokens)], dim=1)
    b, c, up_h, up_w = upscaled.shape
    masks = (hyper_in @ upscaled.view(b, c, up_h * up_w)).view(b, -1, up_h, up_w)
    iou_pred = sam.iou_prediction_head(iou_token_out)
    mask_slice = slice(1, None) if multimask else slice(0, 1)
    return masks[:, mask_slice, :, :], iou_pred[:, mask_slice]
