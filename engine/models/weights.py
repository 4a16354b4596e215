"""Pretrained weights from disk, never from the network.

A torchvision weight (e.g. ``MaskRCNN_ResNet50_FPN_Weights.COCO_V1``) is looked up where
torchvision's downloader would have put it: ``torch.hub.get_dir()/checkpoints/<file name of the
weight's URL>`` (``$TORCH_HOME/hub/checkpoints`` by default). A user-chosen file is read the same
way. Every file is read with ``torch.load(weights_only=True)``.

Loading copies every tensor whose name and shape fit; class-dependent head tensors are remapped
row by row when both sides name their classes (COCO's "person" row feeds a project class called
"person"; a warm start keeps the rows of the category ids it shares), and are otherwise left at
their fresh initialisation ("heads replaced").
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.errors import ModelWeightsError


def checkpoint_dir() -> Path:
    """torchvision's download cache: ``torch.hub.get_dir()/checkpoints`` (follows TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weight_file_name(weight_name: str) -> str:
    """The file name torchvision downloads ``weight_name`` (``"Enum.VALUE"``) to."""
    from torchvision.models import get_weight

    url: str = get_weight(weight_name).url
    return os.path.basename(url)


def weight_categories(weight_name: str) -> list[str]:
    """The class names of a torchvision weight (index 0 is the background), or []."""
    from torchvision.models import get_weight

    return list(get_weight(weight_name).meta.get("categories", []))


def find_cached(weight_name: str | None) -> Path | None:
    """The on-disk file of a torchvision weight, or None when it was never downloaded."""
    if not weight_name:
        return None
    path = checkpoint_dir() / weight_file_name(weight_name)
    return path if path.is_file() else None


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a weight file with ``weights_only=True``: a plain state dict, a SegStudio weight
    file (``{"state_dict": ...}``) or a torchvision-references checkpoint (``{"model": ...}``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelWeightsError(f"{path}: weight file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelWeightsError(f"{path}: not a readable weight file ({type(exc).__name__}: {exc})") from exc
    if isinstance(data, Mapping):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(data.get(key), Mapping):
                data = data[key]
                break
    if not isinstance(data, Mapping) or not data:
        raise ModelWeightsError(f"{path}: holds no state dict")
    state = {str(k).removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise ModelWeightsError(f"{path}: holds no tensors")
    return state


@dataclass
class LoadReport:
    """What a load did: tensors copied, remapped by class, left freshly initialised."""

    source: str = "random"
    loaded: list[str] = field(default_factory=list)
    remapped: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.source}: {len(self.loaded)} tensors loaded, {len(self.remapped)} remapped by class, "
                f"{len(self.replaced)} left at init, {len(self.unused)} unused")


def _norm(label: str) -> str:
    return label.strip().lower().replace("_", " ")


def remap_class_rows(
    key: str,
    source: torch.Tensor,
    target: torch.Tensor,
    source_labels: Sequence[str],
    target_labels: Sequence[str],
) -> torch.Tensor | None:
    """A copy of ``target`` whose class rows come from ``source`` where the class label matches.

    Labels list every class index including the background at 0. Dim 0 of a head tensor holds
    ``classes * m`` rows: class-major (``c*m + j``: box regression, mask logits, classifiers) or,
    for ``classification_head`` tensors, anchor-major (``a*classes + c``: RetinaNet, FCOS, SSD).
    Returns None when the shapes do not fit this layout.
    """
    n_src, n_dst = len(source_labels), len(target_labels)
    if n_src == 0 or n_dst == 0 or source.shape[1:] != target.shape[1:]:
        return None
    if source.shape[0] % n_src or target.shape[0] % n_dst or source.shape[0] // n_src != target.shape[0] // n_dst:
        return None
    m = source.shape[0] // n_src
    index = {_norm(label): i for i, label in enumerate(source_labels) if label and label != "N/A"}
    out = target.clone()
    anchor_major = "classification_head" in key
    for c_dst, label in enumerate(target_labels):
        c_src = 0 if c_dst == 0 else index.get(_norm(label))
        if c_src is None:
            continue
        for j in range(m):
            if anchor_major:
                out[j * n_dst + c_dst] = source[j * n_src + c_src]
            else:
                out[c_dst * m + j] = source[c_src * m + j]
    return out


def load_matching(
    module: nn.Module,
    state: Mapping[str, torch.Tensor],
    *,
    source: str,
    source_labels: Sequence[str] = (),
    target_labels: Sequence[str] = (),
    require_fraction: float = 0.5,
    class_keys: Collection[str] = (),
) -> LoadReport:
    """Copy into ``module`` every tensor of ``state`` whose name and shape fit; remap class rows
    of head tensors when labels are given; leave the rest at init.

    ``class_keys`` names the module's class-dependent tensors (their dim 0 grows with the class
    count). When the two label lists differ, these are remapped row by row even if their shapes
    agree (a class deleted and another added, or classes reordered, keeps the count but not the
    meaning of a row); a tensor of ``class_keys`` that cannot be remapped is left at init.

    Raises :class:`ModelWeightsError` when fewer than ``require_fraction`` of the module's
    tensors could be filled (the file belongs to another architecture).
    """
    own = module.state_dict()
    report = LoadReport(source=source)
    # Without labels on both sides rows cannot be matched: same-shaped heads are copied as they are.
    same_classes = (not source_labels or not target_labels
                    or [_norm(v) for v in source_labels] == [_norm(v) for v in target_labels])
    new_state: dict[str, torch.Tensor] = {}
    for key, value in own.items():
        incoming = state.get(key)
        if incoming is None:
            report.replaced.append(key)
            continue
        by_class = key in class_keys and not same_classes
        if incoming.shape == value.shape and not by_class:
            new_state[key] = incoming.to(value.dtype)
            report.loaded.append(key)
            continue
        remapped = remap_class_rows(key, incoming.to(value.dtype), value, source_labels, target_labels)
        if remapped is not None:
            new_state[key] = remapped
            report.remapped.append(key)
        else:
            report.replaced.append(key)
    report.unused = [k for k in state if k not in own]
    countable = [k for k in own if not k.endswith("num_batches_tracked")]
    filled = len([k for k in report.loaded + report.remapped if not k.endswith("num_batches_tracked")])
    if countable and filled < require_fraction * len(countable):
        raise ModelWeightsError(
            f"{source}: only {filled} of {len(countable)} tensors fit this architecture; "
            f"is it a weight file for another model?"
        )
    module.load_state_dict(new_state, strict=False)
    return report


def rename_prefixes(state: Mapping[str, torch.Tensor], prefixes: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Backbone weights into a detector's names: each ``(source_prefix, target_prefix)`` pair
    renames the keys that start with ``source_prefix``; other keys are dropped."""
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for src, dst in prefixes:
            if key.startswith(src):
                renamed[dst + key[len(src):]] = value
                break
    return renamed
