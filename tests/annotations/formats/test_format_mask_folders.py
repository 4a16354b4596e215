"""mask-folders: the nuclei layout (one binary PNG per object) in and out, on real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image

from annotations.errors import FormatError
from annotations.formats import export_project, import_into
from annotations.formats.mask_common import read_label_png
from annotations.store import Project


def _copy_samples(shared_data: Path, target: Path, n: int) -> list[Path]:
    folders = sorted(p for p in (shared_data / "dsb2018_nuclei40" / "stage1_train").iterdir() if p.is_dir())[:n]
    for folder in folders:
        shutil.copytree(folder, target / folder.name)
    return [target / f.name for f in folders]


def test_nuclei_mask_folders_round_trip_pixel_equal(tmp_path: Path, shared_data: Path) -> None:
    folders = _copy_samples(shared_data, tmp_path / "src", 3)
    mask_count = sum(len(list((f / "masks").glob("*.png"))) for f in folders)
    with Project.create(tmp_path / "p.segproj") as project:
        report = import_into(project, "mask-folders", tmp_path / "src")
        assert (report.images_added, report.annotations) == (3, mask_count)
        assert [c.name for c in project.categories()] == ["nucleus"]
        export_project(project, "mask-folders", tmp_path / "out")
    for folder in folders:
        written = sorted(p.name for p in (tmp_path / "out" / folder.name / "masks").iterdir())
        assert written == sorted(p.name for p in (folder / "masks").iterdir())  # the original file names
        for mask in (folder / "masks").glob("*.png"):
            assert np.array_equal(read_label_png(tmp_path / "out" / folder.name / "masks" / mask.name),
                                  read_label_png(mask)), mask.name  # 0/255 both sides


def test_ignore_folder_and_bad_masks(tmp_path: Path) -> None:
    sample = tmp_path / "src" / "s1"
    write_image(sample / "images" / "s1.png", (10, 12), 0)
    obj = np.zeros((10, 12), np.uint8)
    obj[2:5, 2:5] = 255
    from PIL import Image as PILImage

    (sample / "masks").mkdir()
    (sample / "ignore").mkdir()
    PILImage.fromarray(obj).save(sample / "masks" / "m1.png")
    void = np.zeros((10, 12), np.uint8)
    void[7:, :] = 255
    PILImage.fromarray(void).save(sample / "ignore" / "v.png")
    with Project.create(tmp_path / "p.segproj") as project:
        import_into(project, "mask-folders", tmp_path / "src", class_name="cell")
        roles = sorted((a.role.value, a.category_id) for a in project.annotations())
        assert roles == [("ignore", 0), ("object", 1)]
        export_project(project, "mask-folders", tmp_path / "out")
    assert np.array_equal(read_label_png(tmp_path / "out" / "s1" / "ignore" / "v.png"), void)
    PILImage.fromarray(np.zeros((10, 12), np.uint8)).save(sample / "masks" / "empty.png")
    with Project.create(tmp_path / "q.segproj") as project:
        with pytest.raises(FormatError, match=r"empty\.png.*empty object mask"):
            import_into(project, "mask-folders", tmp_path / "src")
        assert project.counts()["annotations"] == 0
