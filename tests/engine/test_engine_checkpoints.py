"""Model files rebuild with their own build options (a U-Net's width), also after the registry's
default changed and for files written before the options were recorded."""

from __future__ import annotations

from pathlib import Path

import torch

from engine import checkpoints
from engine.models.registry import BuiltModel, class_labels, get_spec
from engine.models.weights import LoadReport


def _built(name: str, base_channels: int) -> BuiltModel:
    spec = get_spec(name)
    labels = class_labels(["nucleus"])
    torch.manual_seed(0)
    module = spec.build(len(labels), base_channels=base_channels)
    return BuiltModel(module, spec, labels, LoadReport(source="random"))


def _stem_width(built: BuiltModel) -> int:
    state = built.module.state_dict()
    key = "net.stem.0.weight" if "net.stem.0.weight" in state else "stem.0.weight"
    return int(state[key].shape[0])


def test_a_model_file_rebuilds_at_its_saved_width_not_the_registry_default(tmp_path: Path) -> None:
    default_width = _stem_width(_built("unet_instances", 16))
    assert default_width == 16
    saved = _built("unet_instances", 8)
    path = tmp_path / "v1.pt"
    checkpoints.save_model(saved, (1,), path)
    assert checkpoints.read_model(path).build_options == {"base_channels": 8}
    loaded, class_ids = checkpoints.load_model(path)
    assert class_ids == (1,)
    assert _stem_width(loaded) == 8
    for key, tensor in saved.module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[key], tensor), key


def test_files_without_recorded_options_infer_the_width_from_the_weights(tmp_path: Path) -> None:
    for name, width in (("unet_instances", 8), ("unet", 8), ("unet_tiny", 4)):
        saved = _built(name, width)
        path = tmp_path / f"{name}.pt"
        checkpoints.save_model(saved, (1,), path)
        payload = torch.load(path, weights_only=True)
        del payload["build_options"]  # as written by the landing before build options existed
        torch.save(payload, path)
        loaded, _ = checkpoints.load_model(path)
        assert _stem_width(loaded) == width, name
