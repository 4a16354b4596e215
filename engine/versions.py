"""Model versions: which one a job uses, creating the row of an untrained (or pretrained) model,
and loading a version's weights (cached in the worker between jobs).

Every version row has a weight file beside the project, so every pre-label can be reproduced
from the version that made it, untrained ones included.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

import torch

from annotations.errors import NotFoundError
from annotations.model import ModelVersion
from annotations.store import Project
from engine import checkpoints
from engine.errors import EngineInputError
from engine.models.registry import BuiltModel, build_model, default_architecture, expected_source, get_spec

_CACHE_SIZE = 2
_cache: "OrderedDict[tuple[str, float, str], BuiltModel]" = OrderedDict()
_cache_lock = threading.Lock()


def project_classes(project: Project) -> tuple[tuple[int, ...], list[str]]:
    """(category ids, names) in display order: the classes a new model is built for."""
    categories = project.categories()
    if not categories:
        raise EngineInputError(f"{project.path}: the project has no categories; add labels first")
    return tuple(c.id for c in categories), [c.name for c in categories]


def new_weights_path(project_path: "str | os.PathLike[str]", architecture: str, tag: str) -> Path:
    """A fresh file name under the project's models folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    return checkpoints.models_dir(project_path) / f"{architecture}-{safe}-{uuid.uuid4().hex[:8]}.pt"


def initial_version(project: Project, architecture: str, *, weights_file: str = "") -> ModelVersion:
    """The version row of ``architecture`` as built for the project's classes before any
    training (pretrained weights when on disk, random otherwise): reused when one with the same
    classes and weight source exists, else built, saved and added (not promoted)."""
    spec = get_spec(architecture)
    class_ids, names = project_classes(project)
    source = expected_source(spec.name, weights_file=weights_file or None)
    for version in reversed(project.model_versions()):
        if (version.architecture == spec.name and version.parent_id is None and version.classes == class_ids
                and version.trained_on.get("init") == source and version.weights_path
                and checkpoints.resolve(project.path, version.weights_path).is_file()):
            return version
    torch.manual_seed(0)
    built = build_model(spec.name, names, weights_file=weights_file or None)
    path = new_weights_path(project.path, spec.name, "init")
    checkpoints.save_model(built, class_ids, path)
    try:
        return project.add_model_version(ModelVersion(
            0, spec.name, class_ids,
            trained_on={"init": built.report.source, "image_ids": [], "revision": project.revision},
            metrics={}, weights_path=checkpoints.relative_to_project(project.path, path), promoted=False,
        ))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def resolve_version(project: Project, model: str) -> ModelVersion:
    """The version a pre-label (or segment) job uses.

    ``model`` empty: the newest promoted version, else the default architecture when its
    pretrained torchvision weights are on disk (an :class:`EngineInputError` otherwise);
    digits: that version id; a registry name: its newest promoted version, else its initial one.
    """
    model = model.strip()
    if not model:
        current = project.current_model_version()
        if current is not None:
            return current
        architecture = default_architecture(project.categories())
        if not expected_source(architecture).startswith("torchvision:"):
            # An untrained network proposes noise: refuse rather than store useless pre-labels.
            raise EngineInputError(
                f"{project.path}: no trained model yet and no pretrained {architecture} weights on disk; "
                "finish a few images and train one (main.py train), or name a model (--model NAME) "
                "whose torchvision weights are in the torch hub cache, or a weight file"
            )
        return initial_version(project, architecture)
    if model.isdigit():
        try:
            return project.get_model_version(int(model))
        except NotFoundError as exc:
            raise EngineInputError(str(exc)) from exc
    spec = get_spec(model)
    return project.current_model_version(spec.name) or initial_version(project, spec.name)


def load_version(project_path: "str | os.PathLike[str]", version: ModelVersion, device: torch.device) -> BuiltModel:
    """The version's model on ``device`` (cached: the last two loaded stay in memory)."""
    if not version.weights_path:
        raise EngineInputError(f"model version {version.id} has no weight file")
    path = checkpoints.resolve(project_path, version.weights_path)
    if not path.is_file():
        raise EngineInputError(f"model version {version.id}: weight file {path} is missing")
    key = (str(path.resolve()), path.stat().st_mtime, str(device))
    # The worker's batch and interactive lanes share the cache: one lock around look-up, load and
    # eviction (a load under the lock also keeps two lanes from loading one file twice).
    with _cache_lock:
        built = _cache.get(key)
        if built is not None:
            _cache.move_to_end(key)
            return built
        built, _ = checkpoints.load_model(path)
        built.module.to(device)
        _cache[key] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return built


def clear_cache() -> None:
    """Forget cached models (frees their memory)."""
    with _cache_lock:
        _cache.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
