"""The GUI's weights dialog (offscreen): the listing, progress lines, and a real fetch in a child
process (``main.py weights fetch``) through a loopback server whose file fails the hash check:
the error is shown and nothing is stored. The dialog itself never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from weights_server import Server

ROOT = Path(__file__).resolve().parents[2]



def test_dialog_module_does_not_import_torch() -> None:
    code = "import sys; import app.dialogs.weights_dialog; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_parse_listing_and_progress() -> None:
    from app.dialogs.weights_dialog import parse_listing, parse_progress
    from cli.weights import listing

    rows = parse_listing(json.dumps(listing(["person", "nucleus"])))
    by_name = {r.name: r for r in rows}
    assert by_name["maskrcnn_resnet50_fpn.coco"].proposes == ("person",)
    assert by_name["resnet50.imagenet"].proposes == () and by_name["resnet50.imagenet"].licence == "BSD-3-Clause"
    assert parse_progress("progress 10 20") == (10, 20) and parse_progress("progress 10 -") == (10, None)
    assert parse_progress("stored x") is None


def test_fetch_failure_is_shown_and_nothing_is_stored(qapp: object, server: Server, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from app.dialogs.weights_dialog import WeightRow, WeightsDialog

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    server.put("ssdlite320_mobilenet_v3_large_coco-a79551df.pth", b"not the real weights" * 100)
    dialog = WeightsDialog(load=False)
    dialog.set_rows([WeightRow("ssdlite320_mobilenet_v3_large.coco", False, 14_000_000, "BSD-3-Clause", "SSDlite")])
    dialog.mirror.setText(server.base + "/models")
    dialog.fetch_selected()
    process = dialog._process
    assert process is not None and process.waitForFinished(120_000)  # emits finished -> _on_finished
    assert dialog._process is None and dialog.fetch_button.isEnabled()
    assert "hash mismatch" in dialog.status.text()
    folder = tmp_path / "th" / "hub" / "checkpoints"
    assert not folder.exists() or not any(folder.iterdir())
    dialog.close()


def test_dialog_lists_in_a_child_process(qapp: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.dialogs.weights_dialog import WeightsDialog

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    dialog = WeightsDialog()
    lister = dialog._lister
    assert lister is not None and lister.waitForFinished(120_000)
    names = {r.name for r in dialog.rows}
    assert "maskrcnn_resnet50_fpn.coco" in names and dialog.table.rowCount() == len(dialog.rows)
    assert not any(r.on_disk for r in dialog.rows)
    dialog.close()
