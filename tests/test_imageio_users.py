"""The users of the one image opener (issue 17): the store's size reader and ``main.py new``, the
GUI loader and the engine reader all refuse a decompression bomb cleanly, and pre-label skips an
undecodable image instead of failing the job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from tests.annotations.test_imageio import header_only_png


def test_store_gui_and_engine_readers_refuse_the_bomb_cleanly(tmp_path: Path) -> None:
    from annotations.errors import FormatError
    from annotations.store.image_files import read_image_info
    from app.image_loading import ImageLoadError, decode_image, thumbnail

    bomb = header_only_png(tmp_path / "bomb.png", 50_000, 50_000)
    with pytest.raises(FormatError, match="pixel budget"):
        read_image_info(bomb)
    with pytest.raises(ImageLoadError, match="pixel budget"):
        decode_image(bomb)
    with pytest.raises(ImageLoadError, match="pixel budget"):
        thumbnail(bomb, 64)


def test_engine_reader_skips_undecodable_images_with_its_input_error(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from engine.errors import EngineInputError
    from engine.images import read_rgb

    bomb = header_only_png(tmp_path / "bomb.png", 50_000, 50_000)
    with pytest.raises(EngineInputError, match="image 3 .*pixel budget"):
        read_rgb(bomb, image_id=3)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    with pytest.raises(EngineInputError, match="image 4"):
        read_rgb(broken, image_id=4)


def test_new_accepts_a_20000_by_15000_photo(tmp_path: Path) -> None:
    import main

    header_only_png(tmp_path / "imgs" / "big.png", 20_000, 15_000)
    header_only_png(tmp_path / "imgs" / "bomb.png", 50_000, 50_000)
    assert main.main(["new", str(tmp_path / "p.segproj"), "--images", str(tmp_path / "imgs")]) == 0
    from annotations.store import Project

    with Project.open(tmp_path / "p.segproj", readonly=True) as project:  # the bomb is skipped with a warning
        assert [(Path(im.path).name, im.width, im.height) for im in project.images()] == [("big.png", 20_000, 15_000)]


def test_prelabel_batch_reader_skips_an_undecodable_image(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from annotations.model import Image
    from annotations.store import Project
    from engine.jobs.prelabel import read_batch

    PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "good.png")
    header_only_png(tmp_path / "bomb.png", 50_000, 50_000)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x01" * 80)
    with Project.create(tmp_path / "p.segproj") as project:
        images = project.add_images([Image(0, "good.png", 30, 20), Image(0, "bomb.png", 50_000, 50_000),
                                     Image(0, "broken.jpg", 30, 20)])
        read = read_batch(project, images)
    assert read[0].shape == (20, 30, 3)
    assert isinstance(read[1], str) and "pixel budget" in read[1]
    assert isinstance(read[2], str) and "image 3" in read[2]
