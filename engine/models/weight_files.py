"""Downloadable weight files: the catalogue, where each lives on disk, and an atomic, hash-checked
fetch into torchvision's download cache (``torch.hub.get_dir()/checkpoints``, follows TORCH_HOME).

The network is touched only by :func:`fetch`, i.e. only on an explicit user request
(``main.py weights fetch`` or the GUI's weights dialog). A fetch streams the body into a temporary
file in the cache folder, checks its length, its full SHA-256 (when the catalogue knows it) and
torchvision's hash prefix (the ``-<hex>`` suffix of the file name, checked like
``torch.hub.download_url_to_file(hash_prefix=...)``), and only then renames it into place. The
download loop is torch.hub's own (``urllib`` in chunks into a same-folder temp file, then
``os.replace``), written out here because torch.hub's function has neither a progress callback
nor a cancel; a 404, a truncated body, a hash mismatch or a cancel leave the cache as it was.

A mirror base URL (``SEGSTUDIO_WEIGHTS_MIRROR`` or ``mirror=``) replaces the official host:
``<mirror>/<file name>``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch.hub

from engine.errors import WeightsFetchError

MIRROR_ENV = "SEGSTUDIO_WEIGHTS_MIRROR"
CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30.0

ProgressCallback = Callable[[int, "int | None"], None]
CancelToken = Callable[[], bool]

TORCHVISION_LICENCE = "BSD-3-Clause"
TORCHVISION_LICENCE_TEXT = (
    "Pretrained weights published by the torchvision project (https://github.com/pytorch/vision),\n"
    "distributed under torchvision's BSD 3-Clause licence. The weights were trained on public data sets\n"
    "(ImageNet, COCO, Pascal VOC) whose own terms of use may apply to your use of the weights.\n"
    "See https://github.com/pytorch/vision/blob/main/LICENSE and the model's documentation.\n"
)


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file."""

    name: str  # user-facing, unique: e.g. "maskrcnn_resnet50_fpn.coco", "sam2.1_hiera_tiny"
    url: str  # official download URL
    filename: str  # file name inside the cache folder
    sha256: str | None  # full hex SHA-256 when known (checked after download)
    hash_prefix: str | None  # torchvision's convention: first hex digits of the SHA-256 in the file name
    size_bytes: int | None
    licence: str  # SPDX id, e.g. "Apache-2.0", "BSD-3-Clause"
    licence_text: str  # text written beside the file as <filename>.LICENSE.txt
    description: str  # one line shown by `weights list`
    subdir: str = "checkpoints"  # folder under torch.hub.get_dir() (follows TORCH_HOME)


_extra: dict[str, WeightFile] = {}


# ----------------------------------------------------------------------------------- paths
def cache_path(spec: WeightFile) -> Path:
    """``torch.hub.get_dir()/<subdir>/<filename>``: where torchvision looks for the file."""
    return Path(torch.hub.get_dir()) / spec.subdir / spec.filename


def is_cached(spec: WeightFile) -> bool:
    """Whether the file is on disk (it was fetched, or put there by hand)."""
    return cache_path(spec).is_file()


def licence_path(spec: WeightFile) -> Path:
    """The licence text written beside the weight file."""
    path = cache_path(spec)
    return path.with_name(path.name + ".LICENSE.txt")


def mirror_url(spec: WeightFile, mirror: str | None) -> str:
    """The URL a fetch uses: ``<mirror>/<filename>`` when a mirror is given (argument first,
    then ``$SEGSTUDIO_WEIGHTS_MIRROR``), else the official URL."""
    base = mirror if mirror else os.environ.get(MIRROR_ENV, "")
    base = base.strip()
    if not base:
        return spec.url
    return base.rstrip("/") + "/" + spec.filename


def hash_prefix_of(filename: str) -> str | None:
    """torchvision's hash prefix of a file name (``resnet50-0676ba61.pth`` -> ``0676ba61``)."""
    match = torch.hub.HASH_REGEX.search(filename)
    return match.group(1) if match else None


