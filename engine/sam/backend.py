"""What the SAM predictor needs from a model family: an encoder pass and a decoder pass.

:class:`engine.sam.predictor.SamPredictor` owns what every family shares (the embedding cache,
prompt windows on large images, candidate order, the answer); a :class:`SamBackend` owns what
differs (the official image transform, prompt encoding, mask post-processing). Two exist:
:class:`engine.sam.sam2_backend.Sam2Backend` (SAM 2.1) and
:class:`engine.sam.efficientvit.EfficientVitBackend` (EfficientViT-SAM).

:func:`stop_between_layers` makes an encoder pass interruptible: torch cannot be stopped inside
an operator, but a check before every sub-module call stops the pass within one layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np
import torch
from torch import nn

from engine.errors import JobCancelled
from engine.sam.cache import Embedding
from engine.sam.catalog import SamFamily

ShouldStop = Callable[[], bool]


class SamBackend(Protocol):
    """One model family's encoder and decoder passes (coordinates are window pixels)."""

    encoder: nn.Module
    """The image encoder (the module :func:`stop_between_layers` watches)."""

    def embed(self, pixels: np.ndarray, size_hw: tuple[int, int]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """``pixels``: (h, w, 3) uint8 RGB of a window whose true size is ``size_hw`` (the pixels
        may be subsampled) -> (image embedding (1, C, E, E), high-resolution maps, may be empty)."""
        ...

    def decode(self, embedding: Embedding, box_xyxy: tuple[float, float, float, float] | None,
               points_xy: list[tuple[float, float]], labels: list[int], mask_input: torch.Tensor | None,
               multimask: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt in window pixels (labels 1 positive, 0 negative); ``mask_input`` (1, 1, 256, 256)
        logits -> (low-resolution logits (C, 256, 256), predicted IoU (C,)), in the decoder's order."""
        ...

    def window_logits(self, low_res: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
        """(C, 256, 256) decoder logits -> (C, h', w') logits covering exactly the window of
        ``size_hw`` (any resolution: the predictor resizes them bilinearly to the window)."""
        ...


def make_backend(family: SamFamily, network: nn.Module) -> SamBackend:
    """The backend of ``family`` around an official ``network`` (built by :mod:`engine.sam.model`)."""
    if family is SamFamily.SAM2:
        from engine.sam.sam2_backend import Sam2Backend

        return Sam2Backend(network)
    from engine.sam.efficientvit import EfficientVitBackend

    return EfficientVitBackend(network)


@contextmanager
def stop_between_layers(module: nn.Module, should_stop: ShouldStop | None) -> Iterator[None]:
    """While inside, every call of a sub-module of ``module`` first asks ``should_stop`` and
    raises :class:`JobCancelled` when it answers True (the pass stops within one layer)."""
    if should_stop is None:
        yield
        return

    def check(_module: nn.Module, _inputs: object) -> None:
        if should_stop():
            raise JobCancelled("embedding interrupted: a newer request goes first")

    handles = [sub.register_forward_pre_hook(check) for sub in module.modules()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
