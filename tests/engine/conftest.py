"""Projects for the engine tests: real EM slices (ISBI 2012 membranes) and small synthetic
images with known objects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import pytest
from engine_fixtures import blob_image
from weights_server import Server

from annotations.geometry import Polygon, rle
from annotations.model import Annotation, Category, Image, ImageStatus
from annotations.store import Project


def make_membrane_project(folder: Path, data: Path, *, n_done: int, n_new: int, size: int = 256,
                          first: int = 0) -> Path:
    """A project of ``n_done`` finished slices (membrane masks from the ground truth; label 0 of
    the data set is membrane) followed by ``n_new`` unlabeled ones, cropped to ``size`` pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "membranes.segproj"
    project = Project.create(path, [Category(1, "membrane", "#ff0000", is_thing=False)])
    images, annotations = [], []
    for k in range(n_done + n_new):
        index = first + k
        gray = cv2.imread(str(data / "isbi2012_membrane" / "train_image" / f"{index}.png"), cv2.IMREAD_GRAYSCALE)
        label = cv2.imread(str(data / "isbi2012_membrane" / "train_label" / f"{index}.png"), cv2.IMREAD_GRAYSCALE)
        gray, label = gray[:size, :size], label[:size, :size]
        cv2.imwrite(str(folder / f"slice{index}.png"), gray)
        done = k < n_done
        images.append(Image(k + 1, f"slice{index}.png", gray.shape[1], gray.shape[0],
                            ImageStatus.DONE if done else ImageStatus.NEW))
        if done:
            annotations.append(Annotation(0, k + 1, 1, rle.encode(label < 128)))
    project.add_images(images)
    project.add_annotations(annotations)
    project.close()
    return path


@pytest.fixture
def membrane_project(tmp_path: Path, shared_data: Path) -> Callable[..., Path]:
    """Factory: ``membrane_project(n_done=6, n_new=2, size=256)`` -> project path."""
    counter = iter(range(1000))

    def make(*, n_done: int = 6, n_new: int = 2, size: int = 256, first: int = 0) -> Path:
        return make_membrane_project(tmp_path / f"m{next(counter)}", shared_data, n_done=n_done, n_new=n_new,
                                     size=size, first=first)

    return make


@pytest.fixture
def blob_project(tmp_path: Path) -> Path:
    """4 synthetic images (96x128) with 2 discs each: images 1-2 done (annotated), 3 new,
    4 in progress. Category 1 "blob" (a thing)."""
    path = tmp_path / "blobs.segproj"
    project = Project.create(path, [Category(1, "blob", "#00ff00", is_thing=True)])
    statuses = [ImageStatus.DONE, ImageStatus.DONE, ImageStatus.NEW, ImageStatus.IN_PROGRESS]
    images, annotations = [], []
    for k, status in enumerate(statuses, start=1):
        rgb, polygons = blob_image(k)
        cv2.imwrite(str(tmp_path / f"blob{k}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        images.append(Image(k, f"blob{k}.png", rgb.shape[1], rgb.shape[0], status))
        if status is ImageStatus.DONE:
            annotations += [Annotation(0, k, 1, Polygon.from_points(p)) for p in polygons]
    project.add_images(images)
    project.add_annotations(annotations)
    project.close()
    return path


@pytest.fixture
def server() -> Iterator[Server]:
    """A loopback HTTP server (127.0.0.1, a free port) serving the files a test puts in it."""
    srv = Server()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private torchvision cache (``$TORCH_HOME``) and no weights mirror; returns the folder
    downloaded checkpoints land in."""
    from engine.models import weight_files

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(weight_files.MIRROR_ENV, raising=False)
    return tmp_path / "torch_home" / "hub" / "checkpoints"
