"""The SAM 1 mask decoder (EfficientViT-SAM's), computed in the order that costs least per click.

A click runs the prompt encoder and the mask decoder. The official ``MaskDecoder.forward`` spends
most of its time on the 4,096 image tokens (64 x 64, C = 256 channels): every attention projects
all of them (keys, values, image queries: 4,096 x 256 x 128 multiply-adds each), then the output
upscaling's transposed convolutions and layout copies. Here the same function is computed with
the products regrouped, which is exact algebra (only float rounding differs):

* **Few prompt tokens.** An attention between T ~ 7 prompt tokens and the N image tokens never
  projects the image tokens. Token-to-image: the logits ``(q W_k) X^T`` and the output
  ``(A X) W_v^T + b_v`` (softmax rows sum to 1; the key bias adds one constant per query row,
  which softmax ignores). Image-to-token: the logits ``X (W_q^T K^T) + b_q K^T`` and the output
  ``A (V W_o^T) + b_o`` per head. Each costs N x C x (heads x T) instead of N x C x 128 per
  projection: about 2.3x fewer multiply-adds on the image side for a box and a click (T = 7).
  With many prompt tokens the official order is used (:data:`REGROUP_LIMIT`).
* **The image side once per image.** With no mask prompt, layer 0's image-side projections are
  the same for every click (:class:`ImageSide`, kept per image).
* **A mask prompt is a low-rank change.** A previous mask enters as the dense prompt, the 1 x 1
  convolution (C x F, F = 16) that ends the prompt encoder's ``mask_downscaling``: per pixel a
  rank-F function of F feature maps. Layer 0's projections of the keys then differ from the
  kept no-mask ones by ``[h, 1] M_P`` with ``M_P`` = ``[W^T; b - e_no_mask] W_P^T`` ((F + 1) x 128
  per projection, :class:`MaskPromptRank`): N x 17 x 128 multiply-adds per projection instead of
  N x C x 128 (or the regrouped N x C x heads T).
* **Only the outputs read.** The final token-to-image attention runs for the output tokens
  (IoU and masks) only; the official decoder also runs it for every prompt token and drops
  those results.
* **Channels last, no layout copies.** The 2 x 2 / stride 2 transposed convolutions are matrix
  products per pixel (C_in -> 4 C_out), the LayerNorm2d a layer norm over the channel axis and
  the activations elementwise, so the upscaling stays in the tokens' own layout, and only the
  final masks (M x 256 x 256) are rearranged to image order.

The parity tests compare the logits with the official decoder's and the answers with the
official predictor's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, cast

import torch
from torch import Tensor, nn

REGROUP_LIMIT = 2
"""The regrouped attention is used while heads x T < REGROUP_LIMIT x the projection width (128):
up to T = 31 prompt tokens (a box and 24 clicks). Measured (L0, 2 threads, refinement clicks):
at T = 17 the regrouped form took 46 ms against 55 ms projected, at T = 27 58 ms against 56 ms,
although it counts 6 % and 70 % more multiply-adds there: its products have better shapes."""


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
class FirstLayerProjections:
    """Layer 0's projections of the image tokens, (1, heads, N, C'/heads) each: the keys and
    values the prompt tokens attend to, and the image tokens' queries."""

    k: Tensor
    v: Tensor
    image_q: Tensor


@dataclass(frozen=True)
class ImageSide:
    """The image's part of one decoding: token tensors are (1, N, C) with N image tokens
    (64 x 64) of C = 256 channels; ``first``: layer 0's image-side projections (kept per image
    without a mask prompt, updated by the mask's low-rank part with one)."""

    keys: Tensor
    key_pe: Tensor
    first: FirstLayerProjections
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


class _PromptEncoder(Protocol):
    """The parts of SAM's ``PromptEncoder`` (SAM 1 and SAM 2 alike) that the mask prompt uses."""

    mask_downscaling: nn.Sequential
    no_mask_embed: nn.Embedding


