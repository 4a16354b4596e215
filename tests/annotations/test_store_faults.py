"""Faults around the project file (issue 17): disk full, read-only, a deleted -wal, damage found
by the integrity check on open, and recovery with repair."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from annotations.errors import AnnotationsError, CorruptProjectError, StoreError, StoreFaultError
from annotations.geometry import Box
from annotations.model import Annotation, Category, Image
from annotations.store import Project
from annotations.store.integrity import fault_error
from annotations.store.repair import recover


def _project(path: Path, images: int = 3, annotations: int = 6) -> Path:
    with Project.create(path, [Category(1, "cell", "#ff0000")]) as project:
        project.add_images([Image(0, f"img{i}.png", 100, 80) for i in range(images)])
        project.add_annotations([Annotation(0, 1 + i % images, 1, Box(1, 1, 20, 10 + i)) for i in range(annotations)])
    return path


def _rows(path: Path) -> list:
    with Project.open(path, readonly=True) as project:
        return [(im.id, im.path) for im in project.images()] + [(a.id, a.geometry) for a in project.annotations()]


def test_disk_full_is_a_typed_fault_and_nothing_is_applied(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj")
    before = _rows(path)
    with Project.open(path) as project:
        pages = project._db.execute("PRAGMA page_count").fetchone()[0]
        project._db.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
        with pytest.raises(StoreFaultError, match="disk is full"):
            project.add_images([Image(0, f"big{i}.png", 10, 10, attributes={"note": "x" * 4000}) for i in range(40)])
        assert isinstance(StoreFaultError("x"), AnnotationsError)  # MainWindow._run shows it
        project._db.execute(f"PRAGMA max_page_count = {pages * 100}")
        project.add_images([Image(0, "retry.png", 10, 10)])  # the edit can be retried
    assert _rows(path)[: len(before) - 6] == before[: len(before) - 6]


def test_readonly_errors_are_classified() -> None:
    db = sqlite3.connect(":memory:")
    try:
        db.execute("PRAGMA query_only = ON")
        db.execute("CREATE TABLE t (x)")
    except sqlite3.OperationalError as exc:
        fault = fault_error("p.segproj", exc)
    assert fault is not None and "read-only" in str(fault)
    assert fault_error("p.segproj", sqlite3.OperationalError("no such table: x")) is None


def test_readonly_project_file_is_refused_for_editing_with_a_clear_message(tmp_path: Path, monkeypatch) -> None:
    path = _project(tmp_path / "p.segproj")
    import annotations.store.project as project_module

    real_access = project_module.os.access
    def no_write(path, mode):
        return False if mode == project_module.os.W_OK else real_access(path, mode)

    monkeypatch.setattr(project_module.os, "access", no_write)
    with pytest.raises(StoreFaultError, match="read-only"):
        Project.open(path)
    with Project.open(path, readonly=True) as project:  # reading still works
        assert len(project.images()) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.segproj"]  # no -wal/-shm left behind


def test_readonly_open_leaves_no_side_files(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj")
    with Project.open(path, readonly=True) as project:
        project.images()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.segproj"]


def test_deleted_wal_is_detected_and_what_was_committed_is_kept(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj")
    project = Project.open(path)
    project.add_images([Image(0, "kept.png", 10, 10)])
    Path(f"{path}-wal").unlink()
    with pytest.raises(StoreFaultError, match="write-ahead log"):
        project.add_images([Image(0, "refused.png", 10, 10)])
    project.close()
    names = [p for _, p in _rows(path) if isinstance(p, str)]
    assert "kept.png" in names and "refused.png" not in names


def _flip_until_damaged(path: Path, seed: int) -> Path:
    data = path.read_bytes()
    rng = random.Random(seed)
    for attempt in range(200):
        damaged = bytearray(data)
        for _ in range(8):
            damaged[rng.randrange(4096, len(damaged))] ^= 0xFF  # leave the header page alone
        out = path.with_name(f"damaged{attempt}.segproj")
        out.write_bytes(bytes(damaged))
        try:
            Project.open(out, readonly=True).close()
        except CorruptProjectError:
            return out
        out.unlink()
    raise AssertionError("no flip was detected")


def test_integrity_check_on_open_and_repair(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj", images=300, annotations=3000)
    damaged = _flip_until_damaged(path, seed=1)
    with pytest.raises(CorruptProjectError, match="repair PROJECT OUT"):
        Project.open(damaged)
    report = recover(damaged, tmp_path / "fixed.segproj")
    assert report.copied["images"] + report.lost.get("images", 0) >= 1
    with Project.open(tmp_path / "fixed.segproj") as fixed:  # passes quick_check, opens for writing
        assert len(fixed.images()) >= 1 and fixed.categories()
        fixed.add_images([Image(0, "after_repair.png", 10, 10)])
    with pytest.raises(StoreError, match="already exists"):
        recover(damaged, tmp_path / "fixed.segproj")


def test_read_only_file_system(tmp_path: Path) -> None:
    """On a read-only file system ``info`` reads the project and an edit is refused in one clear
    line (needs a private mount namespace: ``unshare -rm``; skipped where that is not allowed)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("unshare -rm (a private mount namespace) is not available here")
    root = Path(__file__).resolve().parents[2]
    mount = tmp_path / "ro"
    mount.mkdir()
    make = ("from annotations.store import Project; from annotations.model import Image, Category; "
            f"p = Project.create({str(mount / 'p.segproj')!r}, [Category(1, 'x')]); "
            "p.add_images([Image(0, 'a.png', 10, 10)]); p.close()")
    script = (f"set -e; mount -t tmpfs none {mount}; cd {root}; {sys.executable} -c \"{make}\"; "
              f"mount -o remount,ro {mount}; "
              f"{sys.executable} main.py info {mount / 'p.segproj'}; echo info=$?; "
              f"{sys.executable} main.py status {mount / 'p.segproj'} --set done --all || echo status=$?; ls -a {mount}")
    result = subprocess.run(["unshare", "-rm", "bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert "info=0" in result.stdout, result.stdout + result.stderr
    assert "status=1" in result.stdout and "read-only" in result.stderr
    assert "Traceback" not in result.stderr
    assert "p.segproj-wal" not in result.stdout.split()
