"""Atomic folder writes: build a data set in a temporary sibling folder, then rename it.

A failed or interrupted export leaves the target exactly as it was: absent, empty, or the
previous data set (``overwrite``). The temporary folder lives next to the target so the final
rename stays on one file system.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from annotations.errors import FormatError


def check_target(target: "str | os.PathLike[str]", *, overwrite: bool) -> Path:
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
def atomic_directory(target: "str | os.PathLike[str]", *, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temporary folder; on success it replaces ``target`` in one rename.

    On an exception the temporary folder is removed and ``target`` is untouched.
    """
    target = check_target(target, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
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
    backup = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
    os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: "str | os.PathLike[str]", text: str) -> None:
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
