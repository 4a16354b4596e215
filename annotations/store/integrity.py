"""Integrity and fault classification of project files.

:func:`check_integrity` runs SQLite's ``PRAGMA quick_check`` when a project opens (a damaged
file is refused with a clear message pointing at ``main.py repair``); :func:`fault_error` turns
the SQLite errors that come from the project's surroundings (disk full, read-only file or
folder, I/O errors) into :class:`~annotations.errors.StoreFaultError`, so the GUI and the CLI
show one clear sentence and the edit is not applied.
"""

from __future__ import annotations

import sqlite3
import threading
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
    FileCheck(path).run()


class FileCheck:
    """:func:`check_file` that another thread can stop: :meth:`run` in the checking thread,
    :meth:`stop` from any thread (it interrupts the running ``quick_check``, so the check's
    connection is closed at once and a program closing the project is not left with a second
    connection that keeps the file's ``-wal`` log in place).

    >>> check = FileCheck("/nonexistent/project.segproj")
    >>> check.stop()
    >>> check.run()  # stopped before it started: nothing is read
    False
    """

    def __init__(self, path: str | Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._stopped = False

    def run(self) -> bool:
        """Check the file: True when it is sound, False when :meth:`stop` ended the check
        first (nothing is known then); :class:`CorruptProjectError` or
        :class:`StoreFaultError` naming the file when it is damaged or unreadable."""
        with self._lock:
            if self._stopped:
                return False
            db = self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0, check_same_thread=False)
        try:
            db.execute("PRAGMA query_only = ON")
            check_integrity(db, self.path)
        except sqlite3.DatabaseError as exc:  # not even the header is readable
            if self.stopped:
                return False
            fault = fault_error(self.path, exc)
            raise (fault or CorruptProjectError(f"{self.path}: project file is damaged ({exc}); {REPAIR_HINT}")) from exc
        except CorruptProjectError:
            if self.stopped:  # the interruption, reported by check_integrity as damage
                return False
            raise
        finally:
            with self._lock:
                self._db = None
            db.close()
        return not self.stopped

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stopped

    def stop(self) -> None:
        """End the check as soon as possible (any thread; :meth:`run` then returns False)."""
        with self._lock:
            self._stopped = True
            if self._db is not None:
                self._db.interrupt()
