"""Recovering what is readable from a damaged project file into a new one.

The damaged file is opened read-only (nothing is written to it). Its schema is copied from
``sqlite_master``; then every table is copied row by row in rowid order. Where a damaged page
stops the scan, the copy resumes after the last row read and probes rowids one by one past the
damage. Rows whose references were lost with the damage (an annotation whose image is gone) are
dropped at the end, so the new file passes ``PRAGMA foreign_key_check`` and ``quick_check``.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from annotations.errors import CorruptProjectError, StoreError
from annotations.store.schema import APPLICATION_ID, TABLES

PROBE_AFTER_DAMAGE = 5000
"""Rowids probed one by one past a damaged region before a table is given up."""
_ORDER = ("meta", "categories", "images", "model_versions", "predictions", "annotations", "history")


@dataclass
class RepairReport:
    """Rows copied and rows lost, per table; ``notes`` say what could not be read at all."""

    target: Path
    copied: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line per table for the terminal."""
        lines = [f"recovered into {self.target}:"]
        for table, count in self.copied.items():
            lost = self.lost.get(table, 0)
            lines.append(f"  {table}: {count} row(s) copied" + (f", {lost} lost" if lost else ""))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{quote(path.as_posix())}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    db.text_factory = lambda raw: raw.decode("utf-8", "replace")  # a damaged byte must not stop the copy
    db.execute("PRAGMA query_only = ON")
    return db


def _schema(source: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = source.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [(str(t), str(n), str(q)) for t, n, q in rows]


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str, report: RepairReport) -> None:
    columns = [row[1] for row in target.execute(f'PRAGMA table_info("{table}")')]
    names = ", ".join(f'"{c}"' for c in columns)
    insert = f'INSERT OR IGNORE INTO "{table}" (rowid, {names}) VALUES (?, {", ".join("?" for _ in columns)})'
    select = f'SELECT rowid, {names} FROM "{table}"'
    copied = failed = 0
    last = 0

    def put(row: tuple[Any, ...]) -> None:
        nonlocal copied, failed, last
        last = max(last, int(row[0]))
        try:
            target.execute(insert, row)
            copied += 1
        except sqlite3.Error:
            failed += 1

    try:
        for row in source.execute(f"{select} ORDER BY rowid"):
            put(row)
        scan_done = True
    except sqlite3.DatabaseError as exc:
        scan_done = False
        report.notes.append(f"{table}: damaged after rowid {last} ({exc}); probing past it")
    if not scan_done:
        misses, rowid = 0, last + 1
        while misses < PROBE_AFTER_DAMAGE:
            try:
                row = source.execute(f"{select} WHERE rowid = ?", (rowid,)).fetchone()
            except sqlite3.DatabaseError:
                row = None
                failed += 1
            if row is None:
                misses += 1
            else:
                misses = 0
                put(row)
            rowid += 1
    report.copied[table] = copied
    report.lost[table] = failed


def recover(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> RepairReport:
    """Copy what is readable of project ``source`` into a new project file ``target``.

    Raises :class:`StoreError` when ``target`` exists, and :class:`CorruptProjectError` when
    not even the schema of ``source`` can be read."""
    source = Path(source).absolute()
    target = Path(target).absolute()
    if not source.is_file():
        raise StoreError(f"{source}: no such project file")
    if target.exists():
        raise StoreError(f"{target}: a file already exists there; choose a new file name")
    report = RepairReport(target)
    try:
        src = _read_only(source)
        schema = _schema(src)
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
    except (sqlite3.DatabaseError, ValueError) as exc:
        raise CorruptProjectError(f"{source}: even the table list is unreadable ({exc}); nothing can be recovered") from exc
    tables = {name for kind, name, _ in schema if kind == "table"}
    if not TABLES <= tables:
        raise CorruptProjectError(f"{source}: not a SegStudio project or its table list is damaged "
                                  f"(missing: {', '.join(sorted(TABLES - tables))})")
    dst = sqlite3.connect(str(target), isolation_level=None)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        dst.execute("BEGIN")
        for _, _, sql in sorted(schema, key=lambda entry: entry[0] != "table"):
            dst.execute(sql)
        for table in [t for t in _ORDER if t in tables] + sorted(tables - set(_ORDER)):
            _copy_table(src, dst, table, report)
        for table, rowid, _, _ in dst.execute("PRAGMA foreign_key_check").fetchall():
            dst.execute(f'DELETE FROM "{table}" WHERE rowid = ?', (rowid,))
            report.copied[table] -= 1
            report.lost[table] = report.lost.get(table, 0) + 1
        dst.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        dst.execute(f"PRAGMA user_version = {version}")
        dst.execute("COMMIT")
        problems = [row[0] for row in dst.execute("PRAGMA quick_check").fetchall() if row[0] != "ok"]
        if problems:
            raise CorruptProjectError(f"{target}: the recovered file fails its own check ({problems[:3]})")
    except BaseException:
        dst.close()
        src.close()
        target.unlink(missing_ok=True)
        raise
    dst.close()
    src.close()
    return report
