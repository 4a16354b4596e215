"""Import and export dialogs on top of :mod:`annotations.formats`, with a progress bar.

The formats package may be partly present while it is being written: only formats whose module
imports are offered, and without the package the menu entries explain that instead of failing.
Work runs on the GUI thread (the project's SQLite connection belongs to it); the progress
callback keeps the window painting and its Cancel button aborts (exports are atomic: a
cancelled export leaves nothing behind; an import stores nothing until it has read everything).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from annotations.errors import AnnotationsError

if TYPE_CHECKING:
    from app.workspace import Workspace

FORMAT_TITLES = {
    "coco": "COCO instances (JSON, polygons / RLE)",
    "coco-panoptic": "COCO panoptic (PNG + JSON)",
    "voc": "Pascal VOC (XML + class/object PNGs)",
    "cityscapes": "Cityscapes (polygons JSON + id PNGs)",
    "yolo": "YOLO (txt per image)",
    "labelme": "labelme (JSON per image)",
}
SOURCE_IS_FILE = {"coco"}
"""Formats whose import source is one file (the others take a folder)."""


class CancelledByUser(Exception):
    """Raised from the progress callback when Cancel is pressed."""


def _formats_module() -> Any | None:
    try:
        return importlib.import_module("annotations.formats")
    except ImportError:
        return None


def available_formats(kind: str) -> list[str]:
    """Format names (``kind``: ``export`` or ``import``) whose implementing module is present."""
    module = _formats_module()
    if module is None:
        return []
    table = getattr(module, "EXPORTERS" if kind == "export" else "IMPORTERS", {})
    names = []
    for name, (module_name, function) in table.items():
        try:
            if importlib.util.find_spec(module_name) is None:
                continue
            if not hasattr(importlib.import_module(module_name), function):
                continue
        except ImportError:
            continue
        names.append(name)
    return names


@dataclass
class ExportChoice:
    format_name: str
    target: Path
    val_fraction: float
    only_done: bool
    overwrite: bool
    copy_images: bool


@dataclass
class ImportChoice:
    format_name: str
    source: Path
    add_labels: bool | None


class _PathRow(QWidget):
    def __init__(self, pick: Callable[[], str]) -> None:
        super().__init__()
        self.edit = QLineEdit()
        button = QPushButton("Browse…")
        button.clicked.connect(lambda: self.edit.setText(pick() or self.edit.text()))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(button)


class ExportDialog(QDialog):
    def __init__(self, formats: list[str], default_target: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export data set")
        self.format = QComboBox()
        for name in formats:
            self.format.addItem(FORMAT_TITLES.get(name, name), name)
        self.target = _PathRow(lambda: QFileDialog.getExistingDirectory(self, "Export into folder"))
        self.target.edit.setText(str(default_target))
        self.val = QDoubleSpinBox()
        self.val.setRange(0.0, 0.9)
        self.val.setSingleStep(0.05)
        self.val.setValue(0.0)
        self.val.setToolTip("Fraction of the images put in a 'val' split (seeded: the same every time)")
        self.only_done = QCheckBox("Only images marked done / reviewed")
        self.overwrite = QCheckBox("Replace the folder if it exists")
        self.copy_images = QCheckBox("Copy image files into the data set")
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", self.target)
        form.addRow("Validation split", self.val)
        form.addRow("", self.only_done)
        form.addRow("", self.overwrite)
        form.addRow("", self.copy_images)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def choice(self) -> ExportChoice:
        return ExportChoice(
            self.format.currentData(), Path(self.target.edit.text()).expanduser(), self.val.value(),
            self.only_done.isChecked(), self.overwrite.isChecked(), self.copy_images.isChecked(),
        )


class ImportDialog(QDialog):
    def __init__(self, formats: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import annotations")
        self.format = QComboBox()
        for name in formats:
            self.format.addItem(FORMAT_TITLES.get(name, name), name)
        self.source = _PathRow(self._pick)
        self.add_labels = QComboBox()
        self.add_labels.addItem("Add unknown classes only to a project without classes", None)
        self.add_labels.addItem("Always add unknown classes", True)
        self.add_labels.addItem("Never add classes (refuse unknown ones)", False)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Source", self.source)
        form.addRow("Classes", self.add_labels)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _pick(self) -> str:
        if self.format.currentData() in SOURCE_IS_FILE:
            path, _filter = QFileDialog.getOpenFileName(self, "Annotation file", "", "JSON (*.json);;All files (*)")
            return path
        return QFileDialog.getExistingDirectory(self, "Annotation folder")

    def choice(self) -> ImportChoice:
        return ImportChoice(self.format.currentData(), Path(self.source.edit.text()).expanduser(), self.add_labels.currentData())


def _parent_widget(window: Workspace) -> QWidget:
    """``window`` as the parent of a dialog: the workspace is the main window, a QWidget
    (the Workspace protocol does not say so, hence the cast)."""
    return cast(QWidget, window)


def _progress_dialog(window: Workspace, title: str) -> tuple[QProgressDialog, Callable[[int, int], None]]:
    dialog = QProgressDialog(title, "Cancel", 0, 100, _parent_widget(window))
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    dialog.setAutoClose(False)

    def progress(done: int, total: int) -> None:
        dialog.setMaximum(max(1, total))
        dialog.setValue(min(done, max(1, total)))
        dialog.setLabelText(f"{title} {done} / {total} images")
        QCoreApplication.processEvents()
        if dialog.wasCanceled():
            raise CancelledByUser()

    return dialog, progress


def export_with_progress(window: Workspace, choice: ExportChoice) -> Any:
    """Run the export of ``choice`` with a progress dialog; returns the ExportReport, or None
    when cancelled or refused (the message is shown)."""
    formats = _formats_module()
    assert formats is not None
    dialog, progress = _progress_dialog(window, "Exporting")
    split = {"val": choice.val_fraction} if choice.val_fraction > 0 else {}
    options = formats.ExportOptions(split=split, only_done=choice.only_done, overwrite=choice.overwrite,
                                    copy_images=choice.copy_images, progress=progress)
    try:
        report = formats.export_project(window.project, choice.format_name, choice.target, options)
    except CancelledByUser:
        window.show_message("Export cancelled: nothing was written")
        return None
    except (AnnotationsError, OSError) as exc:
        QMessageBox.warning(_parent_widget(window), "Export failed", str(exc))
        return None
    finally:
        dialog.close()
    window.show_message(report.summary())
    return report


def import_with_progress(window: Workspace, choice: ImportChoice) -> Any:
    """Run the import of ``choice`` with a progress dialog and refresh the window; returns the
    ImportReport, or None when cancelled or refused."""
    formats = _formats_module()
    assert formats is not None
    allow_duplicates = False
    while True:
        dialog, progress = _progress_dialog(window, "Importing")
        options = formats.ImportOptions(add_labels=choice.add_labels, progress=progress, allow_duplicates=allow_duplicates)
        try:
            report = formats.import_into(window.project, choice.format_name, choice.source, options)
            break
        except CancelledByUser:
            window.show_message("Import cancelled: nothing was stored")
            return None
        except (AnnotationsError, OSError) as exc:
            duplicates = int(getattr(exc, "duplicates", 0) or 0)
            if duplicates and not allow_duplicates:
                dialog.close()
                answer = QMessageBox.question(
                    _parent_widget(window), "Import again?",
                    f"{exc}\n\nImport these {duplicates} shape(s) a second time anyway?",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
                )
                if answer == QMessageBox.StandardButton.Yes:
                    allow_duplicates = True
                    continue
                window.show_message("Import refused: the shapes are already in the project; nothing was stored")
                return None
            QMessageBox.warning(_parent_widget(window), "Import failed", str(exc))
            return None
        finally:
            dialog.close()
    window.refresh()
    if window.current_image() is None and window.session.images:
        window.open_image(window.session.images[0].id)
    window.show_message(report.summary())
    return report


def run_export_dialog(window: Workspace) -> Any:
    formats = available_formats("export")
    if not formats:
        QMessageBox.information(_parent_widget(window), "Export", "No export formats are available in this installation.")
        return None
    dialog = ExportDialog(formats, window.project.root / f"{window.project.path.stem}_export", _parent_widget(window))
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return export_with_progress(window, dialog.choice())


def run_import_dialog(window: Workspace) -> Any:
    formats = available_formats("import")
    if not formats:
        QMessageBox.information(_parent_widget(window), "Import", "No import formats are available in this installation.")
        return None
    dialog = ImportDialog(formats, _parent_widget(window))
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return import_with_progress(window, dialog.choice())
