"""Label presets (Pascal VOC 20, COCO 80, Cityscapes) and user label files.

The preset tables are data files under ``resources/labels/`` so exports write the official ids:

- ``voc``: the 20 VOC classes, ids 1..20 = VOC indices, VOC colormap colours,
  ``attributes = {"voc_index": i}``.
- ``coco``: the 80 COCO instance classes with their official non-contiguous ids (1..90) and
  supercategories; colours from panopticapi's category table.
- ``cityscapes``: the official ``cityscapesscripts`` label table for ids >= 1 (``unlabeled`` id 0
  and ``license plate`` id -1 are left out): ``Category.id`` is the Cityscapes id,
  ``is_thing = hasInstances``, ``supercategory`` the Cityscapes category and ``attributes`` hold
  ``trainId``, ``category``, ``categoryId``, ``hasInstances`` and ``ignoreInEval``.

A user label file is either JSON (a list of ``{"id", "name", "color", ...}`` objects, or an
object with such a list under ``"categories"``) or plain text with one class name per line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from annotations.errors import FormatError
from annotations.model import Category

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
LABELS_DIR = RESOURCES / "labels"

PRESETS: tuple[str, ...] = ("voc", "coco", "cityscapes")
"""The preset names, in the order a menu shows them."""

_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_LABELME_SPECIAL = frozenset({"__ignore__", "_background_"})
_CATEGORY_KEYS = frozenset({"id", "name", "color", "supercategory", "is_thing", "isthing", "attributes"})


def preset_names() -> list[str]:
    """The names :func:`load_preset` accepts: ``["voc", "coco", "cityscapes"]``."""
    return list(PRESETS)


def load_preset(name: str) -> list[Category]:
    """The categories of a preset (``voc``, ``coco`` or ``cityscapes``), in table order.

    Raises :class:`FormatError` for an unknown name or a damaged data file.
    """
    key = name.strip().lower()
    if key not in PRESETS:
        raise FormatError(f"unknown label preset {name!r}; choose one of {', '.join(PRESETS)} or give a label file")
    return load_label_file(LABELS_DIR / f"{key}.json")


def load_labels(spec: str | os.PathLike[str]) -> list[Category]:
    """A preset name (``voc``/``coco``/``cityscapes``) or the path of a label file."""
    if isinstance(spec, str) and spec.strip().lower() in PRESETS:
        return load_preset(spec)
    path = Path(spec)
    if not path.is_file():
        raise FormatError(
            f"not a label preset ({', '.join(PRESETS)}) and no such label file", path=str(path)
        )
    return load_label_file(path)


def load_label_file(path: str | os.PathLike[str]) -> list[Category]:
    """Read a label file: JSON (list of category objects, or ``{"categories": [...]}``) or text
    (one class name per line; blank lines, ``#`` comments and labelme's ``__ignore__`` /
    ``_background_`` lines are skipped).

    Text classes get ids 1..N in file order and VOC colormap colours. JSON objects need ``id``
    (int >= 1) and ``name``; ``color`` may be ``#rrggbb`` or ``[r, g, b]`` (default: the VOC
    colormap colour of the id). Raises :class:`FormatError` naming the file and the line or item.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read label file: {exc.strerror or exc}", path=str(path)) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FormatError("not a UTF-8 text file", path=str(path), item=f"line {line}") from exc
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        categories = _parse_json(text, path)
    else:
        categories = _parse_text(text, path)
    if not categories:
        raise FormatError("the label file holds no categories", path=str(path))
    return categories


def voc_color(index: int) -> str:
    """The Pascal VOC colormap colour of a class index as ``#rrggbb`` (index 0 is black)."""
    r = g = b = 0
    c = int(index)
    for bit in range(8):
        r |= ((c >> 0) & 1) << (7 - bit)
        g |= ((c >> 1) & 1) << (7 - bit)
        b |= ((c >> 2) & 1) << (7 - bit)
        c >>= 3
    return f"#{r:02x}{g:02x}{b:02x}"


# ---------------------------------------------------------------------------------- parsers
def _parse_text(text: str, path: Path) -> list[Category]:
    categories: list[Category] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if not name or name.startswith("#") or name in _LABELME_SPECIAL:
            continue
        if any(ord(ch) < 32 for ch in name):
            raise FormatError(f"class name {name!r} contains a control character", path=str(path), item=f"line {line_no}")
        if name in seen:
            raise FormatError(
                f"class {name!r} is listed twice (first on line {seen[name]})", path=str(path), item=f"line {line_no}"
            )
        seen[name] = line_no
        index = len(categories) + 1
        categories.append(Category(index, name, voc_color(index)))
    return categories