@dataclass(frozen=True)
class MaskPromptRank:
    """How a mask prompt changes layer 0's inputs, per model (see the module doc): ``to_dense``
    ((F + 1) x C) maps a pixel's mask features and a 1 to its keys' change from the no-mask keys;
    ``k``, ``v``, ``image_q`` ((heads, F + 1, d) each) map them to the change of layer 0's key,
    value and image-query projections, in ``_separate_heads``' channel order."""

    to_dense: Tensor
    k: Tensor
    v: Tensor
    image_q: Tensor


def _last_conv(prompt_encoder: _PromptEncoder) -> nn.Conv2d:
    last = list(prompt_encoder.mask_downscaling)[-1]
    if not isinstance(last, nn.Conv2d) or tuple(last.kernel_size) != (1, 1):
        raise TypeError(f"the mask prompt path needs a 1 x 1 convolution last in mask_downscaling, not {last}")
    return last


@torch.no_grad()
def mask_prompt_rank(decoder: nn.Module, prompt_encoder: nn.Module) -> MaskPromptRank:
    """:class:`MaskPromptRank` of a decoder and its prompt encoder (official modules)."""
    sam = cast(Sam1MaskDecoder, decoder)
    conv = _last_conv(cast(_PromptEncoder, prompt_encoder))
    no_mask = cast(_PromptEncoder, prompt_encoder).no_mask_embed.weight[0]                 # (C,)
    conv_bias: Tensor = conv.bias  # type: ignore[assignment]
    to_dense = torch.cat([conv.weight[:, :, 0, 0].transpose(0, 1), (conv_bias - no_mask)[None]])  # (F + 1, C)
    first = sam.transformer.layers[0]
    to_image, to_token = first.cross_attn_token_to_image, first.cross_attn_image_to_token

    def per_head(linear: nn.Linear, heads: int) -> Tensor:
        change = to_dense @ linear.weight.transpose(0, 1)                                  # (F + 1, C')
        return change.view(change.shape[0], heads, -1).permute(1, 0, 2).contiguous()      # (heads, F + 1, d)

    return MaskPromptRank(to_dense.contiguous(), per_head(to_image.k_proj, to_image.num_heads),
                          per_head(to_image.v_proj, to_image.num_heads), per_head(to_token.q_proj, to_token.num_heads))


@torch.no_grad()
def mask_features(prompt_encoder: nn.Module, masks: Tensor) -> Tensor:
    """A previous mask's features, channels last with a 1 appended: ``masks`` (1, 1, 4H, 4W)
    logits -> (H W, F + 1), what ``mask_downscaling`` computes before its last (1 x 1) layer."""
    layers = list(cast(_PromptEncoder, prompt_encoder).mask_downscaling)
    features = masks
    for layer in layers[:-1]:
        features = layer(features)
    pixels = features[0].flatten(1).transpose(0, 1)                                        # (H W, F)
    return torch.cat([pixels, pixels.new_ones(pixels.shape[0], 1)], dim=1)


@torch.no_grad()
def mask_prompt_side(no_mask: ImageSide, rank: MaskPromptRank, features: Tensor) -> ImageSide:
    """The image side for a click with a previous mask as the prompt, from the image's kept
    no-mask side (:func:`prepare_image_side`) and the mask's ``features`` (:func:`mask_features`,
    (N, F + 1)): the keys and layer 0's projections plus their low-rank changes."""
    first = no_mask.first
    heads = rank.k.shape[0]
    spread = features.expand(heads, *features.shape)
    keys = torch.addmm(no_mask.keys[0], features, rank.to_dense)[None]
    projections = FirstLayerProjections(torch.baddbmm(first.k[0], spread, rank.k)[None],
                                        torch.baddbmm(first.v[0], spread, rank.v)[None],
                                        torch.baddbmm(first.image_q[0], spread, rank.image_q)[None])
    return ImageSide(keys=keys, key_pe=no_mask.key_pe, first=projections, size_hw=no_mask.size_hw)


