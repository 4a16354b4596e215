"""The SAM models SegStudio knows: which official config builds each, and its weight file.

``WEIGHT_FILES`` is read by :func:`engine.models.weight_files.catalogue`, so ``main.py weights
list|fetch`` lists and fetches these files (explicit request, hash-checked when the hash is known,
mirror setting) and writes the licence text beside each.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.errors import EngineInputError
from engine.models.weight_files import WeightFile
from engine.sam.licence import EFFICIENTVIT_SAM_LICENCE_TEXT, SAM2_LICENCE_TEXT

SAM2_1_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"
EFFICIENTVIT_SAM_BASE_URL = "https://huggingface.co/mit-han-lab/efficientvit-sam/resolve/main"


class SamFamily(Enum):
    """Which official package builds (and is the runtime of) a model."""

    SAM2 = "sam2"  # facebookresearch/sam2: the ``sam2`` package, hydra configs
    EFFICIENTVIT_SAM = "efficientsam"  # mit-han-lab/efficientvit's SAM, packaged as ``efficientsam`` on PyPI

    @property
    def package(self) -> str:
        """The importable runtime package."""
        return self.value

    @property
    def install_hint(self) -> str:
        """The pip line that installs the runtime."""
        if self is SamFamily.SAM2:
            return "SAM2_BUILD_CUDA=0 pip install --no-build-isolation sam2 hydra-core iopath"
        return "pip install --no-deps efficientsam==1.0.0"


@dataclass(frozen=True)
class SamModelSpec:
    """One SAM model: ``config`` is the official builder's name for it (the hydra config inside
    the ``sam2`` package, or the ``efficientsam`` model-zoo name)."""

    name: str
    config: str
    weight_file: WeightFile
    title: str
    family: SamFamily = SamFamily.SAM2


def _sam2_1(size: str, letter: str, megaparams: float) -> SamModelSpec:
    name = f"sam2.1_hiera_{size}"
    weight = WeightFile(
        name=name,
        url=f"{SAM2_1_BASE_URL}/{name}.pt",
        filename=f"{name}.pt",
        sha256=None,  # not published by Meta; the loader checks every tensor name and shape instead
        hash_prefix=None,
        size_bytes=None,
        licence="Apache-2.0",
        licence_text=SAM2_LICENCE_TEXT,
        description=f"SAM 2.1 Hiera-{size} ({megaparams:.0f}M parameters): click/box segmentation (Meta)",
        subdir="checkpoints",
    )
    return SamModelSpec(name, f"configs/sam2.1/sam2.1_hiera_{letter}.yaml", weight, f"SAM 2.1 {size}")


def _efficientvit_sam(size: str, megaparams: float) -> SamModelSpec:
    name = f"efficientvit_sam_{size}"
    weight = WeightFile(
        name=name,
        url=f"{EFFICIENTVIT_SAM_BASE_URL}/{name}.pt",
        filename=f"{name}.pt",
        sha256=None,  # not published by MIT Han Lab; the loader checks every tensor name and shape instead
        hash_prefix=None,
        size_bytes=None,
        licence="Apache-2.0",
        licence_text=EFFICIENTVIT_SAM_LICENCE_TEXT,
        description=(f"EfficientViT-SAM {size.upper()} ({megaparams:.1f}M parameters, 512 px input): "
                     "light click/box segmentation for CPU laptops (MIT Han Lab)"),
        subdir="checkpoints",
    )
    return SamModelSpec(name, f"efficientvit-sam-{size}", weight, f"EfficientViT-SAM {size.upper()}",
                        SamFamily.EFFICIENTVIT_SAM)


SAM_MODELS: tuple[SamModelSpec, ...] = (
    _sam2_1("tiny", "t", 38.9),
    _sam2_1("small", "s", 46.0),
    _efficientvit_sam("l0", 34.8),
)
WEIGHT_FILES: tuple[WeightFile, ...] = tuple(model.weight_file for model in SAM_MODELS)
DEFAULT_MODEL = "sam2.1_hiera_tiny"


def find_model(name: str) -> SamModelSpec:
    """The SAM model called ``name`` (e.g. ``"sam2.1_hiera_tiny"``); a clear error listing the names."""
    for model in SAM_MODELS:
        if model.name == name:
            return model
    known = ", ".join(model.name for model in SAM_MODELS)
    raise EngineInputError(f"unknown SAM model {name!r}; known: {known}")
