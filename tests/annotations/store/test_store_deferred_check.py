"""``Project.open(defer_check=True)``: a cleanly closed file opens without the whole-file
``quick_check`` (the GUI runs it in the background with ``check_file``); a file that was not
closed cleanly (a killed writer left its ``-wal`` log) is still checked at open, and nothing it
committed is lost."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from annotations.errors import CorruptProjectError
from annotations.geometry import Box
from annotations.model import Annotation, Category, Image
from annotations.store import Project
from annotations.store.integrity import check_file

ROOT = Path(__file__).resolve().parents[3]


def _project(path: Path, images: int = 300, annotations: int = 3000) -> Path:
    with Project.create(path, [Category(1, "cell", "#ff0000")]) as project:
        project.add_images([Image(0, f"img{i}.png", 100, 80) for i in range(images)])
        project.add_annotations([Annotation(0, 1 + i % images, 1, Box(1, 1, 20, 10 + i % 60)) for i in range(annotations)])
    return path


def _damaged_but_openable(path: Path, seed: int = 3) -> Path:
    """A copy with flipped bytes that ``check_file`` rejects but whose header and the rows
    ``open`` reads survive (damage deeper in the file, found only by a whole-file check)."""
    data = path.read_bytes()
    rng = random.Random(seed)
    for attempt in range(400):
        damaged = bytearray(data)
        for _ in range(8):
            damaged[rng.randrange(len(data) // 2, len(damaged))] ^= 0xFF
        out = path.with_name(f"damaged{attempt}.segproj")
        out.write_bytes(bytes(damaged))
        try:
            check_file(out)
        except CorruptProjectError:
            try:
                Project.open(out, defer_check=True).close()
                return out
            except CorruptProjectError:
                pass
        out.unlink()
    raise AssertionError("no deep damage found")


def test_a_cleanly_closed_file_opens_without_the_check_and_the_deferred_check_finds_damage(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj")
    with Project.open(path) as checked:
        assert checked.integrity_checked
    with Project.open(path, defer_check=True) as deferred:
        assert not deferred.integrity_checked
    check_file(path)  # sound: no error
    damaged = _damaged_but_openable(path)
    with pytest.raises(CorruptProjectError, match="repair PROJECT OUT"):
        Project.open(damaged)  # the default still checks
    with pytest.raises(CorruptProjectError, match=damaged.name):
        check_file(damaged)


def test_a_file_with_a_leftover_log_is_checked_at_open_even_when_deferred(tmp_path: Path) -> None:
    damaged = _damaged_but_openable(_project(tmp_path / "p.segproj"))
    Path(f"{damaged}-wal").write_bytes(b"")  # what a killed writer leaves (here: an empty log)
    with pytest.raises(CorruptProjectError):
        Project.open(damaged, defer_check=True)


def test_after_a_kill_9_the_deferred_open_checks_and_keeps_every_commit(tmp_path: Path) -> None:
    path = _project(tmp_path / "p.segproj", images=3, annotations=3)
    writer = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        from annotations.model import Image
        from annotations.store import Project
        project = Project.open({str(path)!r})
        project.add_images([Image(0, "written_before_the_kill.png", 10, 10)])
        os.kill(os.getpid(), 9)
    """)
    done = subprocess.run([sys.executable, "-c", writer], capture_output=True, text=True, check=False)
    assert done.returncode == -9, done.stderr
    assert Path(f"{path}-wal").exists()  # not closed cleanly
    with Project.open(path, defer_check=True) as project:
        assert project.integrity_checked
        assert "written_before_the_kill.png" in [image.path for image in project.images()]
    assert not Path(f"{path}-wal").exists()  # closed cleanly now: the next open may defer
    with Project.open(path, defer_check=True) as project:
        assert not project.integrity_checked


def _endless_check(db: sqlite3.Connection, path: object) -> None:
    """A check that reads for minutes unless interrupted (stands in for a huge file)."""
    db.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) "
               "SELECT count(*) FROM c").fetchone()


def test_a_running_check_is_stopped_from_another_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    from annotations.store import integrity

    path = _project(tmp_path / "p.segproj", images=3, annotations=3)
    monkeypatch.setattr(integrity, "check_integrity", _endless_check)
    check = integrity.FileCheck(path)
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(check.run()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while check._db is None and time.monotonic() < deadline:  # the check's connection is open
        time.sleep(0.01)
    time.sleep(0.1)  # and its query running
    check.stop()
    thread.join(10)
    assert not thread.is_alive() and outcome == [False]  # stopped, not reported as damage
    assert check._db is None
