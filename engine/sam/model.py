"""Build a SAM 2.1 network from the official config and load an official checkpoint into it.

The network classes and configs are the official ``sam2`` package's (PyTorch; its optional CUDA
extension is not needed). A checkpoint is the official layout ``{"model": state_dict}``, read with
``torch.load(weights_only=True)`` and loaded strictly: a file whose tensor names or shapes do not
fit the config is refused with an error naming the file.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from engine.errors import EngineInputError, ModelWeightsError
from engine.sam.catalog import SamModelSpec

# The official builder's defaults (sam2.build_sam.build_sam2, apply_postprocessing=True): fall back
# to the multi-mask answer when the single mask is not stable.
POSTPROCESSING_OVERRIDES = (
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
)


def require_sam2() -> None:
    """Raise :class:`EngineInputError` with the install line when the ``sam2`` package is missing."""
    try:
        importlib.import_module("sam2")  # importing it initialises hydra's config search path
    except ImportError as exc:
        raise EngineInputError(
            "SAM needs the 'sam2' package: SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2 hydra-core iopath"
        ) from exc


def build_network(spec: SamModelSpec) -> nn.Module:
    """A SAM 2 network from the official hydra config ``spec.config``, random weights, eval mode."""
    require_sam2()
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = compose(config_name=spec.config, overrides=list(POSTPROCESSING_OVERRIDES))
    OmegaConf.resolve(cfg)
    network: nn.Module = instantiate(cfg.model, _recursive_=True)
    return network.eval()


def load_network(spec: SamModelSpec, checkpoint: Path, device: torch.device | str = "cpu") -> nn.Module:
    """``spec``'s network with the weights of ``checkpoint`` (official layout ``{"model": state_dict}``)."""
    network = build_network(spec)
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise ModelWeightsError(f"SAM weight file {checkpoint} does not exist") from exc
    except Exception as exc:
        raise ModelWeightsError(f"{checkpoint} is not a readable SAM checkpoint: {exc}") from exc
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ModelWeightsError(f"{checkpoint} is not a SAM 2 checkpoint (expected a dict with a 'model' state dict)")
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:3]
        raise ModelWeightsError(f"{checkpoint} does not fit {spec.name}: {' '.join(first)}") from exc
    return network.to(device).eval()


def save_checkpoint(network: nn.Module, path: Path) -> None:
    """Write ``network``'s weights in the official layout (tests and ``bench/`` make random-weight files)."""
    torch.save({"model": network.state_dict()}, path)
