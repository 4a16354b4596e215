"""Reading a SAM checkpoint file and loading it strictly into a network: one place for the errors
every SAM family gives (missing file, unreadable file, tensors that do not fit)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelWeightsError


def read_checkpoint(checkpoint: Path, kind: str) -> object:
    """The object stored in ``checkpoint`` (``torch.load`` with ``weights_only=True``, on the CPU);
    ``kind`` names the model family in the error (e.g. ``"SAM 2"``)."""
    try:
        payload: object = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelWeightsError(f"SAM weight file {checkpoint} does not exist") from exc
    except Exception as exc:
        raise ModelWeightsError(f"{checkpoint} is not a readable {kind} checkpoint: {exc}") from exc
    return payload


def load_strictly(network: nn.Module, state: dict[str, torch.Tensor], checkpoint: Path, model_name: str,
                  device: torch.device | str) -> nn.Module:
    """``network`` with ``state`` loaded (every tensor name and shape must fit), on ``device``, in
    eval mode; a clear error naming ``checkpoint`` and ``model_name`` when it does not fit."""
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:3]
        raise ModelWeightsError(f"{checkpoint} does not fit {model_name}: {' '.join(first)}") from exc
    return network.to(device).eval()
