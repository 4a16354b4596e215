"""What the mask-image importers and exporters share: reading a mask PNG through the one image
opener, class tables (pixel value -> class name) and colour tables (RGB -> class name), pairing
mask files with image files by stem, and turning label maps into planned annotations.

Mask PNGs are read as stored (no EXIF rotation, no colour conversion): a palette ("P") PNG gives
its palette indices, a gray PNG its values (8 or 16 bit).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotations.errors import FormatError
from annotations.formats.common import (
    ExportOptions,
    ExportReport,
    guard_target,
    require_image_files,
    select_images,
)
from annotations.formats.paths import UniqueNames
from annotations.formats.plan import PlannedAnnotation, PlannedCategory, PlannedImage
from annotations.geometry import rle
from annotations.imageio import decode_pil, read_header
from annotations.model import AnnotationRole, Image
from annotations.store import Project
from annotations.store.image_files import IMAGE_SUFFIXES

LABEL_VALUE_KEY = "label_value"
"""``Category.attributes`` key holding the pixel value a class had in the imported label PNGs
(the label-PNG exporter writes it back, so a round trip is pixel-equal)."""

MASK_FILE_KEY = "mask_file"
"""``Annotation.attributes`` key holding the stem of the per-object mask file it came from."""


def read_label_png(path: Path) -> np.ndarray:
    """A label PNG as a (height, width) integer array: palette indices of a "P" PNG, values of a
    gray one (8 or 16 bit). Raises :class:`FormatError` naming the file for a colour PNG (use the
    colour-palette importer) or an unreadable file."""
    image = decode_pil(path, upright=False)
    if image.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
        array = np.asarray(image)
        return array.astype(np.int64) if array.dtype != np.bool_ else array.astype(np.int64)
    if image.mode == "LA":
        return np.asarray(image.convert("L")).astype(np.int64)
    if image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            return rgb[..., 0].astype(np.int64)  # gray saved as RGB
        raise FormatError(f"a colour ({image.mode}) PNG is not a label-index image; import it as palette-png "
                          "with a colour table", path=str(path))
    raise FormatError(f"unsupported mask image mode {image.mode!r}", path=str(path))


def read_rgb_png(path: Path) -> np.ndarray:
    """A colour mask as a (height, width, 3) uint8 RGB array (a palette PNG is expanded)."""
    image = decode_pil(path, upright=False)
    return np.asarray(image.convert("RGB"))


@dataclass(frozen=True)
class ClassTable:
    """Pixel value -> class name, in file order. Values missing from the table are an error."""

    names: dict[int, str]

    def categories(self) -> list[PlannedCategory]:
        """One planned category per class name (first value wins), the value kept in attributes."""
        out: list[PlannedCategory] = []
        seen: set[str] = set()
        for value, name in self.names.items():
            if name not in seen:
                seen.add(name)
                out.append(PlannedCategory(name, attributes={LABEL_VALUE_KEY: value}, is_thing=False))
        return out


_LINE = re.compile(r"^\s*(\d+)\s*[,:=\s]\s*(.+?)\s*$")


def read_class_table(path: Path) -> ClassTable:
    """Read ``VALUE NAME`` lines (also ``VALUE,NAME``, ``VALUE: NAME``; ``#`` comments), a JSON
    object ``{"VALUE": "NAME"}``, or plain names one per line (line k = value k). Raises
    :class:`FormatError` naming the file and line."""
    from annotations.formats.readers import load_json

    if path.suffix.lower() == ".json":
        data = load_json(path, what="class table")
        if not isinstance(data, dict):
            raise FormatError("a JSON class table must be an object {\"value\": \"name\"}", path=str(path))
        names: dict[int, str] = {}
        for key, name in data.items():
            if not str(key).isdigit() or not isinstance(name, str) or not name.strip():
                raise FormatError(f"entry {key!r}: expected a pixel value and a class name", path=str(path))
            names[int(key)] = name.strip()
        return ClassTable(names)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError as exc:
        raise FormatError("class table file not found", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read class table: {exc}", path=str(path)) from exc
    rows = [(n, line.split("#", 1)[0].strip()) for n, line in enumerate(lines, 1)]
    rows = [(n, text) for n, text in rows if text]
    if rows and all(_LINE.match(text) is None for _, text in rows):
        return ClassTable({value: text for value, (_, text) in enumerate(rows)})
    table: dict[int, str] = {}
    for n, text in rows:
        match = _LINE.match(text)
        if match is None:
            raise FormatError(f"line {n}: expected VALUE NAME, got {text!r}", path=str(path))
        value = int(match.group(1))
        if value in table:
            raise FormatError(f"line {n}: value {value} appears twice", path=str(path))
        table[value] = match.group(2)
    return ClassTable(table)


def read_color_table(path: Path) -> dict[tuple[int, int, int], str]:
    """``R G B NAME`` or ``#rrggbb NAME`` lines (``,`` or spaces; ``#`` at line start followed by
    a space is a comment), or a JSON object ``{"#rrggbb": "NAME"}`` / ``{"NAME": [r, g, b]}``."""
    from annotations.formats.readers import load_json

    def parse_color(text: str, where: str) -> tuple[int, int, int]:
        text = text.strip()
        if re.fullmatch(r"#[0-9a-fA-F]{6}", text):
            return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)
        raise FormatError(f"{where}: bad colour {text!r} (expected #rrggbb or R G B)", path=str(path))

    table: dict[tuple[int, int, int], str] = {}
    if path.suffix.lower() == ".json":
        data = load_json(path, what="colour table")
        if not isinstance(data, dict):
            raise FormatError("a JSON colour table must be an object", path=str(path))
        for key, value in data.items():
            if isinstance(value, list) and len(value) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in value):
                table[(value[0], value[1], value[2])] = str(key)
            elif isinstance(value, str):
                table[parse_color(str(key), f"entry {key!r}")] = value
            else:
                raise FormatError(f"entry {key!r}: expected a colour and a class name", path=str(path))
        return table
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as exc:
        raise FormatError(f"cannot read colour table: {exc}", path=str(path)) from exc
    for n, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("# ") or text == "#":
            continue
        parts = [p for p in re.split(r"[,\s]+", text) if p]
        if len(parts) >= 4 and all(p.isdigit() for p in parts[:3]):
            rgb = tuple(int(p) for p in parts[:3])
            if any(v > 255 for v in rgb):
                raise FormatError(f"line {n}: colour values must be 0..255", path=str(path))
            name = " ".join(parts[3:])
            color = (rgb[0], rgb[1], rgb[2])
        elif len(parts) >= 2:
            color = parse_color(parts[0], f"line {n}")
            name = " ".join(parts[1:])
        else:
            raise FormatError(f"line {n}: expected R G B NAME or #rrggbb NAME, got {text!r}", path=str(path))
        if color in table:
            raise FormatError(f"line {n}: colour {color} appears twice", path=str(path))
        table[color] = name
    return table


def image_files_by_stem(folder: Path) -> dict[str, Path]:
    """Image files directly in ``folder`` (or below it), keyed by file stem. Raises
    :class:`FormatError` when two files share a stem."""
    found: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            if path.stem in found:
                raise FormatError(f"two image files named {path.stem!r}: {found[path.stem]} and {path}", path=str(folder))
            found[path.stem] = path
    return found


def mask_files(folder: Path, suffixes: Sequence[str] = (".png",)) -> list[Path]:
    """The mask files (by suffix) under ``folder``, sorted. Raises when there are none."""
    if not folder.is_dir():
        raise FormatError("mask folder not found", path=str(folder))
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise FormatError(f"no mask files ({', '.join(suffixes)}) in the folder", path=str(folder))
    return files


def strip_mask_suffix(stem: str, suffixes: Sequence[str]) -> str:
    """``FudanPed00054_mask`` -> ``FudanPed00054`` for ``suffixes=("_mask",)``."""
    for suffix in suffixes:
        if suffix and stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def pair_image(mask_path: Path, images: dict[str, Path], suffixes: Sequence[str]) -> Path:
    """The image file for a mask file (same stem, or the stem without a mask suffix). Raises
    :class:`FormatError` naming the mask when there is none."""
    stem = strip_mask_suffix(mask_path.stem, suffixes)
    for key in (mask_path.stem, stem):
        if key in images:
            return images[key]
    raise FormatError(f"no image file named {stem!r} for this mask (give the images folder with --images)",
                      path=str(mask_path))


def planned_image_for(image_file: Path, mask_hw: np.ndarray, mask_path: Path) -> PlannedImage:
    """A planned image whose size is checked against the mask's (height, width)."""
    header = read_header(image_file)
    if (header.height, header.width) != tuple(mask_hw.shape[:2]):
        raise FormatError(
            f"mask is {mask_hw.shape[1]}x{mask_hw.shape[0]} (width x height) but its image {image_file.name} is "
            f"{header.width}x{header.height}", path=str(mask_path),
        )
    return PlannedImage(image_file, header.width, header.height, source=str(mask_path))


