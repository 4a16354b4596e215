"""The lazily read image list (app/image_table.py): ids and statuses at once, the other columns a
page at a time; filtered views, neighbours of an image that left the filter, and the images
fingerprint computed from the arrays agree with the store."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.errors import CorruptProjectError
from annotations.model import Category, Image, ImageStatus
from annotations.store import Project
from app import image_table
from app.image_table import PAGE_ROWS, ImageTable, ImageView

STATUSES = list(ImageStatus)


@pytest.fixture
def project(tmp_path):
    """1,000 images with ids 2, 4, 6, ... (gaps) and statuses cycling through every status."""
    project = Project.create(tmp_path / "t.segproj", [Category(1, "cell", "#ff0000")])
    project.add_images([Image(2 * (k + 1), f"img{k:04d}.png", 64 + k % 5, 48, STATUSES[k % 5]) for k in range(1000)])
    yield project
    project.close()


def test_only_the_pages_asked_for_are_read(project: Project, monkeypatch) -> None:
    pages: list[tuple[int, int]] = []
    real = project.images_between
    monkeypatch.setattr(project, "images_between", lambda a, b: pages.append((a, b)) or real(a, b))
    table = ImageTable.load(project)
    assert len(table) == 1000 and pages == []  # ids and statuses only
    assert table[700] == project.get_image(1402)
    assert table[-1].id == 2000 and table[701].path == "img0701.png"
    assert pages == [(2 * (2 * PAGE_ROWS + 1), 2 * 3 * PAGE_ROWS), (2 * (3 * PAGE_ROWS + 1), 2000)]
    assert table.row_of(1402) == 700 and table.row_of(1401) is None and table.row_of(99_999) is None
    assert list(table) == project.images() and table == project.images()


def test_statuses_and_the_fingerprint_follow_the_session(project: Project) -> None:
    table = ImageTable.load(project)
    assert table.fingerprint() == project.images_fingerprint()
    assert table.status_counts() == dict.fromkeys(STATUSES, 200)
    image = table[3]
    table.put(3, Image(image.id, image.path, image.width, image.height, ImageStatus.NEW))
    assert table[3].status is ImageStatus.NEW and table.status_at(3) is ImageStatus.NEW
    project.put_image_status(image.id, ImageStatus.NEW)
    assert table.fingerprint() == project.images_fingerprint()


def test_filtered_views_and_neighbours(project: Project) -> None:
    table = ImageTable.load(project)
    unfinished = ImageView(table, table.rows_unfinished())
    assert len(unfinished) == 600 and all(not image.status.is_finished for image in unfinished[:20])
    done = ImageView(table, table.rows_with_status(ImageStatus.DONE))
    assert [image.id for image in done[:2]] == [8, 18]  # rows 3 and 8
    assert done.index_of(18) == 1 and done.index_of(2) == -1
    # Image 8 (row 3, done) under "unfinished": the next one is row 5, the previous row 2.
    assert unfinished[unfinished.neighbour(3, +1)].id == 12 and unfinished[unfinished.neighbour(3, -1)].id == 6
    assert unfinished.neighbour(999, +1) is None and unfinished.neighbour(0, -1) is None
    everything = ImageView(table)
    assert len(everything) == 1000 and everything.index_of(2000) == 999 and everything.neighbour(999, +1) is None


def test_an_image_deleted_elsewhere_reads_as_a_placeholder_until_reload(project: Project) -> None:
    table = ImageTable.load(project)
    project._db.execute("DELETE FROM images WHERE id = 4")  # another process, say
    assert table[1].id == 4 and "removed" in table[1].path
    assert table != ImageTable.load(project)


def test_an_unknown_status_text_is_a_corrupt_project(project: Project) -> None:
    project._db.execute("UPDATE images SET status = 'lost' WHERE id = 2")
    with pytest.raises(CorruptProjectError, match="unknown status"):
        ImageTable.load(project)


def test_an_empty_project_has_an_empty_table(tmp_path) -> None:
    with Project.create(tmp_path / "e.segproj") as empty:
        table = ImageTable.load(empty)
        assert len(table) == 0 and table.fingerprint() == empty.images_fingerprint() == (0, 0, 0, 0)
        assert not len(ImageView(table, table.rows_unfinished()))
        assert image_table.status_code(ImageStatus.NEW) == 0 and np.array_equal(table.ids, [])
