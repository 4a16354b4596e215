"""A project: one SQLite file (``*.segproj``) holding categories, images (referenced relative to
the file), annotations, predictions, model versions and the persisted undo history.

Every edit is one short transaction, so a killed process loses at most the edit in flight. The
file uses WAL, so another process (the engine worker, a CLI command) may read while the GUI
writes.
"""

from __future__ import annotations

import gc
import json
import math
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import numpy as np

from annotations.errors import CorruptProjectError, GeometryError, NotFoundError, SchemaVersionError, StoreError, StoreFaultError
from annotations.geometry import Box, Mask, Polygon, validate_polygon
from annotations.model.changes import Change, change_of, images_touched
from annotations.model.commands import Command, command_from_json
from annotations.model.entities import (
    HUMAN,
    NO_CATEGORY,
    Annotation,
    AnnotationRole,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    PredictionState,
    utc_now,
)
from annotations.store.geometry_blob import KIND_NAMES, decode_geometries, decode_geometry, encode_geometry
from annotations.store.integrity import REPAIR_HINT, check_integrity, fault_error
from annotations.store.schema import (
    ADDED_INDEXES,
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_LATEST,
    SCHEMA_VERSION,
    TABLES,
    run_script,
)

PROJECT_SUFFIX = ".segproj"
BUSY_TIMEOUT_MS = 10_000


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


_new_object = object.__new__


def _fast_annotation(row: tuple[Any, ...], geometry: Any) -> Annotation:
    """An Annotation from a stored row without the dataclass ``__init__`` (a third of the cost
    of a full load). Stored rows were validated when written (Annotation's ``__post_init__``
    only marks ignore regions as crowds, which stored rows already are), and a test compares
    this path with :meth:`Project._annotation`."""
    annotation = _new_object(Annotation)
    annotation.__dict__.update(
        id=row[0],
        image_id=row[1],
        category_id=NO_CATEGORY if row[2] is None else row[2],
        geometry=geometry,
        z_order=row[4],
        iscrowd=row[5] == 1,
        attributes={} if row[6] is None or row[6] == "{}" else json.loads(row[6]),
        source=HUMAN if row[7] is None else row[7],
        origin_prediction_id=row[8],
        created=row[9],
        modified=row[9] if row[10] is None else row[10],
        author="" if row[11] is None else row[11],
        role=AnnotationRole.OBJECT if row[12] is None else AnnotationRole(row[12]),
    )
    return annotation


def _id_array(row: tuple[Any, ...] | None) -> np.ndarray:
    """The ``int64`` array of a ``group_concat`` of ids (empty for NULL: no rows)."""
    if not row or row[0] is None:
        return np.zeros(0, np.int64)
    return np.fromstring(str(row[0]), dtype=np.int64, sep=",")  # the fast text parser (text mode)


def _category_value(a: Annotation) -> int | None:
    """The stored ``category_id``: NULL for a class-agnostic ignore region; an object needs a class."""
    if a.category_id == NO_CATEGORY:
        if a.role is not AnnotationRole.IGNORE:
            raise GeometryError(f"annotation {a.id} on image {a.image_id}: only an ignore region may have no class")
        return None
    return a.category_id


_MIN_AREA = 1e-9  # square pixels; validate_polygon's own threshold


def _polygon_problem(polygon: Polygon) -> str | None:
    """Why ``polygon`` is degenerate (a ring with < 3 distinct vertices, an exterior with no
    area, a non-finite coordinate), or None. A ring with shoelace area > 0 has >= 3 distinct
    non-collinear vertices, so the usual case costs one dot product per ring; the rest goes to
    :func:`validate_polygon` (which also accepts a bow-tie whose lobes cancel)."""
    if not polygon.parts:
        return "polygon has no parts"
    for part in polygon.parts:
        # A non-finite coordinate makes the shoelace sum non-finite (inf - inf, inf * 0, NaN).
        areas = [_shoelace(part.exterior), *(_shoelace(h) for h in part.holes)]
        if not all(math.isfinite(a) for a in areas):
            return "polygon has a non-finite coordinate"
        if areas[0] <= _MIN_AREA or any(a <= 0.0 for a in areas[1:]):
            try:
                validate_polygon(polygon)
            except GeometryError as exc:
                return f"degenerate polygon: {exc}"
            return None
    return None


def _shoelace(ring_xy: np.ndarray) -> float:
    """Unsigned shoelace area of an open (N, 2) ring, square pixels (``ring_area`` without the
    two ``np.roll`` copies: this runs once per stored polygon)."""
    if len(ring_xy) < 3:
        return 0.0 if np.isfinite(ring_xy).all() else math.nan
    x = ring_xy[:, 0]
    y = ring_xy[:, 1]
    twice = float(x[:-1] @ y[1:] - y[:-1] @ x[1:]) + float(x[-1] * y[0] - y[-1] * x[0])
    return abs(twice) / 2.0


def geometry_problem(geometry: Any, size_hw: tuple[int, int] | None) -> str | None:
    """Why ``geometry`` cannot be stored on an image of ``size_hw`` (height, width), or None.

    Rejected: degenerate polygons (:func:`_polygon_problem`); boxes with zero width or height
    or lying entirely outside the image (touching its border from outside counts as outside);
    masks whose size differs from the image's. ``size_hw`` None (unknown image) checks only
    what needs no size."""
    if isinstance(geometry, Polygon):
        return _polygon_problem(geometry)
    if isinstance(geometry, Box):
        if geometry.x2 - geometry.x1 <= 0 or geometry.y2 - geometry.y1 <= 0:
            return f"box {geometry.xyxy} (x1, y1, x2, y2) has zero width or height"
        if size_hw is not None:
            h, w = size_hw
            if geometry.x2 <= 0 or geometry.y2 <= 0 or geometry.x1 >= w or geometry.y1 >= h:
                return f"box {geometry.xyxy} (x1, y1, x2, y2) lies entirely outside the {w}x{h} (width x height) image"
        return None
    if isinstance(geometry, Mask):
        if size_hw is not None and tuple(geometry.size) != tuple(size_hw):
            return f"mask size {tuple(geometry.size)} (height, width) differs from the image's {tuple(size_hw)}"
        return None
    return f"unknown geometry type {type(geometry).__name__}"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many acyclic objects.

    Afterwards the new objects are moved to the oldest generation (``freeze`` + ``unfreeze``
    splice lists, they scan nothing); otherwise the first young collection after re-enabling
    would traverse every object just built (~0.2 s for 200,000 annotations). Nothing is left
    frozen: cyclic garbage is still found by the next full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:  # never unfreeze what someone else froze
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