def region(mask_hw: np.ndarray, label: str, item: str, *, ignore: bool = False,
           attributes: dict[str, object] | None = None) -> PlannedAnnotation:
    """A planned mask annotation (or class-agnostic ignore region when ``ignore`` and ``label``
    is empty) from a (height, width) bool array."""
    return PlannedAnnotation(
        label, rle.encode(np.ascontiguousarray(mask_hw, dtype=bool)), attributes=dict(attributes or {}), item=item,
        role=AnnotationRole.IGNORE if ignore else AnnotationRole.OBJECT, iscrowd=ignore,
    )


def semantic_regions(label_hw: np.ndarray, names: dict[int, str], *, background: int | None,
                     ignore_values: Sequence[int], path: Path) -> list[PlannedAnnotation]:
    """One mask per class value present (a stuff region), one class-agnostic ignore region for
    all ``ignore_values`` pixels. ``background`` pixels are not stored. Raises
    :class:`FormatError` naming the file for a value with no class."""
    values = [int(v) for v in np.unique(label_hw)]
    ignored = [v for v in values if v in ignore_values]
    unknown = [v for v in values if v not in names and v not in ignore_values and v != background]
    if unknown:
        raise FormatError(f"pixel value(s) {unknown[:10]} have no class in the class table "
                          "(add them, or pass --ignore-value / --background-value)", path=str(path))
    out: list[PlannedAnnotation] = []
    for value in values:
        if value == background or value in ignore_values:
            continue
        out.append(region(label_hw == value, names[value], f"{path.name} value {value}"))
    if ignored:
        out.append(region(np.isin(label_hw, ignored), "", f"{path.name} ignore", ignore=True))
    return out


