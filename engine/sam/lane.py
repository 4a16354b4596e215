"""SAM state kept by the engine's interactive lane between Segment jobs (one process, one thread).

Holds one :class:`SamPredictor` per (model, weight file) loaded once, one shared embedding cache
(memory-bounded), the decoded RGB of the last few images (decoding a 2 MP JPEG costs tens of
milliseconds, more than a decoder pass), and the previous answer per image for refinement.

Prefetching gives way: :meth:`SamLane.prepare` takes the job's cancel check, which the encoder
asks before every layer, so a cancelled prepare or prefetch (the GUI cancels the prefetch when
the annotator prompts, and the previous image's prepare when another image opens) stops within
one layer and the lane takes the next request at once, instead of finishing a multi-second
embedding first. Torch cannot stop inside one operator, so the wait is at most one layer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from engine.sam.backend import ShouldStop
from engine.sam.cache import EmbeddingCache, Window
from engine.sam.catalog import DEFAULT_MODEL, find_model
from engine.sam.predictor import WHOLE_IMAGE_MAX_SIDE, Point, SamPrediction, SamPredictor

RGB_CACHE_BYTES = 768 * 1024 * 1024


@dataclass(frozen=True)
class PromptKey:
    """A prompt, comparable: the box and the clicks in order."""

    box_xyxy: tuple[float, ...] | None
    positive: tuple[Point, ...]
    negative: tuple[Point, ...]

    def extends(self, earlier: PromptKey) -> bool:
        """Same box, and the earlier clicks are the first clicks of this one (a click was added)."""
        return (self.box_xyxy == earlier.box_xyxy and self != earlier
                and self.positive[: len(earlier.positive)] == earlier.positive
                and self.negative[: len(earlier.negative)] == earlier.negative)


@dataclass(frozen=True)
class Previous:
    prompt: PromptKey
    window: Window
    logits: np.ndarray  # (256, 256) of the best candidate


class SamLane:
    """Predictors, embedding cache, RGB cache and refinement state of the interactive lane."""

    def __init__(self, cache_bytes: int | None = None) -> None:
        self.cache = EmbeddingCache() if cache_bytes is None else EmbeddingCache(cache_bytes)
        self._predictors: dict[tuple[str, str], SamPredictor] = {}
        self._rgb: OrderedDict[str, np.ndarray] = OrderedDict()
        self._previous: dict[tuple[str, str], Previous] = {}

    def predictor(self, model: str = "", weights_file: str = "") -> SamPredictor:
        """The predictor of ``model`` (default :data:`DEFAULT_MODEL`) with weights from
        ``weights_file`` or the weights cache; loaded on first use, on the GPU when there is one."""
        name = find_model(model or DEFAULT_MODEL).name
        key = (name, weights_file)
        if key not in self._predictors:
            device = "cuda" if torch.cuda.is_available() else "cpu"
            self._predictors[key] = SamPredictor.from_weights(name, Path(weights_file) if weights_file else None,
                                                              device=device, cache=self.cache)
        return self._predictors[key]

    def rgb(self, image_key: str, read: Callable[[], np.ndarray]) -> np.ndarray:
        """The decoded image under ``image_key``, read with ``read`` when not held."""
        held = self._rgb.get(image_key)
        if held is not None:
            self._rgb.move_to_end(image_key)
            return held
        rgb = read()
        self._rgb[image_key] = rgb
        while sum(a.nbytes for a in self._rgb.values()) > RGB_CACHE_BYTES and len(self._rgb) > 1:
            self._rgb.popitem(last=False)
        return rgb

    def prepare(self, predictor: SamPredictor, image_key: str, rgb: np.ndarray,
                should_stop: ShouldStop | None = None) -> float:
        """Compute (or find cached) the whole-image embedding; returns seconds spent. When
        ``should_stop`` answers True (asked before every encoder layer) the pass stops with
        :class:`engine.errors.JobCancelled` and nothing is cached."""
        return predictor.set_image(rgb, image_key, should_stop=should_stop)

    def segment(self, predictor: SamPredictor, image_key: str, rgb: np.ndarray, box_xyxy: Sequence[float] | None,
                positive: Sequence[Point], negative: Sequence[Point], *, refine: bool = True) -> SamPrediction:
        """Answer one prompt. A box alone or a single click asks for SAM's three candidates;
        more prompts for one mask. With ``refine``, a prompt that adds clicks to the previous
        prompt on this image also gets the previous best mask's logits as ``mask_input``."""
        seconds = predictor.set_image(rgb, image_key, embed=max(rgb.shape[:2]) <= WHOLE_IMAGE_MAX_SIDE)
        prompt = PromptKey(None if box_xyxy is None else tuple(float(v) for v in box_xyxy),
                           tuple((float(x), float(y)) for x, y in positive), tuple((float(x), float(y)) for x, y in negative))
        window = predictor.prompt_window(box_xyxy, [*positive, *negative])
        state_key = (predictor.name, image_key)
        previous = self._previous.get(state_key)
        mask_input = None
        if refine and previous is not None and previous.window == window and prompt.extends(previous.prompt):
            mask_input = previous.logits
        single = (box_xyxy is not None) + len(positive) + len(negative) == 1
        answer = predictor.predict(box_xyxy=box_xyxy, positive=positive, negative=negative, mask_input=mask_input,
                                   multimask=single, window=window)
        self._previous[state_key] = Previous(prompt, answer.window, answer.low_res_logits[0])
        return replace(answer, embedding_seconds=answer.embedding_seconds + seconds)


LANE = SamLane()
"""The worker process's lane state (the interactive lane is one thread)."""