# ----------------------------------------------------------------------------------- fetch
def fetch(
    spec: WeightFile,
    source: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Put ``spec``'s file into the cache and return its path.

    ``source``: None -> the official URL (or the mirror); an ``http(s)://`` or ``file://`` URL ->
    that URL; anything else -> a local file copied in. ``progress(bytes_done, bytes_total or
    None)`` is called per chunk; ``cancel()`` returning True stops the fetch. Any failure raises
    :class:`WeightsFetchError` (naming the URL or file and the reason) and leaves the cache
    unchanged (no partial file, the previous file if any untouched).
    """
    target = cache_path(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    origin = _origin(spec, source, mirror)
    try:
        digest = hashlib.sha256()
        with tmp.open("wb") as out:
            if origin.startswith(("http://", "https://", "file://")):
                _download(origin, out, digest, progress, cancel)
            else:
                _copy(Path(origin), out, digest, progress, cancel)
        _check_hash(spec, origin, digest.hexdigest())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if spec.licence_text:
        licence = licence_path(spec)
        licence_tmp = licence.with_name(f".{licence.name}.{uuid.uuid4().hex[:8]}.partial")
        licence_tmp.write_text(spec.licence_text, encoding="utf-8")
        os.replace(licence_tmp, licence)
    return target


def _origin(spec: WeightFile, source: str | os.PathLike[str] | None, mirror: str | None) -> str:
    if source is None or str(source) == "":
        return mirror_url(spec, mirror)
    text = os.fspath(source)
    if text.startswith(("http://", "https://", "file://")):
        return text
    path = Path(text)
    if not path.is_file():
        raise WeightsFetchError(f"{path}: no such file to copy {spec.name} from")
    return str(path)


def _download(url: str, out: BinaryIO, digest: hashlib._Hash, progress: ProgressCallback | None,
              cancel: CancelToken | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "segstudio"})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        raise WeightsFetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsFetchError(f"{url}: cannot connect ({reason}); set a mirror with --mirror URL or "
                                f"${MIRROR_ENV}, or copy the file in with --from FILE") from exc
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        while True:
            if cancel is not None and cancel():
                raise WeightsFetchError(f"{url}: cancelled after {done} bytes; nothing was stored")
            try:
                chunk = response.read(CHUNK_BYTES)
            except Exception as exc:
                raise WeightsFetchError(f"{url}: connection broke after {done} bytes ({exc}); "
                                        "nothing was stored") from exc
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if total is not None and done != total:
        raise WeightsFetchError(f"{url}: truncated download: {done} of {total} bytes; nothing was stored")
    if done == 0:
        raise WeightsFetchError(f"{url}: empty response; nothing was stored")


def _copy(path: Path, out: BinaryIO, digest: hashlib._Hash, progress: ProgressCallback | None,
          cancel: CancelToken | None) -> None:
    total = path.stat().st_size
    done = 0
    with path.open("rb") as source:
        while True:
            if cancel is not None and cancel():
                raise WeightsFetchError(f"{path}: copy cancelled; nothing was stored")
            chunk = source.read(CHUNK_BYTES)
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)


def _check_hash(spec: WeightFile, origin: str, sha256_hex: str) -> None:
    if spec.sha256 and sha256_hex != spec.sha256.lower():
        raise WeightsFetchError(f"{origin}: SHA-256 mismatch for {spec.name}: got {sha256_hex}, "
                                f"expected {spec.sha256}; nothing was stored")
    prefix = spec.hash_prefix or hash_prefix_of(spec.filename)
    if prefix and not sha256_hex.startswith(prefix.lower()):
        raise WeightsFetchError(f"{origin}: hash mismatch for {spec.name}: SHA-256 {sha256_hex[:16]}... does not "
                                f"start with {prefix} (torchvision's check); nothing was stored")


# ------------------------------------------------------------------------------- catalogue
def register(specs: Iterable[WeightFile]) -> None:
    """Add (or replace, by name) entries of the catalogue."""
    for spec in specs:
        _extra[spec.name] = spec


def torchvision_weight_file(weight_name: str, name: str, description: str) -> WeightFile:
    """The :class:`WeightFile` of a torchvision weight enum value (``"Enum.VALUE"``)."""
    from torchvision.models import get_weight

    weight = get_weight(weight_name)
    filename = os.path.basename(weight.url)
    size_mb = weight.meta.get("_file_size")
    size = int(float(size_mb) * 1024 * 1024) if isinstance(size_mb, (int, float)) else None
    return WeightFile(name, weight.url, filename, None, hash_prefix_of(filename), size, TORCHVISION_LICENCE,
                      TORCHVISION_LICENCE_TEXT, description)


_BACKBONES = {
    "ResNet50_Weights.IMAGENET1K_V1": "resnet50.imagenet",
    "MobileNet_V3_Large_Weights.IMAGENET1K_V1": "mobilenet_v3_large.imagenet",
}


def model_weight_name(model: str) -> str:
    """The catalogue name of a registry model's own pretrained weights, e.g.
    ``maskrcnn_resnet50_fpn`` -> ``maskrcnn_resnet50_fpn.coco`` (VOC-labelled COCO for
    segmentation models: ``.coco_voc``)."""
    from engine.models.registry import get_spec

    spec = get_spec(model)
    if not spec.weights:
        raise WeightsFetchError(f"model {model} has no pretrained weights to fetch (it trains from scratch)")
    return f"{model}.{'coco_voc' if 'VOC' in spec.weights else 'coco'}"


def backbone_weight_name(weight_enum: str) -> str:
    """The catalogue name of an ImageNet backbone weight enum value."""
    return _BACKBONES.get(weight_enum, weight_enum.split("_Weights")[0].lower() + ".imagenet")


def _torchvision_entries() -> list[WeightFile]:
    from engine.models.registry import get_spec, names

    entries: dict[str, WeightFile] = {}
    for model in names(include_tiny=False):
        spec = get_spec(model)
        if spec.weights:
            name = model_weight_name(model)
            data = "COCO (VOC's 20 classes)" if "VOC" in spec.weights else "COCO (80 classes)"
            entries[name] = torchvision_weight_file(spec.weights, name, f"{spec.title} trained on {data}")
        if spec.backbone_weights:
            name = backbone_weight_name(spec.backbone_weights)
            if name not in entries:
                entries[name] = torchvision_weight_file(spec.backbone_weights, name,
                                                        f"ImageNet backbone {spec.backbone_weights.split('_Weights')[0]}")
    return list(entries.values())


def catalogue() -> tuple[WeightFile, ...]:
    """Every known weight file: torchvision's (registry models and backbones), then SAM's
    (``engine.sam.catalog.WEIGHT_FILES`` when that module exists), then registered extras."""
    entries: dict[str, WeightFile] = {e.name: e for e in _torchvision_entries()}
    try:
        from engine.sam import catalog as sam_catalog
    except ImportError as exc:
        if exc.name not in ("engine.sam", "engine.sam.catalog"):
            raise
    else:
        entries.update({e.name: e for e in getattr(sam_catalog, "WEIGHT_FILES", ())})
    entries.update(_extra)
    return tuple(entries.values())


def find(name: str) -> WeightFile:
    """The catalogue entry called ``name`` (a registry model name finds its pretrained weights);
    :class:`WeightsFetchError` listing the names otherwise."""
    entries = {e.name: e for e in catalogue()}
    if name in entries:
        return entries[name]
    from engine.models.registry import REGISTRY

    if name in REGISTRY and REGISTRY[name].weights:
        alias = model_weight_name(name)
        if alias in entries:
            return entries[alias]
    raise WeightsFetchError(f"unknown weight file {name!r}; known: {', '.join(sorted(entries))}")


__all__ = ["WeightFile", "cache_path", "catalogue", "fetch", "find", "is_cached", "licence_path", "mirror_url",
           "register", "MIRROR_ENV"]
