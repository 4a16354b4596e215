"""``python main.py [PROJECT] [--screenshot OUT.png] [--panel NAME]``: the GUI."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "resources" / "sample"
SAMPLE_PROJECT = SAMPLE_DIR / "sample.segproj"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the GUI's arguments to the top-level parser."""
    parser.add_argument("project", nargs="?", type=Path, default=None,
                        help="a .segproj file (default: a working copy of the bundled sample project)")
    parser.add_argument("--screenshot", type=Path, default=None, help="render the main window offscreen to this PNG and exit")
    parser.add_argument("--panel", default=None, help="with --screenshot: open this panel first (jobs, training, review)")
    parser.set_defaults(func=run)


def sample_working_copy(data_home: Path | None = None) -> Path:
    """The user's working copy of the bundled sample project, made on first use.

    Edits go to the copy (under ``$XDG_DATA_HOME/segstudio/sample``, default
    ``~/.local/share``), never to the file in the repository. Returns the copy's project path.
    """
    base = data_home or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    target = base / "segstudio" / "sample"
    project = target / SAMPLE_PROJECT.name
    if not project.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(SAMPLE_DIR, staging, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*-wal", "*-shm"))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return project


def run(args: argparse.Namespace) -> int:
    from app.launch import run_gui  # PySide6 is imported only here

    project = args.project or sample_working_copy()
    return run_gui(project, screenshot=args.screenshot, panel=args.panel)
