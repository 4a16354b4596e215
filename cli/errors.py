"""Errors of the command line layer."""


class UsageError(Exception):
    """Bad input on the command line (exit code 2); the message says what and where."""
