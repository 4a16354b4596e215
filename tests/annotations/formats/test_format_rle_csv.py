"""rle-csv: Kaggle run-length CSVs in and out (real data: nuclei masks), and the run codec."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from format_helpers import write_image

from annotations.errors import FormatError
from annotations.formats import export_project, import_into
from annotations.formats.rle_csv import decode_runs, encode_runs
from annotations.geometry import rle
from annotations.store import Project


def test_runs_are_column_major_and_one_based() -> None:
    mask = np.zeros((3, 4), bool)
    mask[0:2, 1] = True  # pixels 4, 5 in column-major 1-based order
    mask[2, 3] = True  # pixel 12
    assert encode_runs(mask) == "4 2 12 1"
    assert np.array_equal(decode_runs("4 2 12 1", (3, 4)), mask)
    assert encode_runs(mask, order="row") == "2 1 6 1 12 1"
    with pytest.raises(FormatError, match="sorted"):
        decode_runs("5 1 1 2", (3, 4))
    with pytest.raises(FormatError, match="outside"):
        decode_runs("12 2", (3, 4))
    with pytest.raises(FormatError, match="18446744073709551617 is outside"):  # beyond int64: no OverflowError
        decode_runs("18446744073709551617 2", (3, 4), where="labels.csv line 2")


def test_nuclei_masks_to_csv_and_back_are_equal(tmp_path: Path, shared_data: Path) -> None:
    folders = sorted((shared_data / "dsb2018_nuclei40" / "stage1_train").iterdir())[:2]
    for folder in folders:
        shutil.copytree(folder, tmp_path / "src" / folder.name)
    with Project.create(tmp_path / "a.segproj") as first:
        import_into(first, "mask-folders", tmp_path / "src")
        export_project(first, "rle-csv", tmp_path / "csv")
        before = {(first.get_image(a.image_id).path.rsplit("/", 1)[-1], bytes(a.geometry.counts)) for a in first.annotations()}
    with Project.create(tmp_path / "b.segproj") as second:
        report = import_into(second, "rle-csv", tmp_path / "csv" / "labels.csv", class_name="nucleus")
        after = {(second.get_image(a.image_id).path.rsplit("/", 1)[-1], bytes(a.geometry.counts)) for a in second.annotations()}
        assert report.annotations == len(before) > 0
    assert after == before


def test_ignore_rows_and_class_column(tmp_path: Path) -> None:
    write_image(tmp_path / "img1.png", (4, 5), 0)
    (tmp_path / "l.csv").write_text("ImageId,EncodedPixels,ClassId,Ignore\nimg1,1 3,ship,0\nimg1,9 4,,1\n")
    with Project.create(tmp_path / "p.segproj") as project:
        import_into(project, "rle-csv", tmp_path / "l.csv")
        anns = project.annotations()
        assert [(a.is_ignore, a.category_id, rle.area(a.geometry)) for a in anns] == [(False, 1, 3), (True, 0, 4)]
        assert [c.name for c in project.categories()] == ["ship"]
