"""The command line behind ``main.py``: one module per sub-command.

Each module exposes ``register(subparsers)`` which adds its parser and sets ``func`` to a
``run(args) -> int`` callable. Exit codes: 0 ok, 2 bad input (message on stderr), 1 internal
error.
"""

SUBCOMMANDS = ("new", "info", "import", "export", "prelabel", "train", "review", "weights", "status", "segment", "repair")
