"""Opening a big project stays responsive: the window is built in short steps after it is on
screen, the images panel's class filter asks the store's index (no read of every shape), the
spatial index needs no ``numpy.ma``, and the pre-label keys filter is off while nothing is
selected. (Latencies are measured in bench/scale.py, not asserted here.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from annotations.geometry import Box
from annotations.model import AddAnnotation, Annotation, DeleteAnnotation
from app.panels.images_panel import NO_SHAPES, contains_sorted, with_id

REPO = Path(__file__).resolve().parents[2]


def test_the_assist_features_come_after_the_window_is_on_screen(qtbot, gui_project_path: Path) -> None:
    from annotations.store import Project
    from app.main_window import MainWindow

    window = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(window)
    # Built at once: the canvas, the image list, the side panels; the image comes in the first
    # event-loop turn after the window's first paint.
    assert len(window.images_panel.model.rows) == 3 and window.session.image is None
    assert window.building and "review" not in window._panels and window._assist is None
    window.show()
    qtbot.waitUntil(lambda: window.session.image is not None)
    assert window.session.image.id == window.session.images[0].id
    qtbot.waitUntil(lambda: not window.building)
    assert {"predictions", "training", "review", "jobs"} <= set(window.panel_names())
    assert "interactive_mask" in window.tool_names()
    assert all(window._panels[n].isHidden() for n in ("training", "review", "jobs"))
    window.close()


def test_reading_assist_or_a_panel_finishes_the_build_at_once(qtbot, gui_project_path: Path) -> None:
    from annotations.store import Project
    from app.main_window import MainWindow

    window = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(window)
    window.show_panel("review")  # no event loop turn yet: the panel is built on demand
    assert not window.building and not window._panels["review"].isHidden()
    assert window.assist.review_panel is not None
    window.close()


def test_the_first_image_opens_on_demand_and_an_image_opened_first_stays(qtbot, gui_project_path: Path) -> None:
    from annotations.store import Project
    from app.main_window import MainWindow

    window = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(window)
    first = window.current_image()  # before any event-loop turn: opened now
    assert first is not None and window.session.image is first
    other = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(other)
    last_id = other.session.images[-1].id
    other.open_image(last_id)  # a caller's choice before the first turn is not overridden
    other.show()
    qtbot.waitUntil(lambda: not other.building)
    assert other.session.image is not None and other.session.image.id == last_id
    other.close()
    window.close()


def test_a_window_closed_while_building_adds_nothing_later(qtbot, gui_project_path: Path) -> None:
    from annotations.store import Project
    from app.main_window import MainWindow

    window = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(window)
    window.show()
    window.close()
    qtbot.wait(50)
    assert window._assist is None and "review" not in window._panels


def test_the_class_filter_reads_no_shape(qtbot, window, monkeypatch) -> None:
    """At 100,000 images / 1,000,000 shapes reading every shape stalled the window for
    seconds: the filter asks the store's (class, image) index instead."""
    project = window.project
    real = project.annotations

    def one_image_only(image_id: int | None = None) -> list[Annotation]:
        assert image_id is not None, "the class filter read every shape of the project"
        return real(image_id)

    monkeypatch.setattr(project, "annotations", one_image_only)
    images = [int(i) for i in window.session.images.ids]
    panel = window.images_panel
    panel.set_class_filter(3)  # 'cluster': only the first image has one
    assert [i.id for i in panel.model.rows] == [images[0]]
    panel.set_class_filter(NO_SHAPES)
    assert [i.id for i in panel.model.rows] == images[1:]
    # A shape drawn on image 2 moves it between the lists at once.
    window.open_image(images[1])
    change = window.execute(AddAnnotation(Annotation(0, images[1], 3, Box(5, 5, 30, 30))))
    assert [i.id for i in panel.model.rows] == [images[2]]
    panel.set_class_filter(3)
    assert [i.id for i in panel.model.rows] == images[:2]
    window.execute(DeleteAnnotation(change.annotation.id))
    assert [i.id for i in panel.model.rows] == [images[0]]


def test_sorted_membership_helpers() -> None:
    ids = np.array([2, 5, 9], np.int64)
    assert contains_sorted(ids, np.array([1, 2, 5, 6, 9, 10])).tolist() == [False, True, True, False, True, False]
    assert contains_sorted(np.zeros(0, np.int64), np.array([1])).tolist() == [False]
    assert with_id(ids, 6, True).tolist() == [2, 5, 6, 9] and with_id(ids, 5, False).tolist() == [2, 9]
    assert with_id(ids, 5, True) is ids and with_id(ids, 7, False) is ids


def test_the_spatial_index_does_not_import_numpy_ma() -> None:
    """np.percentile imported numpy.ma (~25-50 ms) while the first image of a window opened."""
    code = ("import sys, numpy as np; from app.canvas.spatial_index import GridIndex; "
            "GridIndex(np.array([[0, 0, 10, 10], [5, 5, 300, 40]], float)); print('numpy.ma' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_start_up_warm_up_leaves_no_window_behind(qapp) -> None:
    """``app.launch.warm_up_widgets`` (run at start by ``preload_gui``) renders a throwaway window
    into a pixmap: nothing is shown and nothing stays."""
    from PySide6.QtWidgets import QApplication

    from app.launch import WARM_UP_WINDOW, warm_up_widgets

    warm_up_widgets()
    assert not [widget for widget in QApplication.topLevelWidgets() if widget.objectName() == WARM_UP_WINDOW]
