"""Import and export from the window, on top of annotations.formats (skipped while a format is
not there yet), with the progress callback and Cancel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from annotations.store import Project
from app.dialogs import io_dialogs
from app.dialogs.io_dialogs import ExportChoice, ImportChoice, available_formats


def _need(kind: str, name: str) -> None:
    if name not in available_formats(kind):
        pytest.skip(f"annotations.formats has no {name} {kind}er yet")


def test_export_coco_from_the_dialog(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    _need("export", "coco")
    target = tmp_path / "coco_out"
    monkeypatch.setattr(io_dialogs.ExportDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(io_dialogs.ExportDialog, "choice", lambda self: ExportChoice("coco", target, 0.0, False, False, False))
    window.actions_by_key["export_annotations"].trigger()
    files = list(target.rglob("*.json"))
    assert files, "the export wrote no JSON"
    data = json.loads(files[0].read_text())
    assert len(data["annotations"]) == 5
    assert {c["name"] for c in data["categories"]} >= {"nucleus", "debris"}
    assert "wrote" in window.statusBar().currentMessage()


def test_cancelled_export_writes_nothing(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    _need("export", "coco")
    target = tmp_path / "cancelled"
    monkeypatch.setattr(io_dialogs.QProgressDialog, "wasCanceled", lambda self: True)
    report = io_dialogs.export_with_progress(window, ExportChoice("coco", target, 0.0, False, False, False))
    assert report is None and not target.exists()
    assert "cancelled" in window.statusBar().currentMessage()


def test_import_labelme_into_an_empty_project(qtbot, tmp_path: Path, shared_data: Path) -> None:
    _need("import", "labelme")
    from app.main_window import MainWindow

    source = tmp_path / "labelme"
    shutil.copytree(shared_data / "labelme_examples" / "instance_segmentation" / "data_annotated", source)
    project = Project.create(tmp_path / "empty.segproj", [])
    window = MainWindow(project, owns_project=True)
    qtbot.addWidget(window)
    window.show()
    assert window.current_image() is None
    report = io_dialogs.import_with_progress(window, ImportChoice("labelme", source, None))
    assert report is not None and report.images_added == 3
    assert len(window.session.images) == 3 and window.current_image() is not None
    assert window.images_panel.model.rowCount() == 3
    assert window.labels_panel.list.count() == len(project.categories()) > 0
    assert window.session.annotations
    window.close()


def test_failed_import_changes_nothing(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    _need("import", "coco")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    warnings: list[str] = []
    monkeypatch.setattr(io_dialogs.QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    before = window.project.counts()
    assert io_dialogs.import_with_progress(window, ImportChoice("coco", bad, None)) is None
    assert warnings and "bad.json" in warnings[0]
    assert window.project.counts() == before


def test_dialog_choices(qtbot, tmp_path: Path) -> None:
    formats = available_formats("export")
    if not formats:
        pytest.skip("no exporters yet")
    dialog = io_dialogs.ExportDialog(formats, tmp_path / "out")
    qtbot.addWidget(dialog)
    dialog.val.setValue(0.2)
    dialog.only_done.setChecked(True)
    choice = dialog.choice()
    assert choice.format_name == formats[0] and choice.target == tmp_path / "out"
    assert choice.val_fraction == pytest.approx(0.2) and choice.only_done


def test_importing_the_same_source_again_asks_first(qtbot, window, tmp_path: Path, monkeypatch) -> None:
    _need("import", "labelme")
    import numpy as np
    from PIL import Image as PILImage
    from PySide6.QtWidgets import QMessageBox

    source = tmp_path / "lm"
    source.mkdir()
    PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(source / "a.png")
    doc = {"imagePath": "a.png", "imageData": None, "imageHeight": 20, "imageWidth": 30,
           "shapes": [{"label": "nucleus", "points": [[1, 1], [10, 1], [10, 8]], "shape_type": "polygon"}]}
    (source / "a.json").write_text(json.dumps(doc))
    choice = ImportChoice("labelme", source, None)
    assert io_dialogs.import_with_progress(window, choice) is not None
    count = window.project.counts()["annotations"]
    questions: list[str] = []
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(
        io_dialogs.QMessageBox, "question", lambda parent, title, text, *a: (questions.append(text), answers.pop(0))[1]
    )
    assert io_dialogs.import_with_progress(window, choice) is None  # answered No
    assert "a.json" in questions[0] and "1 of 1 shape(s) are already in the project" in questions[0]
    assert window.project.counts()["annotations"] == count
    assert io_dialogs.import_with_progress(window, choice) is not None  # answered Yes
    assert window.project.counts()["annotations"] == count + 1
