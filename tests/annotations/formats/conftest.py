"""Fixtures of the format tests (builders live in format_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_helpers import build_project


@pytest.fixture
def project(tmp_path: Path):
    """A project with 4 images of 64x96 (height x width) carrying boxes, multi-part polygons,
    a polygon with a hole, masks and a crowd mask; images live outside the project folder."""
    p = build_project(tmp_path)
    yield p
    p.close()
