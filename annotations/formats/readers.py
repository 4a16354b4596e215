"""Reading untrusted JSON and XML files with errors that name the file and the position.

XML goes through defusedxml: entity declarations (billion laughs, external entities) are
refused instead of expanded. JSON files are capped in size (:data:`MAX_JSON_BYTES`, or the
``SEGSTUDIO_MAX_JSON_BYTES`` environment variable) and nesting depth (:data:`MAX_JSON_DEPTH`),
so a hostile file is a :class:`FormatError`, never a ``RecursionError`` or ``MemoryError``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring

from annotations.errors import FormatError

MAX_JSON_BYTES = 4 * 1024**3
"""Largest JSON file read (bytes); COCO's biggest official file is about 450 MB."""
MAX_JSON_DEPTH = 64
"""Deepest nesting of lists/objects accepted (COCO needs 4, labelme 4)."""


def _max_json_bytes() -> int:
    try:
        value = int(os.environ.get("SEGSTUDIO_MAX_JSON_BYTES", "0"))
    except ValueError:
        value = 0
    return value if value > 0 else MAX_JSON_BYTES


def load_json(path: str | os.PathLike[str], *, what: str = "JSON file") -> Any:
    """Parse a JSON file. Raises :class:`FormatError` naming the file, line and column; also for
    a file above the size cap, nesting deeper than :data:`MAX_JSON_DEPTH`, or text that is not
    UTF-8."""
    from annotations.formats.validate import json_depth_exceeds

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > _max_json_bytes():
            raise FormatError(f"{what} is {size:,} bytes, above the cap of {_max_json_bytes():,} (SEGSTUDIO_MAX_JSON_BYTES)",
                              path=str(path))
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise FormatError(f"{what} not found", path=str(path)) from exc
    except (OSError, UnicodeDecodeError, MemoryError) as exc:
        raise FormatError(f"cannot read {what}: {exc}", path=str(path)) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=str(path)
        ) from exc
    except RecursionError as exc:
        raise FormatError(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)", path=str(path)) from exc
    except (ValueError, MemoryError) as exc:  # e.g. an integer literal with more than 4300 digits
        raise FormatError(f"malformed JSON: {exc}", path=str(path)) from exc
    if json_depth_exceeds(data, MAX_JSON_DEPTH):
        raise FormatError(f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)", path=str(path))
    return data


def load_xml(path: str | os.PathLike[str]) -> Element:
    """Parse an XML file safely (no DTDs with entities). Raises :class:`FormatError` naming the
    file and, for syntax errors, the line and column."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read XML file: {exc}", path=str(path)) from exc
    try:
        return defused_fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FormatError(
            f"XML entity declarations are refused (possible entity-expansion attack): {exc}", path=str(path)
        ) from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise FormatError(f"malformed XML at line {line}, column {column + 1}: {exc}", path=str(path)) from exc


def require(mapping: Any, key: str, kind: type | tuple[type, ...], *, path: str, item: str) -> Any:
    """``mapping[key]`` checked to be of ``kind``; a :class:`FormatError` naming file and item otherwise."""
    if not isinstance(mapping, dict):
        raise FormatError(f"expected an object, got {type(mapping).__name__}", path=path, item=item)
    if key not in mapping:
        raise FormatError(f"missing required field {key!r}", path=path, item=item)
    value = mapping[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise FormatError(f"field {key!r} must be a number, got {value!r}", path=path, item=item)
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise FormatError(f"field {key!r} must be {names}, got {type(value).__name__}", path=path, item=item)
    return value
