"""Screenshots of the workspace for a person to look at, written to ``screenshots/`` (git-ignored):
the main window with a real image and shapes of every kind, a selection with vertex handles, a
polygon being drawn, a 16-bit grayscale image, and the shortcuts dialog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotations.geometry import Polygon
from annotations.model import AddAnnotation, Annotation, Image
from tests.app.gui_helpers import GRAY_IMAGES, click, dsb_image, key, view_point

OUT = Path(__file__).resolve().parents[2] / "screenshots"


def _save(widget, name: str) -> Path:
    for _ in range(3):
        QApplication.processEvents()
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    assert widget.grab().save(str(path), "PNG")
    assert path.stat().st_size > 20_000
    return path


def test_screenshots(qtbot, window, shared_data: Path, tmp_path: Path) -> None:
    window.resize(1600, 1000)
    window.canvas.fit()
    window.canvas.flush_rendering()
    _save(window, "workspace_all_shape_kinds.png")

    # A selected polygon with a hole: vertex handles, highlighted outline, properties filled in.
    holed = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes)
    key(qtbot, window, "v")
    click(qtbot, window, 210, 30)
    assert window.session.selection == (holed.id,)
    qtbot.mouseMove(window.canvas.viewport(), view_point(window, 245, 22))  # near an edge: insert marker
    _save(window, "workspace_selected_polygon.png")

    # A polygon half drawn.
    key(qtbot, window, "p")
    for x, y in [(30, 30), (110, 40), (120, 110)]:
        click(qtbot, window, x, y)
    qtbot.mouseMove(window.canvas.viewport(), view_point(window, 40, 120))
    _save(window, "workspace_drawing_polygon.png")
    key(qtbot, window, Qt.Key.Key_Escape)

    # A 16-bit grayscale image (a real gray image stretched to 12 bits and offset).
    gray = np.asarray(PILImage.open(dsb_image(shared_data, GRAY_IMAGES[1])).convert("L")).astype(np.uint16)
    sixteen = tmp_path / "sixteen_bit.png"
    PILImage.fromarray(gray * 16 + 1000).save(sixteen)
    stored = window.project.add_images([Image(0, str(sixteen), gray.shape[1], gray.shape[0])])[0]
    window.refresh()
    window.open_image(stored.id)
    window.execute(AddAnnotation(Annotation(0, stored.id, 2, Polygon.from_points([[40, 40], [120, 50], [100, 130], [30, 110]]))))
    window.canvas.flush_rendering()
    _save(window, "workspace_16bit_gray.png")

    key(qtbot, window, Qt.Key.Key_F1)
    _save(window._help_dialog, "shortcuts_dialog.png")
    window._help_dialog.close()
