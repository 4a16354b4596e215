"""palette-png: colour PNGs with a colour table, in and out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image
from PIL import Image as PILImage

from annotations.errors import FormatError
from annotations.formats import export_project, import_into
from annotations.formats.mask_common import read_rgb_png
from annotations.store import Project

TABLE = "128 64 128 road\n#dc143c person\n0 0 0 background\n"


def _colour_set(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    write_image(tmp_path / "images" / "f1.jpg", (16, 20), 3)
    rgb = np.zeros((16, 20, 3), np.uint8)
    rgb[8:, :] = (128, 64, 128)
    rgb[2:10, 5:9] = (220, 20, 60)
    rgb[0, :] = (255, 255, 255)  # void
    (tmp_path / "colour").mkdir()
    PILImage.fromarray(rgb).save(tmp_path / "colour" / "f1.png")
    (tmp_path / "table.txt").write_text(TABLE)
    return tmp_path / "images", tmp_path / "colour", rgb


def test_colour_pngs_round_trip_pixel_equal_with_void(tmp_path: Path) -> None:
    images, colour, rgb = _colour_set(tmp_path)
    with Project.create(tmp_path / "p.segproj") as project:
        import_into(project, "palette-png", colour, images_root=images, color_table=tmp_path / "table.txt",
                    ignore_colors=((255, 255, 255),))
        assert [(c.name, c.color) for c in project.categories()] == [("road", "#804080"), ("person", "#dc143c")]
        assert sum(a.is_ignore for a in project.annotations()) == 1
        export_project(project, "palette-png", tmp_path / "out")
    assert np.array_equal(read_rgb_png(tmp_path / "out" / "labels" / "f1.png"), rgb)


def test_unknown_colour_is_refused_naming_it(tmp_path: Path) -> None:
    images, colour, _ = _colour_set(tmp_path)
    with Project.create(tmp_path / "p.segproj") as project:
        with pytest.raises(FormatError, match=r"f1\.png.*#ffffff are not in the colour table"):
            import_into(project, "palette-png", colour, images_root=images, color_table=tmp_path / "table.txt")
