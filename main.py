"""SegStudio entry point.

``python main.py [PROJECT]`` opens the GUI (the bundled sample project if none);
``python main.py SUBCOMMAND ...`` runs a headless command (see ``python main.py --help``).
Exit codes: 0 ok, 2 bad input (message on stderr), 1 internal error or a fault of the machine
(disk full, read-only project): one line on stderr; an internal error's full traceback goes to a
log file the line names, or to stderr with ``--debug`` (or ``SEGSTUDIO_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from cli import SUBCOMMANDS

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2

_MODULES = {"import": "cli.import_cmd"}


def _module_name(command: str) -> str:
    return _MODULES.get(command, f"cli.{command}")


def build_parser(command: str | None) -> argparse.ArgumentParser:
    """The parser for one sub-command (only its module is imported), or for the GUI."""
    parser = argparse.ArgumentParser(prog="main.py", description="SegStudio: annotate, pre-label, export, review.")
    if command is None:
        from cli import gui

        gui.configure(parser)
        return parser
    subparsers = parser.add_subparsers(dest="command", required=True)
    importlib.import_module(_module_name(command)).register(subparsers)
    return parser


def _bad_input_types() -> tuple[type[BaseException], ...]:
    """The exceptions that mean bad input (exit 2): each package's input-error root. All three
    modules are torch- and Qt-free, so importing them costs nothing."""
    from annotations.errors import AnnotationsError
    from cli.errors import UsageError
    from engine.errors import EngineInputError

    return (AnnotationsError, UsageError, EngineInputError)


def _fault_types() -> tuple[type[BaseException], ...]:
    """Failures of the machine, not of the input or of SegStudio: one line, exit 1, no traceback."""
    from annotations.errors import StoreFaultError
    from cli.export import ExportFaultError

    return (StoreFaultError, ExportFaultError)


def _report_internal_error(exc: BaseException, debug: bool) -> None:
    """One line on stderr; the traceback on stderr (``debug``) or in a log file named there."""
    summary = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"error: {type(exc).__name__}: {summary}" if summary else f"error: {type(exc).__name__}"
    if debug:
        traceback.print_exc()
        print(line, file=sys.stderr)
        return
    folder = Path(os.environ.get("SEGSTUDIO_LOG_DIR") or tempfile.gettempdir())
    log = folder / f"segstudio-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        log.write_text(f"segstudio {' '.join(sys.argv)}\n" + traceback.format_exc(), encoding="utf-8")
        where = f"traceback in {log}"
    except OSError:
        where = "no log file could be written"
    print(f"{line} (internal error; {where}; rerun with --debug to print it)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("SEGSTUDIO_DEBUG", "") not in ("", "0")
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
        debug = True
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\nsub-commands: " + ", ".join(SUBCOMMANDS) + "  (python main.py SUBCOMMAND --help)")
        return EXIT_OK
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    try:
        parser = build_parser(command)
    except ModuleNotFoundError as exc:
        print(f"error: sub-command {command!r} is not available: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except _fault_types() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    except _bad_input_types() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `main.py info P | head`): not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        _report_internal_error(exc, debug)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
