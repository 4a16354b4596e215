"""``main.py prelabel`` output (cli/prelabel.py): totals, skipped finished images, and one line
per image the engine could not read (``PrelabelResult.failed_images``, when present)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import main
from engine.protocol import PrelabelResult


@dataclass(frozen=True)
class OldResult:
    """A PrelabelResult from before ``failed_images`` existed."""

    model_version_id: int
    image_ids: tuple[int, ...]
    prediction_count: int
    seconds: float
    skipped_image_ids: tuple[int, ...] = ()


def test_failed_images_are_listed_one_per_line() -> None:
    from cli.prelabel import summary_lines

    result = PrelabelResult(3, (1, 2), 7, 1.25, skipped_image_ids=(9,),
                            failed_images=((4, "file not found: a.png"), (5, "cannot decode b.png")))
    assert summary_lines(result) == [
        "pre-labeled 2 images with model version 3: 7 predictions in 1.2 s",
        "skipped finished images: 9",
        "2 image(s) failed (left without predictions):",
        "  image 4: file not found: a.png",
        "  image 5: cannot decode b.png",
    ]
    assert summary_lines(PrelabelResult(3, (1,), 2, 0.5)) == ["pre-labeled 1 images with model version 3: 2 predictions in 0.5 s"]
    assert summary_lines(OldResult(3, (1,), 2, 0.5)) == ["pre-labeled 1 images with model version 3: 2 predictions in 0.5 s"]


def test_prelabel_command_prints_the_failed_images(new_project, monkeypatch, capsys: pytest.CaptureFixture) -> None:
    import engine.console

    result = PrelabelResult(2, (1,), 0, 0.1, failed_images=((1, "file not found: img.png"),))
    monkeypatch.setattr(engine.console, "run_with_progress", lambda request, **kw: result)
    assert main.main(["prelabel", str(Path(new_project.path))]) == 0
    out = capsys.readouterr().out
    assert "1 image(s) failed" in out and "  image 1: file not found: img.png" in out