DEFAULT_MASK_SUFFIXES = ("_mask", "_masks", "_label", "_labels", "_labelIds", "_gtFine_labelIds", "_instanceIds",
                         "_gtFine_instanceIds", "_gt", "_seg", "_class", "_object")
"""Stem endings stripped from a mask file's name to find its image (``FudanPed00054_mask``)."""


def find_images(masks: list[Path], source: Path, images_root: Path | None) -> dict[str, Path]:
    """Image files by stem: under ``images_root`` when given, else under the folder holding the
    source (the mask files and the mask folder itself left out). Raises :class:`FormatError`
    when two candidate images share a stem (pass ``--images``)."""
    if images_root is not None:
        if not images_root.is_dir():
            raise FormatError("images folder not found", path=str(images_root))
        return image_files_by_stem(images_root)
    mask_set = {m.resolve() for m in masks}
    base = source if source.is_file() else source.parent
    base = base.parent if base.is_file() else base
    skip = source.resolve() if source.is_dir() else None
    found: dict[str, Path] = {}
    for path in sorted(base.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        resolved = path.resolve()
        if resolved in mask_set or (skip is not None and skip in resolved.parents):
            continue
        if path.stem in found:
            raise FormatError(f"two candidate images named {path.stem!r} ({found[path.stem]} and {path}); "
                              "give the images folder with --images", path=str(source))
        found[path.stem] = path
    return found


def mask_sources(source: Path) -> list[Path]:
    """The mask PNGs of ``source``: the file itself, or every PNG under the folder."""
    if source.is_file():
        return [source]
    return mask_files(source)


def save_label_png(values_hw: np.ndarray, path: Path) -> None:
    """Write a (height, width) integer label image losslessly: 8-bit gray when every value fits,
    else 16-bit. Raises :class:`FormatError` for values outside 0..65535."""
    from PIL import Image as PILImage

    if values_hw.size and (values_hw.min() < 0 or values_hw.max() > 65535):
        raise FormatError("label values must be within 0..65535", path=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if values_hw.size == 0 or values_hw.max() <= 255:
        PILImage.fromarray(values_hw.astype(np.uint8), mode="L").save(path)
    else:
        PILImage.fromarray(values_hw.astype(np.uint16)).save(path)


@dataclass(frozen=True)
class ExportStart:
    """What every mask exporter checks before it writes: the selected ``images``, their
    source ``files`` (image id -> path), unique output ``stems`` and the ``report`` to fill."""

    images: list[Image]
    files: dict[int, Path]
    stems: UniqueNames
    report: ExportReport


def start_export(project: Project, out: str | os.PathLike[str], options: ExportOptions) -> ExportStart:
    """Select the images, require their files and refuse a target that holds the project, its
    images or its models (:func:`guard_target`), in that order, before anything is written."""
    images = select_images(project, options)
    files = require_image_files(project, images)
    guard_target(project, out, files.values())
    return ExportStart(images, files, UniqueNames(), ExportReport(target=Path(out).absolute()))
