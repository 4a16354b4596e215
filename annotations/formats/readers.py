"""Reading untrusted JSON and XML files with errors that name the file and the position.

XML goes through defusedxml: entity declarations (billion laughs, external entities) are
refused instead of expanded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from annotations.errors import FormatError


def load_json(path: "str | os.PathLike[str]", *, what: str = "JSON file") -> Any:
    """Parse a JSON file. Raises :class:`FormatError` naming the file, line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise FormatError(f"{what} not found", path=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot read {what}: {exc}", path=str(path)) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=str(path)
        ) from exc


def load_xml(path: "str | os.PathLike[str]") -> Element:
    """Parse an XML file safely (no DTDs with entities). Raises :class:`FormatError` naming the
    file and, for syntax errors, the line and column."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read XML file: {exc}", path=str(path)) from exc
    try:
        return safe_et.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FormatError(
            f"XML entity declarations are refused (possible entity-expansion attack): {exc}", path=str(path)
        ) from exc
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise FormatError(f"malformed XML at line {line}, column {column + 1}: {exc}", path=str(path)) from exc


def require(mapping: Any, key: str, kind: "type | tuple[type, ...]", *, path: str, item: str) -> Any:
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
