"""The examples in library docstrings (``>>>``) run as tests, so edge cases written there stay true."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts)
    for package in ("annotations", "engine", "cli")
    for path in (ROOT / package).rglob("*.py")
    if ">>> " in path.read_text(encoding="utf-8")
)


def test_some_docstrings_carry_examples() -> None:
    assert MODULES, "no module has a docstring example: this test would check nothing"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0, f"{module_name}: '>>> ' found but no example collected"
    assert failed == 0, f"{module_name}: {failed} of {attempted} docstring examples failed"
