"""``python main.py [PROJECT] [--screenshot OUT.png] [--panel NAME]``: the GUI."""

from __future__ import annotations

import argparse
from pathlib import Path

SAMPLE_PROJECT = Path(__file__).resolve().parents[1] / "resources" / "sample" / "sample.segproj"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the GUI's arguments to the top-level parser."""
    parser.add_argument("project", nargs="?", type=Path, default=None, help="a .segproj file (default: the sample project)")
    parser.add_argument("--screenshot", type=Path, default=None, help="render the main window offscreen to this PNG and exit")
    parser.add_argument("--panel", default=None, help="with --screenshot: open this panel first (jobs, training, review)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.launch import run_gui  # PySide6 is imported only here

    project = args.project or SAMPLE_PROJECT
    return run_gui(project, screenshot=args.screenshot, panel=args.panel)
