"""SegStudio entry point.

``python main.py [PROJECT]`` opens the GUI (the bundled sample project if none);
``python main.py SUBCOMMAND ...`` runs a headless command (see ``python main.py --help``).
Exit codes: 0 ok, 2 bad input (message on stderr), 1 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

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


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
    except Exception:  # noqa: BLE001 - the last line of defence: report, exit 1
        traceback.print_exc()
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
