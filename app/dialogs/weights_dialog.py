"""The pretrained-weights dialog: what each weight file is (on disk or not, size, licence), which
of the open project's classes a model can propose before any training, and fetching a file with
progress and cancel.

The app never imports torch: the dialog runs ``main.py weights list --json`` and ``main.py
weights fetch NAME --progress-lines`` as child processes (QProcess, off the GUI thread) and parses
their output. Cancel terminates the child, whose fetch unwinds and leaves nothing in the cache.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MAIN_PY = Path(__file__).resolve().parents[2] / "main.py"
COLUMNS = ("Weights", "On disk", "Size", "Licence", "Proposes before training", "Description")


@dataclass(frozen=True)
class WeightRow:
    """One row of the table (from ``weights list --json``)."""

    name: str
    on_disk: bool
    size_bytes: int | None
    licence: str
    description: str
    proposes: tuple[str, ...] = ()


def parse_listing(text: str) -> list[WeightRow]:
    """Rows from the JSON printed by ``main.py weights list --json [--project P]``: each weight
    file, with the project classes the models starting from it can propose before training."""
    data: dict[str, Any] = json.loads(text)
    proposes: dict[str, list[str]] = {}
    for model in data.get("models", []):
        known = model.get("project_classes_before_training") or []
        starts = model.get("starts_from") or []
        if known and starts:
            bucket = proposes.setdefault(str(starts[0]), [])
            bucket.extend(c for c in known if c not in bucket)
    return [
        WeightRow(str(w["name"]), bool(w["on_disk"]), w.get("size_bytes"), str(w.get("licence", "")),
                  str(w.get("description", "")), tuple(proposes.get(str(w["name"]), ())))
        for w in data.get("weights", [])
    ]


def parse_progress(line: str) -> tuple[int, int | None] | None:
    """``"progress 1024 4096"`` -> (1024, 4096); ``"progress 1024 -"`` -> (1024, None); else None."""
    parts = line.strip().split()
    if len(parts) != 3 or parts[0] != "progress" or not parts[1].isdigit():
        return None
    return int(parts[1]), (int(parts[2]) if parts[2].isdigit() else None)


def _size(size_bytes: int | None) -> str:
    return "?" if size_bytes is None else f"{size_bytes / 1e6:.0f} MB"


class WeightsDialog(QDialog):
    """List weight files and fetch one (``project_path``: the open project, for the classes
    column; ``python``: the interpreter that runs ``main.py``; ``load``: list at once)."""

    def __init__(self, project_path: str | None = None, parent: QWidget | None = None, *,
                 python: str = sys.executable, load: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pretrained weights")
        self.resize(980, 460)
        self.project_path, self.python = project_path, python
        self.rows: list[WeightRow] = []
        self._process: QProcess | None = None
        self._lister: QProcess | None = None
        self._buffer = ""
        self._errors = ""

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.mirror = QLineEdit()
        self.mirror.setPlaceholderText("mirror base URL (optional; default: $SEGSTUDIO_WEIGHTS_MIRROR or the official host)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("The network is used only when you press Fetch.")
        self.status.setWordWrap(True)
        self.fetch_button = QPushButton("Fetch")
        self.cancel_button = QPushButton("Cancel fetch")
        self.cancel_button.setEnabled(False)
        self.refresh_button = QPushButton("Refresh")
        close_button = QPushButton("Close")
        self.fetch_button.clicked.connect(self.fetch_selected)
        self.cancel_button.clicked.connect(self.cancel)
        self.refresh_button.clicked.connect(self.refresh)
        close_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        for widget in (self.fetch_button, self.cancel_button, self.refresh_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.mirror)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        if load:
            self.refresh()

    # ------------------------------------------------------------------------- listing
    def refresh(self) -> None:
        """Re-read the listing in a child process; the table updates when it answers."""
        if self._lister is not None:
            return
        args = [str(MAIN_PY), "weights", "list", "--json"]
        if self.project_path:
            args += ["--project", str(self.project_path)]
        process = QProcess(self)
        process.finished.connect(self._on_listed)
        self._lister = process
        self.refresh_button.setEnabled(False)
        process.start(self.python, args)

    def _on_listed(self, exit_code: int, _status: object) -> None:
        process, self._lister = self._lister, None
        self.refresh_button.setEnabled(True)
        if process is None:
            return
        if exit_code != 0:
            error = bytes(process.readAllStandardError().data()).decode(errors="replace").strip()
            self.status.setText(f"Could not list the weights: {error.splitlines()[-1] if error else 'no answer'}")
            return
        self.set_rows(parse_listing(bytes(process.readAllStandardOutput().data()).decode()))

    def set_rows(self, rows: list[WeightRow]) -> None:
        """Show ``rows`` (kept in :attr:`rows`)."""
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values = (row.name, "yes" if row.on_disk else "no", _size(row.size_bytes), row.licence,
                      ", ".join(row.proposes), row.description)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        if rows and self.table.currentRow() < 0:
            self.table.selectRow(0)

    # --------------------------------------------------------------------------- fetch
    def selected(self) -> WeightRow | None:
        row = self.table.currentRow()
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def fetch_selected(self) -> None:
        """Start ``main.py weights fetch`` for the selected row."""
        row = self.selected()
        if row is None or self._process is not None:
            return
        args = [str(MAIN_PY), "weights", "fetch", row.name, "--progress-lines"]
        if self.mirror.text().strip():
            args += ["--mirror", self.mirror.text().strip()]
        self._buffer, self._errors = "", ""
        process = QProcess(self)
        process.readyReadStandardOutput.connect(self._on_output)
        process.readyReadStandardError.connect(self._on_error)
        process.finished.connect(self._on_finished)
        self._process = process
        self.fetch_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)  # busy until the first progress line
        self.status.setText(f"Fetching {row.name} ({_size(row.size_bytes)}) …")
        process.start(self.python, args)

    def cancel(self) -> None:
        """Stop the running fetch (the child removes its partial file)."""
        if self._process is not None:
            self._process.terminate()
            if not self._process.waitForFinished(5000):
                self._process.kill()
            self.status.setText("Fetch cancelled; nothing was stored.")

    def _on_output(self) -> None:
        assert self._process is not None
        self._buffer += bytes(self._process.readAllStandardOutput().data()).decode(errors="replace")
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self.show_progress_line(line)

    def show_progress_line(self, line: str) -> None:
        """Update the bar from one line of the child's output."""
        parsed = parse_progress(line)
        if parsed is None:
            if line.startswith("stored "):
                self.status.setText(line)
            return
        done, total = parsed
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.progress.setRange(0, 0)

    def _on_error(self) -> None:
        assert self._process is not None
        self._errors += bytes(self._process.readAllStandardError().data()).decode(errors="replace")

    def _on_finished(self, exit_code: int, _status: object) -> None:
        if self._process is not None:  # what arrived after the last readyRead signal
            self._on_output()
            self._on_error()
            self.show_progress_line(self._buffer)
        self._process = None
        self.fetch_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 100)
        if exit_code == 0:
            self.progress.setValue(100)
            self.refresh()
            return
        self.progress.setValue(0)
        errors = [line for line in self._errors.splitlines() if line.startswith("error:")]
        if errors:
            self.status.setText(errors[-1])
        elif "Fetch cancelled" not in self.status.text():
            self.status.setText(f"Fetch failed (exit code {exit_code}).")

    def done(self, result: int) -> None:
        """Closing the dialog cancels a running fetch."""
        self.cancel()
        super().done(result)
