"""The SAM predictor: ``set_image(rgb)`` once, then ``predict(box_xyxy=..., positive=..., negative=...)``
per prompt -> candidate bool masks with predicted-IoU scores.

The image embedding (the expensive encoder pass) is computed once per image and kept in a
memory-bounded :class:`~engine.sam.cache.EmbeddingCache`; a prompt runs only the prompt encoder and
the mask decoder. The model family's :class:`~engine.sam.backend.SamBackend` does the image
transform, prompt transforms and mask post-processing as the official predictor does (SAM 2.1:
``SAM2ImagePredictor``; EfficientViT-SAM: ``EfficientViTSamPredictor``; parity tests check both).
An embedding can be interrupted between layers (``should_stop``), so a prefetch gives way to a
newer request.

Large images: an image whose long side exceeds :data:`WHOLE_IMAGE_MAX_SIDE` is embedded whole
(subsampled) for prompts that span much of it, and in a window around the prompt otherwise (the
window's embedding is cached, and reused while later clicks stay inside it), so a 20,000 x 15,000
image answers at the detail of a 1,024-pixel crop.

Coordinates are continuous image pixels, points are (x, y), boxes (x1, y1, x2, y2).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import EngineInputError
from engine.sam.backend import ShouldStop, make_backend, stop_between_layers
from engine.sam.cache import Embedding, EmbeddingCache, Window
from engine.sam.catalog import DEFAULT_MODEL, SamModelSpec, find_model

LOW_RES_SIDE = 256  # side of the decoder's mask logits (the ``mask_input`` shape)
WHOLE_IMAGE_MAX_SIDE = 2048
"""Images up to this long side are always embedded whole, at full resolution (no cropping)."""
CROP_CONTEXT = 1.0
"""A prompt window is the prompt's extent grown by this share of it on every side ..."""
CROP_MIN_SIDE = 512
"""... and at least this many pixels on a side; when it exceeds half the image's long side the
whole-image embedding answers instead."""
MAX_MASK_PIXELS = 64_000_000
"""Masks of larger windows are upsampled at a reduced scale, then repeated (nearest)."""

Point = tuple[float, float]
_UNNAMED = itertools.count()


@dataclass(frozen=True)
class SamPrediction:
    """The answer to one prompt, candidates best first (by the model's predicted IoU).

    ``window_masks``: (C, h, w) bool over ``window`` (the whole image unless the image is large);
    ``scores``: (C,) predicted IoU; ``low_res_logits``: (C, 256, 256) float32 logits over the
    window, to pass back as ``mask_input`` for a refinement; ``image_hw``: (height, width).
    """

    window_masks: np.ndarray
    scores: np.ndarray
    low_res_logits: np.ndarray
    window: Window
    image_hw: tuple[int, int]
    embedding_seconds: float  # 0 when the embedding came from the cache

    @property
    def masks(self) -> np.ndarray:
        """(C, H, W) bool over the whole image."""
        return np.stack([self.full_mask(i) for i in range(len(self.scores))])

    def full_mask(self, index: int = 0) -> np.ndarray:
        """Candidate ``index`` as an (H, W) bool mask of the whole image."""
        w = self.window
        if (w.x1, w.y1, w.x2, w.y2) == (0, 0, self.image_hw[1], self.image_hw[0]):
            whole: np.ndarray = self.window_masks[index]
            return whole
        full = np.zeros(self.image_hw, bool)
        full[w.y1 : w.y2, w.x1 : w.x2] = self.window_masks[index]
        return full


