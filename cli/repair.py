"""``python main.py repair PROJECT OUT``: copy what is readable of a damaged project into OUT.

PROJECT is only read. OUT must not exist; it is a new project file holding every row that could
be read (rows lost to the damage are counted per table). Open OUT to check it, then replace the
damaged file by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("repair", help="recover what is readable of a damaged project into a new file")
    parser.add_argument("project", type=Path, help="the damaged .segproj file (only read)")
    parser.add_argument("out", type=Path, help="the new project file to write (must not exist)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from annotations.store import Project
    from annotations.store.repair import recover

    report = recover(args.project, args.out)
    print(report.summary())
    with Project.open(args.out) as project:  # migrates an old schema; proves the result opens
        counts = project.counts()
    print(f"{args.out} opens: {counts.get('images', 0)} images, {counts.get('annotations', 0)} annotations")
    return 0
