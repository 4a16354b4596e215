"""Model files beside the project: ``<project stem>.models/`` next to ``<project>.segproj``.

A SegStudio model file is a ``torch.save`` of plain data (readable with ``weights_only=True``):
``{"format", "architecture", "class_ids", "class_labels", "adapted", "state_dict"}``. Files are
written to a temporary name in the same folder and renamed, so a crash or a cancel never leaves
half a file under the final name.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelWeightsError
from engine.models.registry import BuiltModel, build_options, class_dependent_keys, infer_build_options, rebuild
from engine.models.weights import LoadReport, load_matching

FORMAT = "segstudio-model/1"


def models_dir(project_path: str | os.PathLike[str]) -> Path:
    """The folder holding a project's model files (not created here)."""
    path = Path(project_path).absolute()
    return path.with_name(path.stem + ".models")


def relative_to_project(project_path: str | os.PathLike[str], path: Path) -> str:
    """``path`` relative to the project's folder (POSIX), as stored in ``ModelVersion``."""
    return Path(os.path.relpath(path.absolute(), Path(project_path).absolute().parent)).as_posix()


def resolve(project_path: str | os.PathLike[str], weights_path: str) -> Path:
    """A stored weights path (relative to the project folder, or absolute) as an absolute path."""
    path = Path(weights_path)
    return path if path.is_absolute() else (Path(project_path).absolute().parent / path)


def atomic_save(payload: Any, path: Path) -> None:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_model(built: BuiltModel, class_ids: Sequence[int], path: Path) -> None:
    """Write a SegStudio model file for ``built`` (its classes are the category ids
    ``class_ids``, in class-index order after the background)."""
    state = {k: v.detach().cpu().clone() for k, v in built.module.state_dict().items()}
    atomic_save(
        {
            "format": FORMAT,
            "architecture": built.spec.name,
            "class_ids": [int(c) for c in class_ids],
            "class_labels": list(built.class_labels),
            "adapted": bool(built.adapted),
            "build_options": build_options(built.module),
            "state_dict": state,
        },
        path,
    )


@dataclass(frozen=True)
class ModelFile:
    architecture: str
    class_ids: tuple[int, ...]
    class_labels: tuple[str, ...]
    adapted: bool
    state_dict: dict[str, Any]
    build_options: dict[str, int]


def read_model(path: Path) -> ModelFile:
    """Read a SegStudio model file (``weights_only=True``)."""
    if not path.is_file():
        raise ModelWeightsError(f"{path}: model file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelWeightsError(f"{path}: not a readable model file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelWeightsError(f"{path}: not a SegStudio model file (format {FORMAT})")
    architecture, state_dict = str(data["architecture"]), dict(data["state_dict"])
    saved_options = data.get("build_options")
    options = ({str(k): int(v) for k, v in saved_options.items()} if isinstance(saved_options, dict)
               else infer_build_options(architecture, state_dict))
    return ModelFile(
        architecture, tuple(int(c) for c in data["class_ids"]),
        tuple(str(c) for c in data["class_labels"]), bool(data["adapted"]), state_dict, options,
    )


def load_model(path: Path) -> tuple[BuiltModel, tuple[int, ...]]:
    """Rebuild the model saved in ``path``; returns it and its class (category) ids."""
    saved = read_model(path)
    built = rebuild(saved.architecture, saved.class_labels, adapted=saved.adapted, options=saved.build_options)
    report = load_matching(built.module, saved.state_dict, source=f"version:{path}", require_fraction=0.99)
    built.report = report
    return built, saved.class_ids


def warm_start(built: BuiltModel, class_ids: Sequence[int], parent_path: Path) -> LoadReport:
    """Load a parent version into ``built`` (built for ``class_ids``): same-named tensors are
    copied, head rows are matched by category id (classes added since keep their fresh rows)."""
    saved = read_model(parent_path)
    if saved.architecture != built.spec.name:
        raise ModelWeightsError(f"{parent_path}: is a {saved.architecture}, not a {built.spec.name}")
    report = load_matching(
        built.module,
        saved.state_dict,
        source=f"version:{parent_path}",
        source_labels=["__background__", *map(str, saved.class_ids)],
        target_labels=["__background__", *map(str, class_ids)],
        class_keys=class_dependent_keys(built.spec, built.num_classes),
    )
    return report


def remove_tree(path: Path) -> None:
    """Delete a run folder (epoch checkpoints), ignoring errors."""
    shutil.rmtree(path, ignore_errors=True)
