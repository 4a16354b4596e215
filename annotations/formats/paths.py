"""Safe paths inside a data set: joining a file name read from a file, naming exported files.

A file name read from an annotation file (COCO ``file_name``, labelme ``imagePath``, VOC
``<filename>``) is untrusted: it must stay inside the data set root. Absolute paths, drive
letters, ``..`` components and names longer than the file systems allow are refused before
anything is read or written, and the joined path is resolved (symbolic links followed): a link
inside the root that points outside it is refused too. The root is always one the user named
(or derived from the file the user named), never one a file names for itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from annotations.errors import FormatError

_DRIVE = re.compile(r"^[A-Za-z]:")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_COMPONENT_BYTES = 255
"""The longest file or folder name (in UTF-8 bytes) that common file systems store."""
MAX_PATH_CHARS = 4096


def relative_parts(name: str, *, path: str | os.PathLike[str] | None = None, item: str | None = None) -> tuple[str, ...]:
    """The components of a relative file name (``/`` or ``\\`` separators).

    Raises :class:`FormatError` (naming ``path`` and ``item``) for an empty name, an absolute
    path, a drive letter or a ``..`` component.
    """
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"file name {name!r} is empty or not a string", path=_s(path), item=item)
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified) or PureWindowsPath(name).is_absolute():
        raise FormatError(f"file name {name!r} is absolute; it must be relative to the data set root", path=_s(path), item=item)
    parts = tuple(p for p in PurePosixPath(unified).parts if p not in ("", "."))
    if ".." in parts:
        raise FormatError(f"file name {name!r} escapes the data set root ('..' is not allowed)", path=_s(path), item=item)
    if not parts:
        raise FormatError(f"file name {name!r} names no file", path=_s(path), item=item)
    _check_lengths(name, parts, path=path, item=item)
    return parts


def _check_lengths(name: str, parts: tuple[str, ...], *, path: str | os.PathLike[str] | None, item: str | None) -> None:
    if len(name) > MAX_PATH_CHARS or "\x00" in name:
        raise FormatError(f"file name {name[:80]!r}... is longer than {MAX_PATH_CHARS} characters or holds a NUL",
                          path=_s(path), item=item)
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise FormatError(f"file name component {part[:60]!r}... is longer than {MAX_COMPONENT_BYTES} bytes",
                              path=_s(path), item=item)


def ensure_inside(candidate: str | os.PathLike[str], root: str | os.PathLike[str], *, name: str,
                  path: str | os.PathLike[str] | None = None, item: str | None = None) -> Path:
    """``candidate`` (returned unchanged, as joined) after checking that it resolves, symbolic
    links followed, to a place inside ``root`` (resolved too). Raises :class:`FormatError`
    naming ``name``, the file and the item otherwise."""
    real_root = os.path.realpath(Path(root).absolute())
    real = os.path.realpath(Path(candidate).absolute())
    if os.path.commonpath([real, real_root]) != real_root:
        raise FormatError(f"file name {name!r} resolves to {real}, outside the data root {real_root} "
                          "(a symbolic link pointing out of the data set is not followed)", path=_s(path), item=item)
    return Path(candidate)


def safe_join(
    root: str | os.PathLike[str], name: str, *, path: str | os.PathLike[str] | None = None, item: str | None = None,
) -> Path:
    """``root / name`` for an untrusted relative ``name``; see :func:`relative_parts` for what is
    refused. The result must also resolve (symbolic links followed) inside ``root``."""
    joined = Path(root).joinpath(*relative_parts(name, path=path, item=item))
    return ensure_inside(joined, root, name=name, path=path, item=item)


def safe_stem(name: str) -> str:
    """A file-name stem safe on every platform and in list files (no spaces or separators)."""
    stem = _UNSAFE_NAME.sub("_", name).strip("._")
    return stem or "image"


class UniqueNames:
    """Hands out unique file stems: the second ``a`` becomes ``a_2``, and so on."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def take(self, stem: str) -> str:
        """A stem not handed out before (compared case-insensitively, for Windows and macOS)."""
        candidate, n = stem, 1
        while candidate.lower() in self._used:
            n += 1
            candidate = f"{stem}_{n}"
        self._used.add(candidate.lower())
        return candidate


def _s(path: str | os.PathLike[str] | None) -> str | None:
    return None if path is None else str(path)


def join_within(
    base: str | os.PathLike[str], name: str, root: str | os.PathLike[str], *,
    path: str | os.PathLike[str] | None = None, item: str | None = None,
) -> Path:
    """``base / name`` for an untrusted relative ``name`` that may climb with ``..`` (labelme's
    ``imagePath`` is relative to the JSON file) but must stay inside ``root``.

    Windows separators are accepted. Raises :class:`FormatError` for an absolute name or one
    that leaves ``root``.
    """
    if not isinstance(name, str) or not name.strip():
        raise FormatError(f"file name {name!r} is empty or not a string", path=_s(path), item=item)
    unified = name.replace("\\", "/")
    if unified.startswith("/") or _DRIVE.match(unified):
        raise FormatError(f"file name {name!r} is absolute; it must be relative", path=_s(path), item=item)
    _check_lengths(name, tuple(p for p in PurePosixPath(unified).parts if p not in ("", ".")), path=path, item=item)
    joined = Path(os.path.normpath(Path(base).absolute() / PurePosixPath(unified)))
    root_abs = Path(os.path.normpath(Path(root).absolute()))
    if os.path.commonpath([joined, root_abs]) != str(root_abs):
        raise FormatError(f"file name {name!r} escapes the data set root {root_abs}", path=_s(path), item=item)
    return ensure_inside(joined, root_abs, name=name, path=path, item=item)