@torch.no_grad()
def prepare_image_side(decoder: nn.Module, tokens: ImageTokens, dense_prompt: Tensor) -> ImageSide:
    """:class:`ImageSide` of an image for the "no mask" dense prompt embedding ``dense_prompt``
    (1, C, H, W), kept for every click on the image: layer 0's image-side projections, laid out
    contiguously once."""
    sam = cast(Sam1MaskDecoder, decoder)
    keys = tokens.image + dense_prompt.flatten(2).permute(0, 2, 1)
    keys_with_pe = keys + tokens.pe
    first = sam.transformer.layers[0]
    to_image, to_token = first.cross_attn_token_to_image, first.cross_attn_image_to_token
    first_k = _heads(to_image, to_image.k_proj(keys_with_pe))
    first_v = _heads(to_image, to_image.v_proj(keys))
    first_image_q = _heads(to_token, to_token.q_proj(keys_with_pe))
    first_layer = FirstLayerProjections(first_k.contiguous(), first_v.contiguous(), first_image_q.contiguous())
    return ImageSide(keys=keys, key_pe=tokens.pe, first=first_layer, size_hw=tokens.size_hw)


def _per_head(linear: nn.Linear, heads: int) -> tuple[Tensor, Tensor]:
    """A projection's weight (heads, d, C_in) and bias (heads, d) per head (d = C_out / heads),
    in the channel order ``_separate_heads`` uses."""
    out_features, in_features = linear.weight.shape
    return (linear.weight.view(heads, out_features // heads, in_features),
            linear.bias.view(heads, out_features // heads))


def _token_queries_attend(attention: _Attention, q_tokens: Tensor, keys_x: Tensor, values_x: Tensor) -> Tensor:
    """The official ``Attention.forward(q=q_tokens, k=keys_x, v=values_x)`` for T query tokens
    (1, T, C) over N image tokens (1, N, C) -> (1, T, C), without projecting the image tokens:
    logits ``(q_h W_k_h) X^T``, output ``(A_h X) W_v_h^T + b_v_h``."""
    heads = attention.num_heads
    tokens = q_tokens.shape[1]
    if heads * tokens >= REGROUP_LIMIT * attention.k_proj.out_features:  # many prompt tokens: project
        return attention(q=q_tokens, k=keys_x, v=values_x)
    q_heads = _heads(attention, attention.q_proj(q_tokens))[0]                   # (heads, T, d)
    w_k, _ = _per_head(attention.k_proj, heads)                                  # (heads, d, C)
    w_v, b_v = _per_head(attention.v_proj, heads)
    scale = 1.0 / math.sqrt(q_heads.shape[-1])
    gathered = (q_heads @ w_k).reshape(heads * tokens, -1) * scale               # (heads T, C)
    weights = torch.softmax(gathered @ keys_x[0].transpose(0, 1), dim=-1)        # (heads T, N)
    mixed = (weights @ values_x[0]).view(heads, tokens, -1)                      # (heads, T, C)
    out_heads = mixed @ w_v.transpose(1, 2) + b_v[:, None, :]                    # (heads, T, d)
    out: Tensor = attention.out_proj(attention._recombine_heads(out_heads[None]))
    return out


def _image_queries_attend(attention: _Attention, image_q: Tensor, k_tokens: Tensor, v_tokens: Tensor,
                          *, projected: bool) -> Tensor:
    """The official ``Attention.forward(q=image_q, k=k_tokens, v=v_tokens)`` for N image-token
    queries over T tokens -> (1, N, C), without projecting the image tokens on the way out:
    output ``A_h (V_h W_o_h^T) + b_o``. ``image_q``: (1, N, C) raw (logits ``X (W_q_h^T K_h^T) +
    b_q_h K_h^T``), or with ``projected`` its projection per head (1, heads, N, d)."""
    heads = attention.num_heads
    tokens = k_tokens.shape[1]
    if not projected and heads * tokens >= REGROUP_LIMIT * attention.q_proj.out_features:  # many prompt tokens
        return attention(q=image_q, k=k_tokens, v=v_tokens)
    k_heads = _heads(attention, attention.k_proj(k_tokens))[0]                   # (heads, T, d)
    v_heads = _heads(attention, attention.v_proj(v_tokens))[0]
    scale = 1.0 / math.sqrt(k_heads.shape[-1])
    if projected:
        logits = (image_q[0] @ k_heads.transpose(1, 2)).permute(1, 0, 2)          # (N, heads, T)
        logits = logits.reshape(-1, heads * tokens) * scale
    else:
        w_q, b_q = _per_head(attention.q_proj, heads)                             # (heads, d, C), (heads, d)
        gathered = (w_q.transpose(1, 2) @ k_heads.transpose(1, 2))                # (heads, C, T)
        gathered = gathered.permute(1, 0, 2).reshape(-1, heads * tokens) * scale  # (C, heads T)
        bias = (b_q[:, None, :] @ k_heads.transpose(1, 2)).reshape(heads * tokens) * scale
        logits = torch.addmm(bias, image_q[0], gathered)                           # (N, heads T)
    weights = torch.softmax(logits.view(-1, heads, tokens), dim=-1).view(-1, heads * tokens)
    w_o = attention.out_proj.weight                                                # (C, heads d)
    w_o_heads = w_o.view(w_o.shape[0], heads, -1).permute(1, 2, 0)                 # (heads, d, C)
    values = (v_heads @ w_o_heads).reshape(heads * tokens, -1)                     # (heads T, C)
    return torch.addmm(attention.out_proj.bias, weights, values)[None]


def _block(layer: _Block, queries: Tensor, keys: Tensor, query_pe: Tensor, key_pe: Tensor,
           cached: FirstLayerProjections | None) -> tuple[Tensor, Tensor]:
    """The official ``TwoWayAttentionBlock.forward``; ``cached``: layer 0's image-side
    projections (:class:`ImageSide`), None for the later layers (their image side is regrouped)."""
    keys_with_pe = keys + key_pe if cached is None else None
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        queries = queries + layer.self_attn(q=q, k=q, v=queries)
    queries = layer.norm1(queries)

    to_image = layer.cross_attn_token_to_image
    q = queries + query_pe
    if cached is not None:
        attended = _attend(to_image, _heads(to_image, to_image.q_proj(q)), cached.k, cached.v)
    else:
        assert keys_with_pe is not None
        attended = _token_queries_attend(to_image, q, keys_with_pe, keys)
    queries = layer.norm2(queries + attended)
    queries = layer.norm3(queries + layer.mlp(queries))

    to_token = layer.cross_attn_image_to_token
    q = queries + query_pe
    if cached is not None:
        attn_out = _image_queries_attend(to_token, cached.image_q, q, queries, projected=True)
    else:
        assert keys_with_pe is not None
        attn_out = _image_queries_attend(to_token, keys_with_pe, q, queries, projected=False)
    return queries, layer.norm4(keys + attn_out)


def _transposed_conv_2x2(conv: nn.Module, pixels: Tensor, plus: Tensor | None = None) -> Tensor:
    """A 2 x 2, stride 2 ``ConvTranspose2d`` on channels-last pixels (P, C_in) -> (4 P, C_out),
    each input pixel followed by its 2 x 2 output block in (row, column) order. ``plus``: a
    (P, 4 C_out) map to add instead of the bias (already holding it), added inside the product."""
    weight: Tensor = conv.weight  # type: ignore[assignment]  # (C_in, C_out, 2, 2)
    c_in, c_out = weight.shape[:2]
    per_pixel = weight.permute(0, 2, 3, 1).reshape(c_in, 4 * c_out)
    if plus is None:
        bias: Tensor = conv.bias  # type: ignore[assignment]
        plus = bias.repeat(4)
    return torch.addmm(plus, pixels, per_pixel).view(-1, c_out)


@dataclass(frozen=True)
class HighResBlocks:
    """SAM 2's high-resolution encoder maps in the upscaling's channels-last block order, laid
    out once per image with the transposed convolutions' biases added: ``s1`` (N, 4 C1) is added
    by the first transposed convolution, ``s0`` (4 N, 4 C0) by the second (N = H x W image
    tokens)."""

    s1: Tensor
    s0: Tensor


@torch.no_grad()
def high_res_blocks(upscaling: nn.Module, feat_s0: Tensor, feat_s1: Tensor) -> HighResBlocks:
    """:class:`HighResBlocks` of SAM 2's maps ``feat_s0`` (1, C0, 4H, 4W) and ``feat_s1``
    (1, C1, 2H, 2W) for the decoder's ``upscaling``: pixel (2 i + a, 2 j + b) of ``feat_s1`` goes
    to row i W + j, columns (2 a + b) C1 ... + C1, like the first transposed convolution's
    outputs; likewise two levels deep for ``feat_s0``."""
    first, _, _, second, _ = list(cast(nn.Sequential, upscaling))
    c1, height2, width2 = feat_s1.shape[1:]
    height, width = height2 // 2, width2 // 2
    s1 = feat_s1[0].view(c1, height, 2, width, 2).permute(1, 3, 2, 4, 0).reshape(height * width, 4 * c1)
    c0 = feat_s0.shape[1]
    s0 = feat_s0[0].view(c0, height, 2, 2, width, 2, 2).permute(1, 4, 2, 5, 3, 6, 0).reshape(4 * height * width,
                                                                                             4 * c0)
    first_bias: Tensor = first.bias  # type: ignore[assignment]
    second_bias: Tensor = second.bias  # type: ignore[assignment]
    return HighResBlocks((s1 + first_bias.repeat(4)).contiguous(), (s0 + second_bias.repeat(4)).contiguous())


def upscaled_masks(upscaling: nn.Module, keys: Tensor, hyper_in: Tensor, size_hw: tuple[int, int],
                   high_res: HighResBlocks | None = None) -> Tensor:
    """The official ``hyper_in @ output_upscaling(keys as (1, C, H, W))``: keys (1, H W, C),
    ``hyper_in`` (1, M, C') -> masks (1, M, 4 H, 4 W). The upscaling (transposed conv, LayerNorm2d,
    activation, transposed conv, activation; SAM 2 adds ``high_res`` before the norm and before
    the last activation) runs channels last, pixels in block order."""
    first, norm, act1, second, act2 = list(cast(nn.Sequential, upscaling))
    pixels = _transposed_conv_2x2(first, keys[0], None if high_res is None else high_res.s1)
    norm_weight: Tensor = norm.weight  # type: ignore[assignment]
    norm_bias: Tensor = norm.bias  # type: ignore[assignment]
    pixels = act1(torch.nn.functional.layer_norm(pixels, (pixels.shape[-1],), norm_weight, norm_bias,
                                                 float(cast(float, norm.eps))))
    pixels = _transposed_conv_2x2(second, pixels, None if high_res is None else high_res.s0)  # (16 H W, C')
    masks = act2(pixels) @ hyper_in[0].transpose(0, 1)                             # (16 H W, M)
    height, width = size_hw
    count = masks.shape[-1]
    # block order (row, col, a, b, a2, b2) -> image row 4 row + 2 a + a2, column 4 col + 2 b + b2
    ordered: Tensor = masks.view(height, width, 2, 2, 2, 2, count).permute(6, 0, 2, 4, 1, 3, 5)
    return ordered.reshape(1, count, 4 * height, 4 * width)


def transformer_outputs(decoder: nn.Module, side: ImageSide, tokens: Tensor, outputs: int) -> tuple[Tensor, Tensor]:
    """The official ``TwoWayTransformer`` plus the decoder's final attention: prompt + output
    ``tokens`` (1, T, C) on ``side`` -> the first ``outputs`` tokens after the final norm
    (1, outputs, C) and the image tokens after the last layer (1, N, C).

    The decoder reads only its output tokens (IoU, masks; SAM 2's object score), which come first:
    the final attention runs for those alone, not for the prompt tokens whose results the official
    decoder computes and drops (5 of 17 queries for a box and 10 clicks)."""
    sam = cast(Sam1MaskDecoder, decoder)
    queries, keys = tokens, side.keys
    for index, layer in enumerate(sam.transformer.layers):
        queries, keys = _block(layer, queries, keys, tokens, side.key_pe, side.first if index == 0 else None)
    final = sam.transformer.final_attn_token_to_image
    queries, tokens = queries[:, :outputs], tokens[:, :outputs]
    attn_out = _token_queries_attend(final, queries + tokens, keys + side.key_pe, keys)
    hs: Tensor = sam.transformer.norm_final_attn(queries + attn_out)
    return hs, keys


@torch.no_grad()
def decode(decoder: nn.Module, side: ImageSide, sparse_prompt_embeddings: Tensor,
           multimask: bool) -> tuple[Tensor, Tensor]:
    """The official ``MaskDecoder.forward`` for one prompt set on ``side`` (:func:`prepare_image_side`
    without a mask prompt, :func:`mask_prompt_side` with one): ``sparse_prompt_embeddings``
    (1, T, C) -> low-resolution mask logits (1, M, 4H, 4W) and predicted IoUs (1, M), M = 3 with
    ``multimask`` else 1."""
    sam = cast(Sam1MaskDecoder, decoder)
    output_tokens = torch.cat([sam.iou_token.weight, sam.mask_tokens.weight], dim=0)
    output_tokens = output_tokens.unsqueeze(0).expand(sparse_prompt_embeddings.size(0), -1, -1)
    tokens = torch.cat((output_tokens, sparse_prompt_embeddings), dim=1)
    hs, keys = transformer_outputs(decoder, side, tokens, output_tokens.shape[1])
    iou_token_out = hs[:, 0, :]
    mask_tokens_out = hs[:, 1: (1 + sam.num_mask_tokens), :]
    mask_slice = slice(1, None) if multimask else slice(0, 1)
    wanted = range(sam.num_mask_tokens)[mask_slice]  # only the masks returned are upscaled into
    hyper_in = torch.stack([sam.output_hypernetworks_mlps[i](mask_tokens_out[:, i, :]) for i in wanted], dim=1)
    masks = upscaled_masks(sam.output_upscaling, keys, hyper_in, side.size_hw)
    iou_pred = sam.iou_prediction_head(iou_token_out)
    return masks, iou_pred[:, mask_slice]


class KeptImage:
    """The decoder inputs of the last image clicked on, kept between its clicks: its tokens, its
    image side for clicks without a mask prompt and (SAM 2) its high-resolution maps in block
    order. Another image replaces them (one image is kept: the embedding cache keeps the rest)."""

    def __init__(self, decoder: nn.Module, prompt_encoder: nn.Module, dense_pe: Tensor) -> None:
        self._decoder, self._dense_pe = decoder, dense_pe
        self._rank = mask_prompt_rank(decoder, prompt_encoder)
        self._owner: object | None = None
        self._tokens: ImageTokens | None = None
        self._no_mask_side: ImageSide | None = None
        self._high_res: HighResBlocks | None = None

    def _switch(self, owner: object) -> None:
        if self._owner is not owner:
            self._owner, self._tokens, self._no_mask_side, self._high_res = owner, None, None, None

    def side(self, owner: object, image_embed: Tensor, no_mask_dense: Tensor, mask: Tensor | None) -> ImageSide:
        """The :class:`ImageSide` for a click on ``owner`` (an embedding, compared by identity) whose
        image embedding is ``image_embed`` (1, C, H, W): ``no_mask_dense`` is the prompt encoder's
        dense prompt without a mask (1, C, H, W), ``mask`` the click's mask prompt as
        :func:`mask_features` gives it, or None. Kept without a mask prompt, derived from the
        kept one with."""
        self._switch(owner)
        if self._tokens is None:
            self._tokens = image_tokens(image_embed, self._dense_pe)
        if self._no_mask_side is None:
            self._no_mask_side = prepare_image_side(self._decoder, self._tokens, no_mask_dense)
        if mask is None:
            return self._no_mask_side
        return mask_prompt_side(self._no_mask_side, self._rank, mask)

    def high_res(self, owner: object, feat_s0: Tensor, feat_s1: Tensor) -> HighResBlocks:
        """``owner``'s :class:`HighResBlocks` (laid out on the first click)."""
        self._switch(owner)
        if self._high_res is None:
            upscaling = cast(Sam1MaskDecoder, self._decoder).output_upscaling
            self._high_res = high_res_blocks(upscaling, feat_s0, feat_s1)
        return self._high_res