class SamPredictor:
    """SAM-family image predictor with an embedding cache and prompt windows for large images.

    ``network``: an official network of the model ``name`` (:func:`engine.sam.model.load_network`;
    the name, from :mod:`engine.sam.catalog`, also picks the family's backend and is part of the
    cache key); ``cache``: shared between predictors if given.
    """

    def __init__(self, network: torch.nn.Module, *, name: str = DEFAULT_MODEL, cache: EmbeddingCache | None = None) -> None:
        self.network = network
        self.name = name
        self.spec = find_model(name)
        self.backend = make_backend(self.spec.family, network)
        self.cache = cache if cache is not None else EmbeddingCache()
        self.device = next(iter(network.parameters())).device
        self._rgb: np.ndarray | None = None
        self._image_key = ""
        # Subnormal floats (|x| < 1.2e-38) run CPU arithmetic 10-100x slower: clicks on some images
        # took 700 ms instead of 46 ms in bench/interactive.py (labelme photos). Flushing them to
        # zero changes no mask (logits that small are 0 for any threshold). Process-wide in torch.
        torch.set_flush_denormal(True)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_weights(cls, model: str | SamModelSpec = DEFAULT_MODEL, checkpoint: str | Path | None = None, *,
                     device: str | torch.device = "cpu", cache: EmbeddingCache | None = None) -> SamPredictor:
        """A predictor for ``model`` (a name from :mod:`engine.sam.catalog`), its weights read from
        ``checkpoint`` or else from the weights cache (``main.py weights fetch <name>`` puts them
        there). Raises :class:`EngineInputError` when the file is missing or does not fit."""
        from engine.models.weight_files import cache_path
        from engine.sam.model import load_network

        spec = model if isinstance(model, SamModelSpec) else find_model(model)
        path = Path(checkpoint) if checkpoint is not None else cache_path(spec.weight_file)
        if not path.is_file():
            raise EngineInputError(f"no weights for {spec.name} at {path}: run `main.py weights fetch {spec.name}` "
                                   "or pick a weight file")
        return cls(load_network(spec, path, device), name=spec.name, cache=cache)

    # ------------------------------------------------------------------ image
    @property
    def image_hw(self) -> tuple[int, int]:
        """(height, width) of the image set; raises when none is."""
        if self._rgb is None:
            raise EngineInputError("set_image() must be called before predict()")
        return (int(self._rgb.shape[0]), int(self._rgb.shape[1]))

    def set_image(self, rgb: np.ndarray, image_key: str | None = None, *, embed: bool = True,
                  should_stop: ShouldStop | None = None) -> float:
        """Make ``rgb`` ((H, W, 3) uint8, RGB) the current image and compute its whole-image
        embedding unless the cache holds it under ``image_key`` (default: a new key for every
        call, so nothing is reused by mistake) or ``embed`` is False (then the first prompt computes the embedding it
        needs). Returns the seconds spent embedding (0 from the cache or when deferred).
        ``should_stop`` is asked before every encoder layer; when it answers True the pass stops
        with :class:`engine.errors.JobCancelled` and nothing is cached."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise EngineInputError(f"set_image needs an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
        self._rgb = rgb
        self._image_key = image_key if image_key is not None else f"unnamed-{next(_UNNAMED)}"
        if not embed:
            return 0.0
        height, width = self.image_hw
        return self._embedding(Window(0, 0, width, height), should_stop)[1]

    def _embedding(self, window: Window, should_stop: ShouldStop | None = None) -> tuple[Embedding, float]:
        key = (self.name, self._image_key, window)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, 0.0
        assert self._rgb is not None
        embedding = self.embed_window(self._rgb, window, should_stop)
        self.cache.put(key, embedding)
        return embedding, embedding.seconds

    @torch.no_grad()
    def embed_window(self, rgb: np.ndarray, window: Window, should_stop: ShouldStop | None = None) -> Embedding:
        """The official image transform and encoder pass over ``window`` of ``rgb`` (the
        backend's); windows longer than :data:`WHOLE_IMAGE_MAX_SIDE` are first subsampled by a
        whole step. ``should_stop``: see :meth:`set_image`."""
        started = time.perf_counter()
        h, w = window.size_hw
        step = max(1, int(np.ceil(max(h, w) / WHOLE_IMAGE_MAX_SIDE)))
        pixels = np.ascontiguousarray(rgb[window.y1 : window.y2 : step, window.x1 : window.x2 : step])
        with stop_between_layers(self.backend.encoder, should_stop):
            image_embed, high_res = self.backend.embed(pixels, window.size_hw)
        return Embedding(window, image_embed, high_res, time.perf_counter() - started)

    # ------------------------------------------------------------------ prompts
    def prompt_window(self, box_xyxy: Sequence[float] | None, points: Sequence[Point]) -> Window:
        """The window whose embedding answers this prompt (see the module docstring): the whole
        image, a cached window holding the prompt, or a new square window around it."""
        height, width = self.image_hw
        whole = Window(0, 0, width, height)
        if max(height, width) <= WHOLE_IMAGE_MAX_SIDE:
            return whole
        xs = [float(p[0]) for p in points]
        ys = [float(p[1]) for p in points]
        if box_xyxy is not None:
            xs += [float(box_xyxy[0]), float(box_xyxy[2])]
            ys += [float(box_xyxy[1]), float(box_xyxy[3])]
        x1, x2, y1, y2 = min(xs), max(xs), min(ys), max(ys)
        side = max(max(x2 - x1, y2 - y1) * (1 + 2 * CROP_CONTEXT), CROP_MIN_SIDE)
        if side >= 0.5 * max(height, width):
            return whole
        for window in reversed(self.cache.windows(self.name, self._image_key)):
            if window != whole and window.contains(x1, y1, x2, y2, margin=0.1) and max(window.size_hw) <= 2 * side:
                return window
        side_i = int(np.ceil(side))
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        wx1 = int(np.clip(round(cx - side_i / 2), 0, max(width - side_i, 0)))
        wy1 = int(np.clip(round(cy - side_i / 2), 0, max(height - side_i, 0)))
        return Window(wx1, wy1, min(wx1 + side_i, width), min(wy1 + side_i, height))

    @torch.no_grad()
    def predict(self, *, box_xyxy: Sequence[float] | None = None, positive: Sequence[Point] = (),
                negative: Sequence[Point] = (), mask_input: np.ndarray | None = None,
                multimask: bool = True, window: Window | None = None) -> SamPrediction:
        """Candidate masks for a prompt on the current image, best (highest predicted IoU) first.

        ``box_xyxy``: image pixels; ``positive``/``negative``: (x, y) clicks; ``mask_input``:
        (256, 256) logits from a previous :class:`SamPrediction` (``low_res_logits[i]``) over
        the same window, as a refinement prompt; ``multimask``: three candidates (SAM's answer
        to an ambiguous prompt) rather than one; ``window``: force the embedding window.
        """
        if box_xyxy is None and not positive:
            raise EngineInputError("a SAM prompt needs a box or at least one positive point")
        window = window or self.prompt_window(box_xyxy, [*positive, *negative])
        embedding, seconds = self._embedding(window)
        masks_in = None
        if mask_input is not None:
            if mask_input.shape[-2:] != (LOW_RES_SIDE, LOW_RES_SIDE):
                raise EngineInputError(f"mask_input must be (256, 256) low-resolution logits, got {mask_input.shape}")
            masks_in = torch.as_tensor(mask_input, dtype=torch.float32, device=self.device).reshape(1, 1, LOW_RES_SIDE, -1)
        box = None
        if box_xyxy is not None:  # window-relative
            box = (float(box_xyxy[0]) - window.x1, float(box_xyxy[1]) - window.y1,
                   float(box_xyxy[2]) - window.x1, float(box_xyxy[3]) - window.y1)
        points = [(float(x) - window.x1, float(y) - window.y1) for x, y in [*positive, *negative]]
        labels = [1] * len(positive) + [0] * len(negative)
        low_res, iou = self.backend.decode(embedding, box, points, labels, masks_in, multimask)
        scores = iou.float().cpu().numpy()
        order = np.argsort(-scores, kind="stable")
        masks = self._upsample(self.backend.window_logits(low_res, window.size_hw), window.size_hw)[order]
        logits = torch.clamp(low_res, -32.0, 32.0).float().cpu().numpy()[order]
        return SamPrediction(masks, scores[order], logits, window, self.image_hw, seconds)

    @staticmethod
    def _upsample(logits: torch.Tensor, size_hw: tuple[int, int]) -> np.ndarray:
        """(C, h', w') logits covering the window -> (C, h, w) bool masks (bilinear, threshold 0,
        as the official post-processing); very large windows at a reduced scale, then repeated."""
        h, w = size_hw
        step = max(1, int(np.ceil(np.sqrt(h * w / MAX_MASK_PIXELS))))
        small = F.interpolate(logits[None].float(), (int(np.ceil(h / step)), int(np.ceil(w / step))),
                              mode="bilinear", align_corners=False)[0] > 0
        masks = small.cpu().numpy()
        if step > 1:
            masks = masks.repeat(step, axis=1).repeat(step, axis=2)[:, :h, :w]
        return np.ascontiguousarray(masks)
