"""A long image list in the real window: rows are read lazily (only the pages on screen and
around the current image), the screenshot wait lets the batched list layout reach the rows on
screen (they used to be blank at 100,000 images), and stepping/filtering work on the views."""

from __future__ import annotations

from annotations.model import Category, Image, ImageStatus
from annotations.store import Project
from app.image_table import PAGE_ROWS
from app.main_window import MainWindow

COUNT = 20_000


def test_a_long_list_is_read_lazily_and_shown_once_ready(qtbot, tmp_path, monkeypatch) -> None:
    path = tmp_path / "long.segproj"
    with Project.create(path, [Category(1, "cell", "#ff0000")]) as project:
        project.add_images([Image(0, f"images/{k:05d}.jpg", 64, 48, ImageStatus.DONE if k % 3 == 0 else ImageStatus.NEW)
                            for k in range(COUNT)])
    project = Project.open(path)
    pages: list[int] = []
    real = project.images_between
    monkeypatch.setattr(project, "images_between", lambda a, b: pages.append(a) or real(a, b))
    window = MainWindow(project, owns_project=True)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    window.wait_until_ready()
    panel = window.images_panel
    assert panel.rows_on_screen() and panel.model.rowCount() == COUNT
    assert len(pages) <= 3  # the first page (current image, rows on screen); never the 20,000 rows
    panel.set_status_filter("unfinished")
    assert len(panel.model.rows) == COUNT - (COUNT + 2) // 3
    window.open_image(1)  # done: not in the filtered list
    window.step_image(+1)
    assert window.current_image().id == 2  # the next unfinished one after image 1
    window.open_image(COUNT - 3)  # image 19,997 (new); the one before it (19,996) is done: skipped
    window.step_image(-1)
    assert window.current_image().id == COUNT - 5
    window.open_image(COUNT - 1)  # image 19,999 is done (not in the list): back goes on from its place
    window.step_image(-1)
    assert window.current_image().id == COUNT - 2
    assert len({a // PAGE_ROWS for a in pages}) < 10
    window.close()
