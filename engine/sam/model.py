"""Build a SAM network with the official package and load an official checkpoint into it.

SAM 2.1 is built here; EfficientViT-SAM in :mod:`engine.sam.efficientvit` (the functions below
hand its specs over).

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
from engine.sam.catalog import SamFamily, SamModelSpec
from engine.sam.checkpoint_io import load_strictly, read_checkpoint

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
        raise EngineInputError(f"SAM 2.1 needs the 'sam2' package: {SamFamily.SAM2.install_hint}") from exc


def build_network(spec: SamModelSpec) -> nn.Module:
    """``spec``'s network built by the official package (SAM 2: from the hydra config
    ``spec.config``), random weights, eval mode."""
    if spec.family is SamFamily.EFFICIENTVIT_SAM:
        from engine.sam import efficientvit

        return efficientvit.build_network(spec)
    require_sam2()
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = compose(config_name=spec.config, overrides=list(POSTPROCESSING_OVERRIDES))
    OmegaConf.resolve(cfg)
    network: nn.Module = instantiate(cfg.model, _recursive_=True)
    return network.eval()


def load_network(spec: SamModelSpec, checkpoint: Path, device: torch.device | str = "cpu") -> nn.Module:
    """``spec``'s network with the weights of ``checkpoint`` (SAM 2's official layout
    ``{"model": state_dict}``; EfficientViT-SAM: see :func:`engine.sam.efficientvit.load_network`)."""
    if spec.family is SamFamily.EFFICIENTVIT_SAM:
        from engine.sam import efficientvit

        return efficientvit.load_network(spec, checkpoint, device)
    network = build_network(spec)
    payload = read_checkpoint(checkpoint, "SAM")
    state = payload.get("model") if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise ModelWeightsError(f"{checkpoint} is not a SAM 2 checkpoint (expected a dict with a 'model' state dict)")
    return load_strictly(network, state, checkpoint, spec.name, device)


def save_checkpoint(network: nn.Module, path: Path, family: SamFamily = SamFamily.SAM2) -> None:
    """Write ``network``'s weights in ``family``'s official layout (tests and ``bench/`` make
    random-weight files)."""
    if family is SamFamily.EFFICIENTVIT_SAM:
        from engine.sam import efficientvit

        efficientvit.save_checkpoint(network, path)
        return
    torch.save({"model": network.state_dict()}, path)
