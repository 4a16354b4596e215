"""The store across processes: readers beside a writer (WAL), and a writer killed mid-edit."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from annotations.geometry import Box
from annotations.model import Annotation
from annotations.store import Project

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGKILL")


def _spawn(code: str, *args: str, **kwargs) -> subprocess.Popen:
    """A fresh interpreter (not a fork of pytest) running ``code`` with the repo importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs
    )


READ_COUNT = """
import sys
from annotations.store import Project
with Project.open(sys.argv[1], readonly=True) as project:
    print(project.counts()["annotations"], flush=True)
"""


def test_a_second_process_reads_while_a_write_transaction_is_open(new_project: Project) -> None:
    new_project.add_annotations([Annotation(0, 1, 1, Box(0, 0, 1, 1))])
    with new_project.transaction():
        new_project.add_annotations([Annotation(0, 1, 1, Box(0, 0, 2, 2))] * 3)
        reader = _spawn(READ_COUNT, str(new_project.path))
        out, err = reader.communicate(timeout=60)
        assert reader.returncode == 0, err
        assert out.strip() == "1"  # the committed state, not blocked by the open write
    reader = _spawn(READ_COUNT, str(new_project.path))
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert out.strip() == "4"


SNAPSHOT_READER = """
import sys
from annotations.store import Project
project = Project.open(sys.argv[1], readonly=True)
db = project._db
db.execute("BEGIN")
print(db.execute("SELECT count(*) FROM annotations").fetchone()[0], flush=True)
sys.stdin.readline()
print(db.execute("SELECT count(*) FROM annotations").fetchone()[0], flush=True)
db.execute("COMMIT")
print(project.counts()["annotations"], flush=True)
"""


def test_a_writer_commits_while_another_process_holds_a_read(new_project: Project) -> None:
    reader = _spawn(SNAPSHOT_READER, str(new_project.path), stdin=subprocess.PIPE)
    try:
        assert reader.stdout.readline().strip() == "0"
        new_project.add_annotations([Annotation(0, 1, 1, Box(0, 0, 1, 1))] * 2)  # not blocked by the reader
        assert new_project.counts()["annotations"] == 2
        reader.stdin.write("go\n")
        reader.stdin.flush()
        out, err = reader.communicate(timeout=60)
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    assert out.split() == ["0", "2"]  # its snapshot, then the new commit


EDIT_LOOP = """
import sys
from annotations.geometry import Box, Polygon
from annotations.model import AddAnnotation, Annotation, DeleteAnnotation, UpdateAnnotation
from annotations.store import Project

project = Project.open(sys.argv[1])
k = 0
while True:
    k += 1
    done = project.execute(AddAnnotation(Annotation(0, 1, 1 + k % 2, Box(0, 0, 1 + k % 50, 2))))
    print("add", done.annotation.id, flush=True)
    triangle = Polygon.from_points([[0, 0], [k, 0], [0, k]])
    project.execute(UpdateAnnotation(done.annotation.id, {"z_order": k, "geometry": triangle}))
    print("update", done.annotation.id, k, flush=True)
    if k % 5 == 0:
        project.execute(DeleteAnnotation(done.annotation.id))
        print("delete", done.annotation.id, flush=True)
"""


@pytest.mark.parametrize("edits_before_kill", [15, 60, 150])
def test_sigkill_during_edits_keeps_every_committed_edit(new_project: Project, edits_before_kill: int) -> None:
    new_project.close()
    path = new_project.path
    child = _spawn(EDIT_LOOP, str(path))
    reported: list[list[str]] = []
    try:
        while len(reported) < edits_before_kill:
            line = child.stdout.readline()
            assert line, f"edit loop ended early: {child.stderr.read()}"
            reported.append(line.split())
        os.kill(child.pid, signal.SIGKILL)  # lands anywhere: between edits or inside a transaction
        child.wait(timeout=60)
        rest = child.stdout.read()  # through the same buffered reader: no line is skipped
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    # Lines printed before the kill were printed after their commit: all of them count.
    # A kill while the child prints leaves its last line torn (no newline): that edit is the one
    # in flight, allowed beyond what was reported below, so the torn record is dropped.
    lines = rest.splitlines()
    if lines and not rest.endswith("\n"):
        lines.pop()
    reported += [line.split() for line in lines if line.strip()]

    expected: dict[int, int | None] = {}  # annotation id -> z_order (None: deleted)
    for record in reported:
        if record[0] == "add":
            expected[int(record[1])] = 0
        elif record[0] == "update":
            expected[int(record[1])] = int(record[2])
        elif record[0] == "delete":
            expected[int(record[1])] = None

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Project.open(path) as project:
        stored = {a.id: a for a in project.annotations()}
        for annotation_id, z_order in expected.items():
            if z_order is None:
                assert annotation_id not in stored, f"deleted annotation {annotation_id} is back"
            else:
                assert annotation_id in stored, f"committed annotation {annotation_id} was lost"
                if z_order:
                    assert stored[annotation_id].z_order == z_order
        # At most the one edit in flight is beyond what was reported.
        assert len(set(stored) - set(expected)) <= 1
        # The history is intact: undo works after the crash.
        label = project.undo_label()
        assert label is not None
        assert project.undo() == label
