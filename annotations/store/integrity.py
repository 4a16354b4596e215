"""Integrity and fault classification of project files.

:func:`check_integrity` runs SQLite's ``PRAGMA quick_check`` when a project opens (a damaged
file is refused with a clear message pointing at ``main.py repair``); :func:`fault_error` turns
the SQLite errors that come from the project's surroundings (disk full, read-only file or
folder, I/O errors) into :class:`~annotations.errors.StoreFaultError`, so the GUI and the CLI
show one clear sentence and the edit is not applied.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from annotations.errors import CorruptProjectError, StoreFaultError

REPAIR_HINT = "`python main.py repair PROJECT OUT` copies what is still readable into a new project file"
QUICK_CHECK_ROWS = 5

_FAULTS: tuple[tuple[str, str], ...] = (
    ("database or disk is full", "the disk is full; free some space and try again (the edit was not saved)"),
    ("disk full", "the disk is full; free some space and try again (the edit was not saved)"),
    ("readonly", "the project file or its folder is read-only; the edit was not saved"),
    ("read-only", "the project file or its folder is read-only; the edit was not saved"),
    ("disk i/o error", "a disk I/O error occurred while writing; the edit was not saved"),
    ("unable to open database file", "the project file cannot be opened (its folder may be read-only or missing)"),
)


def fault_error(path: str | Path, exc: BaseException) -> StoreFaultError | None:
    """A :class:`StoreFaultError` naming ``path`` for an SQLite error caused by the file's
    surroundings (disk full, read-only, I/O error), or None for any other error."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = str(exc).lower()
    for needle, sentence in _FAULTS:
        if needle in text:
            return StoreFaultError(f"{path}: {sentence} ({exc})")
    return None


def check_integrity(db: sqlite3.Connection, path: str | Path) -> None:
    """Run ``PRAGMA quick_check`` (every page and index structure, not the contents of indexes);
    raise :class:`CorruptProjectError` naming the file, the first problems found and how to
    repair it."""
    try:
        rows = db.execute(f"PRAGMA quick_check({QUICK_CHECK_ROWS})").fetchall()
    except sqlite3.DatabaseError as exc:
        fault = fault_error(path, exc)
        if fault is not None:
            raise fault from exc
        raise CorruptProjectError(f"{path}: project file is damaged ({exc}); {REPAIR_HINT}") from exc
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        raise CorruptProjectError(f"{path}: project file is damaged ({'; '.join(problems)[:400]}); {REPAIR_HINT}")


def check_file(path: str | Path) -> None:
    """:func:`check_integrity` on its own read-only connection to project file ``path``, for a
    background thread (a connection belongs to the thread that made it; SQLite readers do not
    block the writer, and the check releases the GIL while it reads). Raises
    :class:`CorruptProjectError` or :class:`StoreFaultError` naming the file."""
    db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
    try:
        db.execute("PRAGMA query_only = ON")
        check_integrity(db, path)
    except sqlite3.DatabaseError as exc:  # not even the header is readable
        fault = fault_error(path, exc)
        raise (fault or CorruptProjectError(f"{path}: project file is damaged ({exc}); {REPAIR_HINT}")) from exc
    finally:
        db.close()
