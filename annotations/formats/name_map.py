"""The name map an exporter writes when the format renames images (Cityscapes):
``OUT/name_map.csv`` with one row per image: ``split,exported_stem,image_id,original_path``
(the project's stored path), so exported files can be traced back to the originals; and the
Cityscapes key of a file stem that already follows the format (kept on export)."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from annotations.model import Image

NAME_MAP_FILE = "name_map.csv"


def write_name_map(folder: Path, rows: Sequence[tuple[str, str, Image]]) -> Path:
    """Write ``folder/name_map.csv`` from ``(split, exported_stem, image)`` rows, sorted by
    split then exported stem; returns its path."""
    path = folder / NAME_MAP_FILE
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("split", "exported_stem", "image_id", "original_path"))
        for split, stem, image in sorted(rows, key=lambda r: (r[0], r[1])):
            writer.writerow((split, stem, image.id, image.path))
    return path


def read_name_map(path: Path) -> dict[str, str]:
    """``exported_stem -> original_path`` of a name map file."""
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["exported_stem"]: row["original_path"] for row in csv.DictReader(handle)}


def cityscapes_rows(splits: Mapping[str, Sequence[Image]],
                    names: Mapping[int, tuple[str, int, int]]) -> list[tuple[str, str, Image]]:
    """Name-map rows of a Cityscapes export: the stem is ``city_seq_frame`` as written."""
    return [(split, f"{names[im.id][0]}_{names[im.id][1]:06d}_{names[im.id][2]:06d}", im)
            for split, members in splits.items() for im in members]


_CITYSCAPES_STEM = re.compile(r"^([A-Za-z0-9-]+)_(\d{6})_(\d{6})(?:_[A-Za-z0-9]+)?$")


def cityscapes_key_from_stem(path: str) -> dict[str, object] | None:
    """``{"city", "seq", "frame"}`` when the image's file stem already follows Cityscapes'
    ``<city>_<seq>_<frame>[_suffix]`` (e.g. ``aachen_000001_000019_leftImg8bit``), so the
    export keeps that name; None otherwise (the image gets a generated name)."""
    match = _CITYSCAPES_STEM.match(PurePosixPath(path.replace("\\", "/")).stem)
    if match is None:
        return None
    return {"city": match.group(1), "seq": int(match.group(2)), "frame": int(match.group(3))}