def _parse_json(text: str, path: Path) -> list[Category]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"invalid JSON: {exc.msg}", path=str(path), item=f"line {exc.lineno}") from exc
    if isinstance(data, dict):
        if "categories" not in data:
            raise FormatError('a JSON label file is a list of categories or an object with "categories"', path=str(path))
        data = data["categories"]
    if not isinstance(data, list):
        raise FormatError(f'"categories" must be a list, got {type(data).__name__}', path=str(path))
    line_of = _item_lines(text, len(data))
    categories: list[Category] = []
    ids: dict[int, int] = {}
    names: dict[str, int] = {}
    for index, item in enumerate(data):
        where = f"category #{index + 1}" + (f" (line {line_of[index]})" if index < len(line_of) else "")
        category = _category_from_item(item, path, where)
        if category.id in ids:
            raise FormatError(f"id {category.id} is used twice (also category #{ids[category.id] + 1})",
                              path=str(path), item=where)
        if category.name in names:
            raise FormatError(f"name {category.name!r} is used twice (also category #{names[category.name] + 1})",
                              path=str(path), item=where)
        ids[category.id] = index
        names[category.name] = index
        categories.append(category)
    return categories


def _category_from_item(item: Any, path: Path, where: str) -> Category:
    if not isinstance(item, dict):
        raise FormatError(f"expected an object with id and name, got {type(item).__name__}", path=str(path), item=where)
    unknown = set(item) - _CATEGORY_KEYS
    if unknown:
        raise FormatError(f"unknown keys {sorted(unknown)} (allowed: {sorted(_CATEGORY_KEYS)})", path=str(path), item=where)
    cat_id = item.get("id")
    if isinstance(cat_id, bool) or not isinstance(cat_id, int) or cat_id < 1:
        raise FormatError(f"'id' must be an integer >= 1, got {cat_id!r}", path=str(path), item=where)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"'name' must be a non-empty string, got {name!r}", path=str(path), item=where)
    color = _color(item.get("color"), cat_id, path, where)
    supercategory = item.get("supercategory", "")
    if not isinstance(supercategory, str):
        raise FormatError(f"'supercategory' must be a string, got {supercategory!r}", path=str(path), item=where)
    is_thing = item.get("is_thing", item.get("isthing", True))
    if not isinstance(is_thing, (bool, int)):
        raise FormatError(f"'is_thing' must be true or false, got {is_thing!r}", path=str(path), item=where)
    attributes = item.get("attributes", {})
    if not isinstance(attributes, dict):
        raise FormatError(f"'attributes' must be an object, got {type(attributes).__name__}", path=str(path), item=where)
    return Category(cat_id, name.strip(), color, supercategory, bool(is_thing), dict(attributes))


def _color(value: Any, cat_id: int, path: Path, where: str) -> str:
    if value is None:
        return voc_color(cat_id)
    if isinstance(value, str) and _HEX_COLOR.match(value):
        return value.lower()
    if (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value)
    ):
        return "#{:02x}{:02x}{:02x}".format(*value)
    raise FormatError(f"'color' must be '#rrggbb' or [r, g, b] with 0..255, got {value!r}", path=str(path), item=where)


def _item_lines(text: str, count: int) -> list[int]:
    """Best-effort 1-based line numbers where the items of the categories list start."""
    if text.lstrip().startswith("["):
        offset = text.index("[")
    else:
        found = re.search(r'"categories"\s*:\s*\[', text)
        if found is None:
            return []
        offset = found.end() - 1
    lines: list[int] = []
    line = text.count("\n", 0, offset) + 1
    depth = 0
    in_string = escape = False
    expecting_item = True
    for ch in text[offset + 1 :]:
        if ch == "\n":
            line += 1
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
            continue
        if ch.isspace():
            continue
        if depth == 0:
            if ch == "]":
                break
            if ch == ",":
                expecting_item = True
                continue
            if expecting_item:
                lines.append(line)
                expecting_item = False
                if len(lines) >= count:
                    break
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return lines
