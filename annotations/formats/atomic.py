"""Atomic folder writes: build a data set in a temporary sibling folder, then rename it.

A failed or interrupted export leaves the target exactly as it was: absent, empty, or the
previous data set (``overwrite``). The temporary folder lives next to the target so the final
rename stays on one file system; it is named ``.<target>.partial-<pid>-<random>``, so the next
export to the same target removes what a killed export (its process gone) left behind, and
puts back a previous data set that a kill caught in the middle of the final swap.

A target that is, holds or lies inside a protected path (the project file, its ``.models``
folder, project images: see :func:`refuse_protected`) is refused whatever ``overwrite`` says.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from annotations.errors import FormatError


def check_target(target: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Validate an export target folder before any work; returns its absolute path.

    Raises :class:`FormatError` when it is a file, or a non-empty folder without ``overwrite``.
    """
    target = Path(target).absolute()
    if target.exists():
        if not target.is_dir():
            raise FormatError("the export target exists and is not a folder", path=str(target))
        if not overwrite and any(target.iterdir()):
            raise FormatError("the export target folder is not empty (use --overwrite to replace it)", path=str(target))
    return target


@contextmanager
def atomic_directory(target: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``target`` in one rename.

    On an exception the temporary folder is removed and ``target`` is untouched.
    """
    target = check_target(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.replace(tmp, target)
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?:(?P<pid>\d+)-)?[A-Za-z0-9_]+$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary folders a killed export to ``target`` left next to it
    (``.<name>.partial-*`` and ``.<name>.old-*`` whose process is gone); when ``target`` itself
    is missing but a backup of the previous data set (``.old-``) is there, put it back.
    Returns the folders removed."""
    target = Path(target).absolute()
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    backups: list[Path] = []
    for entry in target.parent.iterdir():
        match = _LEFTOVER.match(entry.name)
        if match is None or match["name"] != target.name or not entry.is_dir() or entry.is_symlink():
            continue
        pid = match["pid"]
        if pid is not None and _alive(int(pid)):
            continue  # another export to the same target is running
        if match["kind"] == "old":
            backups.append(entry)
        else:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    for backup in sorted(backups, key=lambda p: p.stat().st_mtime, reverse=True):
        if not target.exists():
            os.replace(backup, target)  # the kill came between the two renames of _replace
        else:
            shutil.rmtree(backup, ignore_errors=True)
            removed.append(backup)
    return removed


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def refuse_protected(target: str | os.PathLike[str], protected: Iterable[str | os.PathLike[str]], *,
                     what: str, folders: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Raise :class:`FormatError` when ``target`` is or holds one of the ``protected`` paths,
    or is, holds or lies inside one of ``folders``; ``what`` names them in the message (e.g.
    ``"the project file"``). Symbolic links are resolved on both sides."""
    resolved = Path(os.path.realpath(Path(target).absolute()))
    for folder in folders:
        real = Path(os.path.realpath(Path(folder).absolute()))
        if _inside(resolved, real) or _inside(real, resolved):
            raise FormatError(f"the export target is, holds or lies inside {what} ({real}); replacing it would delete "
                              "what SegStudio keeps there, whatever --overwrite says; choose another folder", path=str(target))
    for path in protected:
        real = Path(os.path.realpath(Path(path).absolute()))
        if _inside(real, resolved):
            raise FormatError(f"the export target folder holds {what} (e.g. {real}); replacing it would delete them, "
                              "whatever --overwrite says; choose another folder", path=str(target))


def is_disk_full(exc: BaseException) -> bool:
    """True for an ``OSError`` that means no space is left (ENOSPC, EDQUOT, EFBIG)."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1), errno.EFBIG)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write a single file atomically (temporary sibling, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