IMAGE_STATUS_ORDER: tuple[ImageStatus, ...] = tuple(ImageStatus)
"""Status codes of :meth:`Project.image_index`: the position of a status here."""
_NO_STATUS = 255
_STATUS_CODE_OF_INITIAL = np.full(256, _NO_STATUS, np.uint8)
for _code, _status in enumerate(IMAGE_STATUS_ORDER):
    _STATUS_CODE_OF_INITIAL[ord(_status.value[0])] = _code
assert (_STATUS_CODE_OF_INITIAL != _NO_STATUS).sum() == len(IMAGE_STATUS_ORDER), "statuses are told by their first letter"


class Project:
    """An open project file. Use :meth:`create` or :meth:`open`; close with :meth:`close` or a
    ``with`` block. Not thread-safe: one Project per thread/process."""

    def __init__(self, path: Path, connection: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.root = path.parent
        self.readonly = readonly
        self._db = connection
        self._replaying = False  # undo/redo restore stored states: no write-time validation
        self._in_transaction = False
        self._wal_seen = False  # a -wal file existed after opening (its deletion is detected)
        self._side_files_created: list[Path] = []  # -wal/-shm a read-only open created
        self.integrity_checked = False
        """Whether :meth:`open` ran the integrity check (see its ``defer_check``)."""
        if readonly and int(connection.execute("PRAGMA user_version").fetchone()[0]) < 3:
            self._ANN_COLS = Project._ANN_COLS.replace(", role", ", NULL")  # read as it is: no role column yet

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def create(cls, path: str | os.PathLike[str], categories: Iterable[Category] = ()) -> Project:
        """Create a new project file (fails if it exists) with the given categories."""
        path = Path(path).absolute()
        if path.exists():
            raise StoreError(f"{path}: a file already exists there")
        if not path.parent.is_dir():
            raise StoreError(f"{path}: folder {path.parent} does not exist")
        try:
            db = cls._connect(path, readonly=False)
            db.execute("BEGIN IMMEDIATE")
            run_script(db, SCHEMA_LATEST)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("INSERT INTO meta VALUES ('revision', '0'), ('created', ?)", (utc_now(),))
            db.execute("COMMIT")
            cls._configure_writer(db)
        except sqlite3.Error as exc:
            try:
                db.close()
            except (sqlite3.Error, UnboundLocalError):
                pass
            for suffix in ("", "-wal", "-shm"):  # no half-made project file is left behind
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            fault = fault_error(path, exc)
            raise (fault or StoreError(f"{path}: cannot create project: {exc}")) from exc
        project = cls(path, db, readonly=False)
        project._wal_seen = Path(f"{path}-wal").exists()
        if categories:
            try:
                project.add_categories(categories)
            except StoreError:
                project.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                raise
        return project

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False, defer_check: bool = False) -> Project:
        """Open an existing project; migrate an older schema (read-only: read it as it is);
        refuse a newer (:class:`SchemaVersionError`) or corrupt (:class:`CorruptProjectError`)
        file. Nothing is written to a file that is not a SegStudio project.

        The file's integrity (``PRAGMA quick_check``, ~0.7 s per 170 MB) is checked here, unless
        ``defer_check``: then the caller runs :func:`annotations.store.integrity.check_file` off
        its event loop (the GUI does). Even then a file that was not closed cleanly (its ``-wal``
        log is there: a killed process, or another one has it open) or needs a migration is
        checked here, before anything reads or rewrites it. :attr:`integrity_checked` says
        whether it was."""
        path = Path(path).absolute()
        not_closed_cleanly = Path(f"{path}-wal").exists()
        if not path.is_file():
            raise StoreError(f"{path}: no such project file" if not path.exists() else f"{path}: not a file")
        if not readonly and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            what = "file" if not os.access(path, os.W_OK) else f"folder {path.parent}"
            raise StoreFaultError(f"{path}: the project {what} is read-only; make it writable to edit, "
                                  "or open the project read-only (info, export, review read it without writing)")
        side_files = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
        # Only a mode=ro handle (an unwritable file: no writer can exist) may leave side files
        # behind; a read-write handle removes them itself, and they may belong to a live writer.
        unwritable = readonly and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))
        absent = [side for side in side_files if not side.exists()] if unwritable else []
        try:
            db = cls._connect(path, readonly=readonly)
        except sqlite3.Error as exc:
            fault = fault_error(path, exc)
            raise (fault or CorruptProjectError(f"{path}: not a readable SegStudio project ({exc})")) from exc
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            db.close()
            fault = fault_error(path, exc)
            raise (fault or CorruptProjectError(
                f"{path}: not a readable SegStudio project ({exc}); if it is one, {REPAIR_HINT}")) from exc
        if app_id != APPLICATION_ID:
            db.close()
            raise CorruptProjectError(f"{path}: not a SegStudio project (SQLite application id {app_id:#x})")
        if version > SCHEMA_VERSION:
            db.close()
            raise SchemaVersionError(
                f"{path}: written by a newer SegStudio (schema {version}, this version reads up to "
                f"{SCHEMA_VERSION}); update SegStudio to open it"
            )
        missing = TABLES - tables
        if version < 1 or missing:
            db.close()
            raise CorruptProjectError(
                f"{path}: project file is damaged (schema {version}, missing tables: {', '.join(sorted(missing)) or 'none'})"
            )
        project = cls(path, db, readonly=readonly)
        project._side_files_created = [side for side in absent if side.exists()]
        try:
            if not defer_check or not_closed_cleanly or (version < SCHEMA_VERSION and not readonly):
                check_integrity(db, path)
                project.integrity_checked = True
            if not readonly:
                cls._configure_writer(db)
                if version < SCHEMA_VERSION:
                    project._migrate(version)
                project._add_missing_indexes()
            db.execute("SELECT count(*) FROM images").fetchone()
            db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            project.close()
            fault = fault_error(path, exc)
            if fault is not None:
                raise fault from exc
            raise CorruptProjectError(f"{path}: project file is damaged ({exc}); {REPAIR_HINT}") from exc
        except BaseException:
            project.close()
            raise
        project._side_files_created = [side for side in absent if side.exists()]
        project._wal_seen = not readonly and Path(f"{path}-wal").exists()
        return project

    @staticmethod
    def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
        # A read-only project normally gets a read-write handle with ``query_only``: as the last
        # connection it then removes the WAL side files on close (a ``mode=ro`` handle leaves
        # ``-wal``/``-shm`` behind). Only an unwritable file or folder gets ``mode=ro``.
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        if readonly and not writable:
            uri = f"file:{quote(path.as_posix())}?mode=ro"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                # A read-only file system: SQLite cannot create the -shm file a WAL reader needs.
                # Nothing can be writing there, so read the file as an immutable snapshot.
                db.close()
                db = sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        else:
            db = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            if readonly:
                db.execute("PRAGMA query_only = ON")
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    @staticmethod
    def _configure_writer(db: sqlite3.Connection) -> None:
        # WAL: readers in other processes never block the writer. synchronous=NORMAL: a commit
        # survives a killed process (it is in the WAL file); only a power loss may drop the
        # newest commits, never corrupt the file.
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")

    @property
    def schema_version(self) -> int:
        """The schema version of the open file (:data:`SCHEMA_VERSION` once migrated)."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, version: int) -> None:
        # Tables are rebuilt: foreign-key actions must not fire while the old ones are dropped
        # (the pragma is a no-op inside a transaction, so it is switched around it), and every
        # reference is checked before the step commits.
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            while version < SCHEMA_VERSION:
                step = MIGRATIONS.get(version)
                if step is None:
                    raise SchemaVersionError(f"{self.path}: no migration from schema {version}")
                with self._write():
                    step(self._db)
                    broken = self._db.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise CorruptProjectError(
                            f"{self.path}: migration from schema {version} found broken references {broken[:5]}"
                        )
                    version += 1
                    self._db.execute(f"PRAGMA user_version = {version}")
        finally:
            self._db.execute("PRAGMA foreign_keys = ON")

    def _add_missing_indexes(self) -> None:
        """Create the indexes of :data:`ADDED_INDEXES` this file lacks (once per file: ~1 s per
        1,000,000 shapes; nothing is written when they are there)."""
        present = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        missing = [ddl for name, ddl in ADDED_INDEXES.items() if name not in present]
        if missing:
            with self._write():
                for ddl in missing:
                    run_script(self._db, ddl)

    def close(self) -> None:
        """Close the file (every edit is already committed). A read-only open removes the empty
        ``-wal``/``-shm`` side files it had to create, so reading leaves nothing behind."""
        self._db.close()
        for side in self._side_files_created:
            try:
                if side.name.endswith("-shm") or side.stat().st_size == 0:
                    side.unlink()
            except OSError:
                pass

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one)."""
        if self.readonly:
            raise StoreError(f"{self.path}: project is open read-only")
        if self._in_transaction:
            yield self._db
            return
        self._check_wal()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise fault_error(self.path, exc) or StoreError(f"{self.path}: cannot write ({exc})") from exc
        self._in_transaction = True
        try:
            yield self._db
            self._db.execute("COMMIT")
            if not self._wal_seen:
                self._wal_seen = Path(f"{self.path}-wal").exists()
        except BaseException as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolls back by itself when the failure ended the transaction
            fault = fault_error(self.path, exc) if isinstance(exc, sqlite3.Error) else None
            if fault is not None:
                raise fault from exc
            raise
        finally:
            self._in_transaction = False

    def _check_wal(self) -> None:
        """Refuse to write when the ``-wal`` file seen at open time has vanished (deleted by
        hand or a cleaning tool while the project was open): what is committed now would be
        lost at close. The committed pages are first copied into the project file."""
        wal = Path(f"{self.path}-wal")
        if not self._wal_seen or wal.exists():
            return
        try:
            self._db.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        except sqlite3.Error:
            pass
        raise StoreFaultError(
            f"{self.path}: the project's write-ahead log ({wal.name}) was deleted while the project was open; "
            "nothing more is written. Close and reopen the project (what was saved before is kept)"
        )

    @contextmanager
    def transaction(self) -> Iterator[Project]:
        """Group several writes into one transaction (all or nothing)."""
        with self._write():
            yield self

    # ------------------------------------------------------------------ meta
    @property
    def revision(self) -> int:
        """Increases with every change to annotations (a snapshot key for training)."""
        return int(self._db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()[0])

    def _bump_revision(self) -> None:
        self._db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='revision'")

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A project setting stored as JSON under ``setting:<key>``."""
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (f"setting:{key}",)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serializable project setting (not undoable)."""
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"setting:{key}", _dumps(value)))

    # ------------------------------------------------------------------ categories
    @staticmethod
    def _category(row: sqlite3.Row | tuple[Any, ...]) -> Category:
        return Category(row[0], row[1], row[2], row[3], bool(row[4]), json.loads(row[5]))

    def categories(self) -> list[Category]:
        """All categories in display order."""
        rows = self._db.execute(
            "SELECT id, name, color, supercategory, is_thing, attributes FROM categories ORDER BY position, id"
        )
        return [self._category(r) for r in rows]

    def get_category(self, category_id: int) -> Category:
        row = self._db.execute(
            "SELECT id, name, color, supercategory, is_thing, attributes FROM categories WHERE id=?", (category_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no category with id {category_id}")
        return self._category(row)

    def category_by_name(self, name: str) -> Category | None:
        row = self._db.execute(
            "SELECT id, name, color, supercategory, is_thing, attributes FROM categories WHERE name=?", (name,)
        ).fetchone()
        return self._category(row) if row else None

    def category_position(self, category_id: int) -> int:
        """The display position of a category (categories() sorts by it)."""
        row = self._db.execute("SELECT position FROM categories WHERE id=?", (category_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no category with id {category_id}")
        return int(row[0])

    def insert_category(self, category: Category, position: int | None = None) -> Category:
        """Insert (id 0 → a fresh id, never one a deleted class had) at the end of the display order, or at ``position``
        (later categories move down one; undo of a delete restores the old place). Part of the
        EditTarget protocol; prefer commands."""
        with self._write() as db:
            # A deleted class's id is never handed out again: model versions map their class
            # indices to category ids, so a reused id would give an old version's proposals and
            # warm-start head rows to an unrelated new class.
            row = db.execute("SELECT value FROM meta WHERE key='last_id:categories'").fetchone()
            last_id = max(int(row[0]) if row else 0, db.execute("SELECT coalesce(max(id), 0) FROM categories").fetchone()[0])
            if category.id == 0:
                category = replace(category, id=last_id + 1)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_id:categories', ?)", (str(max(last_id, category.id)),))
            if position is None:
                position = db.execute("SELECT coalesce(max(position), 0) + 1 FROM categories").fetchone()[0]
            else:
                db.execute("UPDATE categories SET position = position + 1 WHERE position >= ?", (position,))
            try:
                db.execute(
                    "INSERT INTO categories VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (category.id, category.name, category.color, category.supercategory,
                     int(category.is_thing), _dumps(category.attributes), position),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"category {category.name!r} (id {category.id}): {exc}") from exc
        return category

    def add_categories(self, categories: Iterable[Category]) -> list[Category]:
        """Insert several categories in one transaction (not undoable: project set-up, import)."""
        with self._write():
            return [self.insert_category(c) for c in categories]

    def replace_category(self, category: Category) -> None:
        with self._write() as db:
            cur = db.execute(
                "UPDATE categories SET name=?, color=?, supercategory=?, is_thing=?, attributes=? WHERE id=?",
                (category.name, category.color, category.supercategory, int(category.is_thing),
                 _dumps(category.attributes), category.id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no category with id {category.id}")

    def remove_category(self, category_id: int) -> None:
        with self._write() as db:
            try:
                cur = db.execute("DELETE FROM categories WHERE id=?", (category_id,))
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"category {category_id} is still used by annotations or predictions") from exc
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no category with id {category_id}")

    def annotation_ids_of_category(self, category_id: int) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM annotations WHERE category_id=? ORDER BY id", (category_id,))]

    def image_category_ids(self) -> dict[int, set[int]]:
        """For every image with annotations, the set of category ids used on it (no geometry is
        decoded: one indexed query)."""
        classes: dict[int, set[int]] = {}
        for image_id, category_id in self._db.execute("SELECT DISTINCT image_id, category_id FROM annotations"):
            classes.setdefault(image_id, set()).add(category_id)
        return classes

    def image_ids_with_category(self, category_id: int) -> np.ndarray:
        """Ids (``int64``, ascending, unique) of the images with at least one annotation of
        ``category_id``: one range scan of the (class, image) index, read as one text built
        inside SQLite (no row, no geometry, no Python object per image: 100,000 images in tens
        of milliseconds)."""
        return _id_array(self._db.execute(
            "SELECT group_concat(image_id) FROM (SELECT DISTINCT image_id FROM annotations WHERE category_id=? "
            "ORDER BY image_id)", (category_id,)).fetchone())

    def image_ids_without_annotations(self) -> np.ndarray:
        """Ids (``int64``, ascending) of the images with no annotation at all (ignore regions
        count as annotations): one indexed probe per image, read as one text."""
        return _id_array(self._db.execute(
            "SELECT group_concat(id) FROM (SELECT id FROM images WHERE NOT EXISTS "
            "(SELECT 1 FROM annotations WHERE annotations.image_id = images.id) ORDER BY id)").fetchone())

    def prediction_ids_of_category(self, category_id: int) -> list[int]:
        """Ids of every prediction (any state) of a category."""
        return [r[0] for r in self._db.execute("SELECT id FROM predictions WHERE category_id=? ORDER BY id", (category_id,))]

    def put_prediction_category(self, prediction_id: int, category_id: int) -> None:
        """Move a prediction to another category (class merges)."""
        with self._write() as db:
            try:
                cur = db.execute("UPDATE predictions SET category_id=? WHERE id=?", (category_id, prediction_id))
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"prediction {prediction_id}: no category with id {category_id}") from exc
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no prediction with id {prediction_id}")

    def annotation_counts_by_category(self) -> dict[int, int]:
        """``{category id: number of annotations}`` (categories without annotations left out)."""
        return dict(self._db.execute("SELECT category_id, count(*) FROM annotations GROUP BY category_id").fetchall())

    def annotation_counts_by_kind(self) -> dict[str, int]:
        """``{"box": n, "polygon": n, "mask": n}`` over all annotations."""
        counts = {"box": 0, "polygon": 0, "mask": 0}
        rows = self._db.execute(
            "SELECT CASE typeof(geometry) WHEN 'blob' THEN hex(substr(geometry, 1, 1)) "
            "ELSE json_extract(geometry, '$.type') END, count(*) FROM annotations GROUP BY 1"
        )
        for key, n in rows:
            kind = KIND_NAMES.get(int(key, 16), "unknown") if key and key.isdigit() else str(key)
            counts[kind] = counts.get(kind, 0) + n
        return counts

    # ------------------------------------------------------------------ images
    @staticmethod
    def _image(row: tuple[Any, ...]) -> Image:
        return Image(row[0], row[1], row[2], row[3], ImageStatus(row[4]), json.loads(row[5]))

    def relative_path(self, image_path: str | os.PathLike[str]) -> str:
        """The POSIX path of an image file relative to the project folder."""
        return PurePosixPath(Path(os.path.relpath(Path(image_path).absolute(), self.root)).as_posix()).as_posix()

    def image_path(self, image: Image) -> Path:
        """Absolute path of an image file."""
        return (self.root / image.path).resolve()

    def add_images(self, images: Iterable[Image]) -> list[Image]:
        """Insert images (id 0 → next free id) in one transaction. Paths are relative to the
        project folder; an absolute path is made relative."""
        stored: list[Image] = []
        with self._write() as db:
            next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM images").fetchone()[0]
            for image in images:
                path = image.path
                if os.path.isabs(path):
                    path = self.relative_path(path)
                if image.id == 0:
                    image = replace(image, id=next_id)
                next_id = max(next_id, image.id + 1)
                image = replace(image, path=path)
                try:
                    db.execute(
                        "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?)",
                        (image.id, image.path, image.width, image.height, image.status.value, _dumps(image.attributes)),
                    )
                except sqlite3.IntegrityError as exc:
                    raise StoreError(f"image {image.path!r} (id {image.id}): {exc}") from exc
                stored.append(image)
        return stored

    def images(self, status: ImageStatus | None = None) -> list[Image]:
        """All images ordered by id, optionally only those with ``status``."""
        sql = "SELECT id, path, width, height, status, attributes FROM images"
        rows = (self._db.execute(sql + " WHERE status=? ORDER BY id", (status.value,)) if status
                else self._db.execute(sql + " ORDER BY id"))
        return [self._image(r) for r in rows]

    def image_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, status codes) of every image in id order: ``int64`` and ``uint8`` arrays of
        the image count; a status code is the position in :data:`IMAGE_STATUS_ORDER`. Read in
        one scan as two texts built inside SQLite (no Python object per row: 100,000 images in
        ~30 ms); a status is told by its first letter."""
        row = self._db.execute("SELECT group_concat(id), group_concat(status) FROM images").fetchone()
        if not row or row[0] is None:
            return np.zeros(0, np.int64), np.zeros(0, np.uint8)
        ids = _id_array(row)
        text = np.frombuffer(str(row[1]).encode("ascii", "replace"), dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(text == ord(",")) + 1))
        codes = _STATUS_CODE_OF_INITIAL[text[starts]]
        if codes.shape != ids.shape or (codes == _NO_STATUS).any():
            raise CorruptProjectError(f"{self.path}: an image has an unknown status; {REPAIR_HINT}")
        if ids.size > 1 and (np.diff(ids) <= 0).any():  # a scan in another order than the rowid's
            order = np.argsort(ids, kind="stable")
            ids, codes = ids[order], codes[order]
        return ids, codes

    def images_between(self, first_id: int, last_id: int) -> list[Image]:
        """The images with ``first_id <= id <= last_id``, in id order (one page of a view)."""
        rows = self._db.execute(
            "SELECT id, path, width, height, status, attributes FROM images WHERE id BETWEEN ? AND ? ORDER BY id",
            (first_id, last_id),
        )
        return [self._image(r) for r in rows]

    def get_image(self, image_id: int) -> Image:
        row = self._db.execute(
            "SELECT id, path, width, height, status, attributes FROM images WHERE id=?", (image_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no image with id {image_id}")
        return self._image(row)

    def get_image_status(self, image_id: int) -> ImageStatus:
        return self.get_image(image_id).status

    def put_image_status(self, image_id: int, status: ImageStatus) -> None:
        with self._write() as db:
            cur = db.execute("UPDATE images SET status=? WHERE id=?", (status.value, image_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no image with id {image_id}")

    def missing_images(self) -> list[Image]:
        """Images whose file is not on disk (moved folder, unmounted drive)."""
        return [image for image in self.images() if not self.image_path(image).is_file()]

    # ------------------------------------------------------------------ annotations
    _ANN_COLS = ("id, image_id, category_id, geometry, z_order, iscrowd, attributes, source, origin_prediction_id, "
                 "created, modified, author, role")

    @staticmethod
    def _annotation(row: tuple[Any, ...]) -> Annotation:
        # Columns holding their default are NULL (schema 2); schema 1 files store the values.
        attributes = row[6]
        return Annotation(
            row[0], row[1], NO_CATEGORY if row[2] is None else row[2], decode_geometry(row[3]), row[4], row[5] == 1,
            {} if attributes is None or attributes == "{}" else json.loads(attributes),
            HUMAN if row[7] is None else row[7], row[8], row[9], row[9] if row[10] is None else row[10],
            "" if row[11] is None else row[11], AnnotationRole.OBJECT if row[12] is None else AnnotationRole(row[12]),
        )

    def annotations(self, image_id: int | None = None) -> list[Annotation]:
        """Annotations of one image (or all, ordered by image), back to front (z-order, then id).

        Loading every annotation decodes all geometries in bulk (one buffer, numpy views)."""
        if image_id is not None:
            rows = self._db.execute(
                f"SELECT {self._ANN_COLS} FROM annotations WHERE image_id=? ORDER BY z_order, id", (image_id,)
            ).fetchall()
            make = self._annotation
            return [make(r) for r in rows]
        with _gc_paused():  # hundreds of thousands of acyclic objects: skip the collector passes
            rows = self._db.execute(f"SELECT {self._ANN_COLS} FROM annotations ORDER BY image_id, z_order, id").fetchall()
            geometries = decode_geometries([r[3] for r in rows])
            return [_fast_annotation(r, g) for r, g in zip(rows, geometries)]

    def annotations_by_image(self) -> dict[int, list[Annotation]]:
        """Every annotation grouped by image id (each list back to front); images without
        annotations are left out. One query: the fast way to load a whole project."""
        grouped: dict[int, list[Annotation]] = {}
        for annotation in self.annotations():
            bucket = grouped.get(annotation.image_id)
            if bucket is None:
                grouped[annotation.image_id] = bucket = []
            bucket.append(annotation)
        return grouped

    def get_annotation(self, annotation_id: int) -> Annotation:
        row = self._db.execute(f"SELECT {self._ANN_COLS} FROM annotations WHERE id=?", (annotation_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no annotation with id {annotation_id}")
        return self._annotation(row)

    def _annotation_values(self, a: Annotation) -> tuple[Any, ...]:
        return (
            a.id, a.image_id, _category_value(a), encode_geometry(a.geometry), int(a.z_order),
            int(bool(a.iscrowd) or a.role is AnnotationRole.IGNORE),  # an ignore region is a crowd to every reader
            _dumps(a.attributes) if a.attributes else None, None if a.source == HUMAN else a.source,
            a.origin_prediction_id, a.created, None if a.modified == a.created else a.modified, a.author or None,
            None if a.role is AnnotationRole.OBJECT else a.role.value,
        )

    def _check_geometry(self, a: Annotation, sizes: dict[int, Any], label: str) -> None:
        """Raise :class:`GeometryError` naming the image and the annotation when ``a``'s geometry
        is degenerate or does not fit its image (see :func:`geometry_problem`). ``sizes`` caches
        image id -> (size_hw, path) | None over one call."""
        if self._replaying:
            return
        if a.image_id not in sizes:
            row = self._db.execute("SELECT height, width, path FROM images WHERE id=?", (a.image_id,)).fetchone()
            sizes[a.image_id] = ((int(row[0]), int(row[1])), row[2]) if row else None
        known = sizes[a.image_id]
        problem = geometry_problem(a.geometry, known[0] if known else None)
        if problem is not None:
            where = f"image {a.image_id} ({known[1]})" if known else f"image {a.image_id}"
            raise GeometryError(f"{self.path.name}: {where}: {label} (category {a.category_id}): {problem}; "
                                "nothing was stored")

    def insert_annotation(self, annotation: Annotation) -> Annotation:
        """Insert one annotation (id 0 → next free id); returns it as stored. Prefer commands."""
        return self.add_annotations([annotation])[0]

    def add_annotations(self, annotations: Iterable[Annotation]) -> list[Annotation]:
        """Insert annotations in one transaction without undo history (imports).

        Every geometry is checked first (:func:`geometry_problem`): one bad item raises
        :class:`GeometryError` naming its image (id and path) and the annotation, and none of
        the batch is stored."""
        stored: list[Annotation] = []
        now = utc_now()
        sizes: dict[int, Any] = {}
        with self._write() as db:
            next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM annotations").fetchone()[0]
            for index, a in enumerate(annotations):
                self._check_geometry(a, sizes, f"annotation {a.id}" if a.id else f"new annotation (item {index} of the batch)")
                if a.id == 0:
                    a = replace(a, id=next_id)
                next_id = max(next_id, a.id + 1)
                if not a.created:
                    a = replace(a, created=now, modified=now)
                try:
                    db.execute(f"INSERT INTO annotations ({self._ANN_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                               self._annotation_values(a))
                except sqlite3.IntegrityError as exc:
                    raise StoreError(
                        f"annotation {a.id} on image {a.image_id} (category {a.category_id}): {exc}"
                    ) from exc
                stored.append(a)
            self._bump_revision()
        return stored

    def replace_annotation(self, annotation: Annotation) -> None:
        """Overwrite a stored annotation. A changed geometry (or image) is checked like in
        :meth:`add_annotations`; an unchanged one is not, so a shape stored before the checks
        existed can still get a new class or z-order."""
        with self._write() as db:
            values = self._annotation_values(annotation)
            old = db.execute("SELECT geometry, image_id FROM annotations WHERE id=?", (annotation.id,)).fetchone()
            if old is not None and (old[0] != values[3] or old[1] != annotation.image_id):
                self._check_geometry(annotation, {}, f"annotation {annotation.id}")
            cur = db.execute(
                "UPDATE annotations SET image_id=?, category_id=?, geometry=?, z_order=?, iscrowd=?, attributes=?, "
                "source=?, origin_prediction_id=?, created=?, modified=?, author=?, role=? WHERE id=?",
                values[1:] + (annotation.id,),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no annotation with id {annotation.id}")
            self._bump_revision()

    def remove_annotation(self, annotation_id: int) -> None:
        with self._write() as db:
            cur = db.execute("DELETE FROM annotations WHERE id=?", (annotation_id,))
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no annotation with id {annotation_id}")
            self._bump_revision()

    # ------------------------------------------------------------------ predictions
    _PRED_COLS = "id, image_id, category_id, geometry, score, model_version_id, state, created"

    @staticmethod
    def _prediction(row: tuple[Any, ...]) -> Prediction:
        return Prediction(row[0], row[1], row[2], decode_geometry(row[3]), row[4], row[5],
                          PredictionState(row[6]), row[7])

    def add_predictions(self, predictions: Iterable[Prediction]) -> list[Prediction]:
        """Store model proposals (ids assigned) in one transaction."""
        stored: list[Prediction] = []
        now = utc_now()
        with self._write() as db:
            next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM predictions").fetchone()[0]
            for p in predictions:
                p = replace(p, id=next_id, created=p.created or now)
                next_id += 1
                db.execute(
                    f"INSERT INTO predictions ({self._PRED_COLS}) VALUES (?,?,?,?,?,?,?,?)",
                    (p.id, p.image_id, p.category_id, encode_geometry(p.geometry), float(p.score),
                     p.model_version_id, p.state.value, p.created),
                )
                stored.append(p)
        return stored

    def predictions(
        self,
        image_id: int | None = None,
        *,
        state: PredictionState | None = None,
        model_version_id: int | None = None,
    ) -> list[Prediction]:
        """Predictions filtered by image, state and model version, best score first."""
        clauses, params = [], []
        filters = (("image_id", image_id), ("state", state.value if state else None), ("model_version_id", model_version_id))
        for column, value in filters:
            if value is not None:
                clauses.append(f"{column}=?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(f"SELECT {self._PRED_COLS} FROM predictions{where} ORDER BY image_id, score DESC, id", params)
        return [self._prediction(r) for r in rows]

    def get_prediction(self, prediction_id: int) -> Prediction:
        row = self._db.execute(f"SELECT {self._PRED_COLS} FROM predictions WHERE id=?", (prediction_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no prediction with id {prediction_id}")
        return self._prediction(row)

    def put_prediction_state(self, prediction_id: int, state: PredictionState) -> None:
        with self._write() as db:
            cur = db.execute("UPDATE predictions SET state=? WHERE id=?", (state.value, prediction_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no prediction with id {prediction_id}")

    def supersede_predictions(self, image_ids: Sequence[int]) -> int:
        """Mark the still-proposed predictions of these images superseded (before re-predicting)."""
        with self._write() as db:
            total = 0
            for image_id in image_ids:
                total += db.execute(
                    "UPDATE predictions SET state='superseded' WHERE image_id=? AND state='proposed'", (image_id,)
                ).rowcount
        return total

    # ------------------------------------------------------------------ model versions
    _MV_COLS = "id, architecture, classes, trained_on, metrics, weights_path, created, parent_id, promoted"

    @staticmethod
    def _model_version(row: tuple[Any, ...]) -> ModelVersion:
        return ModelVersion(row[0], row[1], tuple(json.loads(row[2])), json.loads(row[3]), json.loads(row[4]),
                            row[5], row[6], row[7], bool(row[8]))

    def add_model_version(self, version: ModelVersion) -> ModelVersion:
        """Store a model version (id assigned); returns it as stored."""
        with self._write() as db:
            next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM model_versions").fetchone()[0]
            version = replace(version, id=next_id, created=version.created or utc_now())
            db.execute(
                f"INSERT INTO model_versions ({self._MV_COLS}) VALUES (?,?,?,?,?,?,?,?,?)",
                (version.id, version.architecture, _dumps(list(version.classes)), _dumps(version.trained_on),
                 _dumps(version.metrics), version.weights_path, version.created, version.parent_id, int(version.promoted)),
            )
        return version

    def update_model_version(self, version: ModelVersion) -> None:
        """Rewrite metrics, weights path and promotion of a stored version."""
        with self._write() as db:
            cur = db.execute(
                "UPDATE model_versions SET metrics=?, weights_path=?, promoted=?, trained_on=? WHERE id=?",
                (_dumps(version.metrics), version.weights_path, int(version.promoted), _dumps(version.trained_on), version.id),
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"{self.path.name}: no model version with id {version.id}")

    def model_versions(self) -> list[ModelVersion]:
        return [self._model_version(r) for r in self._db.execute(f"SELECT {self._MV_COLS} FROM model_versions ORDER BY id")]

    def get_model_version(self, version_id: int) -> ModelVersion:
        row = self._db.execute(f"SELECT {self._MV_COLS} FROM model_versions WHERE id=?", (version_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"{self.path.name}: no model version with id {version_id}")
        return self._model_version(row)

    def current_model_version(self, architecture: str | None = None) -> ModelVersion | None:
        """The newest promoted version (of ``architecture`` if given), or None."""
        sql = f"SELECT {self._MV_COLS} FROM model_versions WHERE promoted=1"
        params: tuple[Any, ...] = ()
        if architecture:
            sql += " AND architecture=?"
            params = (architecture,)
        row = self._db.execute(sql + " ORDER BY id DESC LIMIT 1", params).fetchone()
        return self._model_version(row) if row else None

    # ------------------------------------------------------------------ commands, undo, redo
    def execute(self, command: Command) -> Command:
        """Perform an undoable edit in one transaction and record it; clears the redo tail.
        Returns the command as done (with the ids it assigned); :meth:`execute_change` says
        what changed."""
        return self.execute_change(command).command

    def execute_change(self, command: Command) -> Change:
        """:meth:`execute`, returning what changed (the done command, ids per kind, images)."""
        with self._write() as db:
            images_before = images_touched(command, self)
            done, inverse = command.apply(self)
            db.execute("DELETE FROM history WHERE undone=1")
            db.execute(
                "INSERT INTO history (label, forward, inverse, undone, created) VALUES (?, ?, ?, 0, ?)",
                (done.label, _dumps(done.to_json()), _dumps(inverse.to_json()), utc_now()),
            )
            return self._change(done, done.label, "", images_before)

    def _change(self, applied: Command, label: str, verb: str, images_before: frozenset[int]) -> Change:
        """The Change of ``applied`` (plus the images it touched, looked up before it ran),
        described in words with the image's file name when it edits one image."""
        change = change_of(applied, self, label=label, description=label, images_before=images_before)
        words = f"{verb}: {label}" if verb else label
        if change.image_id is not None:
            row = self._db.execute("SELECT path FROM images WHERE id=?", (change.image_id,)).fetchone()
            if row is not None:
                words += f" on {PurePosixPath(row[0]).name}"
        elif len(change.image_ids) > 1:
            words += f" on {len(change.image_ids)} images"
        return replace(change, description=words)

    def _replay(self, command: Command) -> None:
        """Apply a history command: it restores a state that was stored (and checked) before,
        so the write-time geometry checks are off (a shape stored before they existed can be
        brought back by undo)."""
        self._replaying = True
        try:
            command.apply(self)
        finally:
            self._replaying = False

    def undo(self) -> str | None:
        """Undo the newest edit; returns its label, or None when there is nothing to undo."""
        change = self.undo_change()
        return change.label if change is not None else None

    def redo(self) -> str | None:
        """Redo the oldest undone edit; returns its label, or None."""
        change = self.redo_change()
        return change.label if change is not None else None

    def undo_change(self) -> Change | None:
        """Undo the newest edit; returns what changed, or None when there is nothing to undo."""
        return self._step_history(undo=True, apply=True)

    def redo_change(self) -> Change | None:
        """Redo the oldest undone edit; returns what changed, or None."""
        return self._step_history(undo=False, apply=True)

    def preview_undo(self) -> Change | None:
        """What :meth:`undo_change` would change now (nothing is written), or None."""
        return self._step_history(undo=True, apply=False)

    def preview_redo(self) -> Change | None:
        """What :meth:`redo_change` would change now (nothing is written), or None."""
        return self._step_history(undo=False, apply=False)

    def _step_history(self, *, undo: bool, apply: bool) -> Change | None:
        sql = (
            "SELECT seq, label, inverse FROM history WHERE undone=0 ORDER BY seq DESC LIMIT 1"
            if undo
            else "SELECT seq, label, forward FROM history WHERE undone=1 ORDER BY seq LIMIT 1"
        )
        verb = "Undone" if undo else "Redone"
        if not apply:
            row = self._db.execute(sql).fetchone()
            if row is None:
                return None
            command = command_from_json(json.loads(row[2]))
            return self._change(command, row[1], verb, images_touched(command, self))
        with self._write() as db:
            row = db.execute(sql).fetchone()
            if row is None:
                return None
            command = command_from_json(json.loads(row[2]))
            images_before = images_touched(command, self)  # a deleted shape's image is known only now
            self._replay(command)
            db.execute("UPDATE history SET undone=? WHERE seq=?", (1 if undo else 0, row[0]))
            return self._change(command, row[1], verb, images_before)

    def images_fingerprint(self) -> tuple[int, int, int, int]:
        """(count, max id, sum of id x status code, sum of status codes) of the images table,
        computed inside SQLite: a view re-reads the image rows only when it changed. The status
        code is the length of the status text (3, 10, 11, 4, 8: one per status)."""
        row = self._db.execute(
            "SELECT count(*), coalesce(max(id), 0), coalesce(sum(id * length(status)), 0), "
            "coalesce(sum(length(status)), 0) FROM images"
        ).fetchone()
        return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    @staticmethod
    def fingerprint_after_status_change(
        fingerprint: tuple[int, int, int, int], image_id: int, old: ImageStatus, new: ImageStatus
    ) -> tuple[int, int, int, int]:
        """:meth:`images_fingerprint` after image ``image_id`` went from ``old`` to ``new``
        (kept current by a view without asking the store)."""
        delta = len(new.value) - len(old.value)
        count, max_id, weighted, total = fingerprint
        return (count, max_id, weighted + image_id * delta, total + delta)

    def own_write_count(self) -> int:
        """Rows this connection has inserted, changed or deleted since it opened (SQLite's
        ``total_changes``): a view notices writes made in-process outside its own edits."""
        return int(self._db.total_changes)

    def written_elsewhere(self) -> bool:
        """True when another connection (the engine worker, a CLI command) committed to the
        file since the previous call (SQLite's ``data_version``; this connection's own writes do
        not count)."""
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        seen, self._seen_data_version = getattr(self, "_seen_data_version", None), version
        return seen is None or seen != version

    def peek_undo(self) -> Command | None:
        """The command :meth:`undo` would apply next (the inverse of the newest edit), or None."""
        row = self._db.execute("SELECT inverse FROM history WHERE undone=0 ORDER BY seq DESC LIMIT 1").fetchone()
        return command_from_json(json.loads(row[0])) if row else None

    def peek_redo(self) -> Command | None:
        """The command :meth:`redo` would apply next, or None."""
        row = self._db.execute("SELECT forward FROM history WHERE undone=1 ORDER BY seq LIMIT 1").fetchone()
        return command_from_json(json.loads(row[0])) if row else None

    def undo_label(self) -> str | None:
        row = self._db.execute("SELECT label FROM history WHERE undone=0 ORDER BY seq DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def redo_label(self) -> str | None:
        row = self._db.execute("SELECT label FROM history WHERE undone=1 ORDER BY seq LIMIT 1").fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ summaries
    def counts(self) -> dict[str, Any]:
        """``{"images", "annotations", "predictions", "categories", "model_versions", "status":
        {status: n}}`` — the numbers ``main.py info`` prints."""
        def one(sql: str) -> int:
            return int(self._db.execute(sql).fetchone()[0])  # count(*): always an int

        status = Counter({s.value: 0 for s in ImageStatus})
        status.update(dict(self._db.execute("SELECT status, count(*) FROM images GROUP BY status").fetchall()))
        return {
            "images": one("SELECT count(*) FROM images"),
            "annotations": one("SELECT count(*) FROM annotations"),
            "predictions": one("SELECT count(*) FROM predictions"),
            "categories": one("SELECT count(*) FROM categories"),
            "model_versions": one("SELECT count(*) FROM model_versions"),
            "status": dict(status),
        }
