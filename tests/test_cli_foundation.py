"""``main.py new`` and ``main.py info``: project creation from an image folder, summaries, exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage
from PIL import ImageFile

import main
from annotations.geometry import Box
from annotations.model import Annotation, Category, Image, ImageStatus, ModelVersion
from annotations.store import SCHEMA_VERSION, Project

REPO_ROOT = Path(__file__).resolve().parents[1]


def _write(path: Path, size_wh: tuple[int, int], fmt: str, orientation: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = PILImage.new("RGB", size_wh, (10, 20, 30))
    kwargs = {}
    if orientation is not None:
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif
    image.save(path, fmt, **kwargs)


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    _write(folder / "a.png", (40, 30), "PNG")
    _write(folder / "sub" / "b.jpg", (64, 32), "JPEG", orientation=6)  # rotated 90: shown 32 x 64
    _write(folder / "sub" / "c.JPEG", (50, 20), "JPEG", orientation=3)  # rotated 180: size kept
    _write(folder / "sub" / "deeper" / "d.tif", (11, 7), "TIFF")
    _write(folder / "e.bmp", (9, 5), "BMP")
    _write(folder / "f.webp", (16, 8), "WEBP")
    _write(folder / "g.png", (24, 12), "PNG", orientation=8)  # PNG eXIf: rotated 270
    _write(folder / ".hidden" / "h.png", (5, 5), "PNG")
    (folder / "notes.txt").write_text("not an image")
    return folder


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_new_scans_recursively_without_decoding_pixels(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError(f"pixels of {self.filename} were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    project_path = tmp_path / "proj" / "p.segproj"
    project_path.parent.mkdir()
    code, out, err = run_main(["new", str(project_path), "--images", str(image_folder), "--labels", "voc"], capsys)
    assert code == 0, err
    assert "7 images, 20 categories" in out
    with Project.open(project_path) as project:
        sizes = {image.path: (image.width, image.height) for image in project.images()}
        assert sizes == {
            "../images/a.png": (40, 30),
            "../images/e.bmp": (9, 5),
            "../images/f.webp": (16, 8),
            "../images/g.png": (12, 24),
            "../images/sub/b.jpg": (32, 64),
            "../images/sub/c.JPEG": (50, 20),
            "../images/sub/deeper/d.tif": (11, 7),
        }
        orientation = {i.path: i.attributes.get("exif_orientation") for i in project.images()}
        assert orientation["../images/sub/b.jpg"] == 6 and orientation["../images/a.png"] is None
        assert project.missing_images() == []
        assert [c.name for c in project.categories()][:2] == ["aeroplane", "bicycle"]


def test_new_with_a_label_file_and_an_unreadable_image(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (image_folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    labels = tmp_path / "labels.txt"
    labels.write_text("nucleus\ndebris\n")
    code, out, err = run_main(["new", str(tmp_path / "p.segproj"), "--images", str(image_folder), "--labels", str(labels)],
                              capsys)
    assert code == 0, err
    assert "broken.png" in err and "warning" in err
    assert "7 images, 2 categories" in out


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_folder", "images folder does not exist"),
        ("empty_folder", "no image files found"),
        ("existing_project", "already exists"),
        ("bad_labels", "unknown keys"),
        ("unknown_preset", "no such label file"),
        ("missing_parent", "does not exist"),
    ],
)
def test_new_bad_input_exits_2(
    tmp_path: Path, image_folder: Path, capsys: pytest.CaptureFixture[str], setup: str, message: str
) -> None:
    project_path = tmp_path / "p.segproj"
    images = image_folder
    labels: list[str] = []
    if setup == "missing_folder":
        images = tmp_path / "nope"
    elif setup == "empty_folder":
        images = tmp_path / "empty"
        images.mkdir()
        (images / "readme.md").write_text("x")
    elif setup == "existing_project":
        project_path.write_text("precious")
    elif setup == "bad_labels":
        (tmp_path / "l.json").write_text('[{"id": 1, "name": "a", "colour": "red"}]')
        labels = ["--labels", str(tmp_path / "l.json")]
    elif setup == "unknown_preset":
        labels = ["--labels", "ade20k"]
    elif setup == "missing_parent":
        project_path = tmp_path / "no" / "p.segproj"
    code, out, err = run_main(["new", str(project_path), "--images", str(images), *labels], capsys)
    assert code == 2
    assert message in err and err.startswith("error: ")
    if setup == "existing_project":
        assert project_path.read_text() == "precious"
    else:
        assert not project_path.exists()


def _project_with_content(path: Path) -> None:
    with Project.create(path, [Category(1, "nucleus", "#ff0000"), Category(2, "debris", "#00ff00")]) as project:
        project.add_images([Image(0, "a.png", 10, 10), Image(0, "b.png", 10, 10)])
        project.put_image_status(2, ImageStatus.DONE)
        project.add_annotations([Annotation(0, 1, 1, Box(0, 0, 2, 2)), Annotation(0, 2, 1, Box(0, 0, 3, 3))])
        project.add_model_version(ModelVersion(0, "unet", (1, 2), promoted=True, metrics={"miou": 0.5}))


def test_info_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.segproj"
    _project_with_content(path)
    code, out, err = run_main(["info", str(path), "--json"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    for key in ("images", "annotations", "predictions", "categories", "model_versions", "status"):
        assert key in summary
    assert (summary["images"], summary["annotations"], summary["predictions"]) == (2, 2, 0)
    assert (summary["categories"], summary["model_versions"]) == (2, 1)
    assert summary["status"] == {"new": 1, "prelabeled": 0, "in_progress": 0, "done": 1, "reviewed": 0}
    assert [(c["name"], c["annotations"]) for c in summary["classes"]] == [("nucleus", 2), ("debris", 0)]
    assert summary["kinds"] == {"box": 2, "polygon": 0, "mask": 0}
    assert summary["versions"][0]["architecture"] == "unet" and summary["versions"][0]["promoted"] is True
    assert summary["missing_images"] == 2
    code, out, err = run_main(["info", str(path)], capsys)
    assert code == 0, err
    assert "nucleus" in out and "2 annotations" in out and "v1  unet" in out and "(promoted)" in out


def test_info_bad_projects_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(["info", str(tmp_path / "missing.segproj")], capsys)
    assert code == 2 and "no such project file" in err
    corrupt = tmp_path / "corrupt.segproj"
    corrupt.write_bytes(os.urandom(4096))
    code, _, err = run_main(["info", str(corrupt)], capsys)
    assert code == 2 and "not a readable SegStudio project" in err
    newer = tmp_path / "newer.segproj"
    Project.create(newer).close()
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    code, _, err = run_main(["info", str(newer)], capsys)
    assert code == 2 and "newer SegStudio" in err


def test_main_py_end_to_end(tmp_path: Path, image_folder: Path) -> None:
    """The real command line in a fresh interpreter: exit codes and stdout/stderr."""
    project = tmp_path / "p.segproj"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "main.py"), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )

    created = cli("new", str(project), "--images", str(image_folder), "--labels", "coco")
    assert created.returncode == 0, created.stderr
    info = cli("info", str(project), "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["categories"] == 80
    again = cli("new", str(project), "--images", str(image_folder))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_gui_default_opens_a_working_copy_of_the_sample(tmp_path: Path) -> None:
    from annotations.store import Project
    from cli.gui import SAMPLE_PROJECT, sample_working_copy

    copy = sample_working_copy(tmp_path)
    assert copy.is_file() and copy != SAMPLE_PROJECT and copy.parent.parent.parent == tmp_path
    with Project.open(copy, readonly=True) as project, Project.open(SAMPLE_PROJECT, readonly=True) as original:
        assert project.counts() == original.counts()
        assert not project.missing_images()  # images came along, relative paths still resolve
    assert sample_working_copy(tmp_path) == copy  # second call reuses it
