"""Shared fixtures: the real data beside the checkout, and small projects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real annotated data); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is missing (it sits beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture
def new_project(tmp_path: Path):
    """An empty project with two categories and one 100x80 (width x height) image record."""
    from annotations.model import Category, Image
    from annotations.store import Project

    project = Project.create(
        tmp_path / "test.segproj",
        [Category(1, "cell", "#e6194b"), Category(2, "debris", "#3cb44b", is_thing=True)],
    )
    project.add_images([Image(0, "img.png", 100, 80)])
    yield project
    project.close()
