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
_cache: OrderedDict[tuple[str, float, str], BuiltModel] = OrderedDict()
_cache_lock = threading.Lock()


def project_classes(project: Project) -> tuple[tuple[int, ...], list[str]]:
    """(category ids, names) in display order: the classes a new model is built for."""
    categories = project.categories()
    if not categories:
        raise EngineInputError(f"{project.path}: the project has no categories; add labels first")
    return tuple(c.id for c in categories), [c.name for c in categories]


def new_weights_path(project_path: str | os.PathLike[str], architecture: str, tag: str) -> Path:
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


def is_untrained(version: ModelVersion) -> bool:
    """Whether a version is a network that never learned the task: trained on no image and
    started from random weights or from an ImageNet backbone only."""
    init = str(version.trained_on.get("init", ""))
    return not version.trained_on.get("image_ids") and (init == "random" or init.startswith("backbone:"))


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", " ").replace("-", " ")


def known_classes(architecture: str, class_names: list[str]) -> list[str]:
    """The project class names that ``architecture``'s pretrained weights (on disk or not)
    already know by name, e.g. "person" and "dog" for COCO weights: the classes it can propose
    before any training."""
    from engine.models.weights import weight_categories

    spec = get_spec(architecture)
    if not spec.weights:
        return []
    known = {_normalise(c) for c in weight_categories(spec.weights) if c and c != "N/A"}
    known.discard(_normalise("__background__"))
    return [name for name in class_names if _normalise(name) in known]


def zero_shot_architecture(class_names: list[str], *, prefer: str = "") -> tuple[str, list[str]] | None:
    """A registry architecture whose pretrained torchvision weights are on disk and know some of
    ``class_names`` by name: (architecture, the classes it knows); ``prefer`` first, then the
    architecture knowing the most classes (instance masks before boxes). None when there is none."""
    from engine.models.registry import names

    best: tuple[int, int, str, list[str]] | None = None
    for name in names(include_tiny=False):
        if not expected_source(name).startswith("torchvision:"):
            continue
        classes = known_classes(name, class_names)
        if not classes:
            continue
        score = (1 if name == prefer else 0, len(classes))
        if best is None or score > best[:2]:
            best = (score[0], score[1], name, classes)
    return None if best is None else (best[2], best[3])


def _describe(version: ModelVersion) -> str:
    """"version 3 (unet, trained on 8 images; miou 0.41 vs 0.40 before; not promoted: ...)"."""
    images = len(version.trained_on.get("image_ids") or [])
    key = str(version.metrics.get("primary", ""))
    parts = [f"{version.architecture}, trained on {images} images" if images else version.architecture]
    baseline = version.metrics.get("baseline")
    if key and isinstance(version.metrics.get(key), (int, float)):
        before = baseline.get(key) if isinstance(baseline, dict) else None
        parts.append(f"{key} {version.metrics[key]:.3f}" + (f" vs {before:.3f} before" if isinstance(before, (int, float))
                                                            else ""))
    why = version.metrics.get("promotion_reason")
    parts.append(("promoted" if version.promoted else "not promoted") + (f": {why}" if why else ""))
    return f"version {version.id} ({'; '.join(parts)})"


def untrained_refusal(project: Project, architecture: str, what: str) -> EngineInputError:
    """The error for pre-labeling with an untrained network: names the versions that exist and
    how to use one (``--model N``), how to train, and how to fetch pretrained weights."""
    trained = [v for v in project.model_versions() if not is_untrained(v) and v.weights_path]
    lines = [f"{project.path}: {what}; an untrained network proposes noise, so nothing was pre-labeled."]
    if trained:
        newest = trained[-1]
        lines.append(f"  {_describe(newest)} exists: pre-label with it anyway with --model {newest.id}")
    lines.append(f"  train one on the finished images: main.py train {project.path.name}"
                 + (f" --model {architecture}" if architecture else ""))
    spec = get_spec(architecture) if architecture else None
    if spec is not None and spec.weights:
        lines.append(f"  or fetch its pretrained weights: main.py weights fetch {architecture}")
    else:
        lines.append("  or fetch pretrained COCO weights when your class names are COCO's: main.py weights list")
    lines.append("  (tests only: --allow-untrained stores an untrained network's output)")
    return EngineInputError("\n".join(lines))


def resolve_version(project: Project, model: str, *, allow_untrained: bool = False) -> ModelVersion:
    """The version a pre-label (or segment) job uses.

    ``model`` empty: the newest promoted version; else, when pretrained weights on disk know
    some project classes by name (COCO's "person", VOC's "dog"), the initial version of that
    architecture (day-one pre-labels); else an :class:`EngineInputError` naming the versions that
    exist and how to use them. Digits: that version id. A registry name: its newest promoted
    version, else its initial one. A network that never learned (random or backbone-only
    weights, no training) is refused unless ``allow_untrained`` (tests).
    """
    model = model.strip()
    if not model:
        current = project.current_model_version()
        if current is not None:
            return current
        _, names = project_classes(project)
        default = default_architecture(project.categories())
        choice = zero_shot_architecture(names, prefer=default)
        if choice is not None:
            return initial_version(project, choice[0])
        raise untrained_refusal(project, default, "no promoted model yet and no pretrained weights on disk that "
                                                  f"know any of the classes {', '.join(names)}")
    if model.isdigit():
        try:
            version = project.get_model_version(int(model))
        except NotFoundError as exc:
            raise EngineInputError(str(exc)) from exc
        if is_untrained(version) and not allow_untrained:
            raise untrained_refusal(project, version.architecture,
                                    f"model version {version.id} ({version.architecture}) was never trained")
        return version
    spec = get_spec(model)
    current = project.current_model_version(spec.name)
    if current is not None:
        return current
    if not allow_untrained and not expected_source(spec.name).startswith("torchvision:"):
        raise untrained_refusal(project, spec.name, f"{spec.name} has no promoted version in this project and no "
                                                    "pretrained weights on disk")
    return initial_version(project, spec.name)


def load_version(project_path: str | os.PathLike[str], version: ModelVersion, device: torch.device) -> BuiltModel:
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
