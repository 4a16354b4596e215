"""Fuzzing the mask importers (label PNG, instance PNG, mask folders, palette PNG, RLE CSV) with
seeded mutations of real masks from ``../shared/data``: valid PNGs of the wrong size, mode, bit
depth or values, damaged PNG bytes, and damaged run-length text.

The same promises as ``test_fuzz_formats.py`` (see ``fuzz_engine``): a clean ``AnnotationsError``
with the project unchanged, or an accepted import that renders and exports. ``SEGSTUDIO_FUZZ_CASES``
sets the cases per format (default 200), ``SEGSTUDIO_FUZZ_SEED`` the first seed.
"""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from fuzz_engine import (
    FuzzTally,
    assert_promises,
    cases_per_format,
    first_seed,
    make_template,
    mutate_bytes,
    run_case,
)
from PIL import Image as PILImage

from annotations.formats import export_project, import_into
from annotations.store import Project

PNG_MODES = ("L", "P", "RGB", "RGBA", "I;16", "I", "1", "LA", "F")


def mutate_mask_png(original: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A mask PNG made hostile: another size, mode or bit depth, foreign values, a degenerate shape
    (0 or 1 pixel wide), or damaged bytes. Returns the file bytes and what was done."""
    kind = rng.randrange(7)
    if kind == 0:
        return mutate_bytes(original, rng)
    array = np.asarray(PILImage.open(io.BytesIO(original)))
    what: str
    if kind == 1:
        height, width = array.shape[:2]
        new_hw = rng.choice(((height + 1, width), (height, max(1, width - 3)), (1, 1), (height * 2, width * 2)))
        array = np.resize(array, (*new_hw, *array.shape[2:]))
        what = f"resized to {new_hw}"
    elif kind == 2:
        array = array.copy()
        flat = array.reshape(-1)
        count = rng.randrange(1, 50)
        flat[[rng.randrange(flat.size) for _ in range(count)]] = rng.choice((1, 7, 128, 200, 254, 255))
        what = f"{count} foreign values"
    elif kind == 3:
        array = array[: rng.choice((0, 1)), :] if rng.random() < 0.5 else array[:, : rng.choice((0, 1))]
        what = f"degenerate shape {array.shape}"
    elif kind == 4:
        array = np.zeros_like(array) if rng.random() < 0.5 else np.full_like(array, array.max() if array.size else 0)
        what = "one value everywhere"
    else:
        what = "mode change"
    mode = rng.choice(PNG_MODES)
    buffer = io.BytesIO()
    try:
        image = PILImage.fromarray(np.ascontiguousarray(array))
        if mode == "I;16":
            image = PILImage.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * rng.choice((1, 257)))
        else:
            image = image.convert(mode)
        image.save(buffer, format="TIFF" if mode == "F" else "PNG")  # F: not PNG data under a .png name
    except (ValueError, OSError, TypeError):
        return mutate_bytes(original, rng)
    return buffer.getvalue(), f"{what}, mode {mode}"


def mutate_rle_text(text: str, rng: random.Random) -> tuple[str, str]:
    """A run-length CSV with runs, ids or columns damaged (negative, huge, odd counts, text, overlap)."""
    lines = text.splitlines()
    if len(lines) < 2:
        return text, "unchanged"
    row = rng.randrange(1, len(lines))
    cells = lines[row].split(",")
    kind = rng.randrange(8)
    if kind == 0 and len(cells) > 1:
        runs = cells[1].split()
        if runs:
            index = rng.randrange(len(runs))
            runs[index] = rng.choice(("-5", "0", "999999999999", "1e9", "x", "", "3.5", "18446744073709551617"))
            cells[1] = " ".join(runs)
    elif kind == 1 and len(cells) > 1:
        cells[1] = cells[1] + " 7"  # an odd number of values
    elif kind == 2 and len(cells) > 1:
        cells[1] = " ".join(reversed(cells[1].split()))  # runs out of order
    elif kind == 3:
        cells[0] = rng.choice(("", "../../etc/passwd", "missing_image", "a" * 300, cells[0] + "\x00"))
    elif kind == 4:
        cells = cells[:1]
    elif kind == 5:
        cells.append(rng.choice(("extra", "", "1")))
    elif kind == 6:
        lines.insert(row, lines[row])  # a duplicated object
    else:
        return text[: rng.randrange(len(text))], "truncated"
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n", f"row {row} kind {kind}"


def _fuzz_files(tmp_path: Path, targets: list[Path], format_name: str, source: Path, tally: FuzzTally,
                **format_options: object) -> None:
    originals = {path: path.read_bytes() for path in targets}
    template = make_template(tmp_path)
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        for path, data in originals.items():
            path.write_bytes(data)
        target = rng.choice(targets)
        data, what = mutate_mask_png(originals[target], rng)
        target.write_bytes(data)
        run_case(tmp_path, template, format_name, source, f"{format_name} case {case} ({target.name}: {what})",
                 tally, export_voc=case % 10 == 0, **format_options)


def test_fuzz_label_png(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    membrane = shared_data / "isbi2012_membrane"
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in sorted(p.name for p in (membrane / "train_label").glob("*.png"))[:2]:
        shutil.copyfile(membrane / "train_image" / name, images / name)
        shutil.copyfile(membrane / "train_label" / name, labels / name)
    table = tmp_path / "classes.txt"
    table.write_text("0 membrane\n")
    tally = FuzzTally()
    _fuzz_files(tmp_path, sorted(labels.glob("*.png")), "label-png", labels, tally, images_root=images,
                class_table=table, background_value=255)
    assert_promises("label-png", tally, capsys, both_outcomes=True)


def test_fuzz_instance_png(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_data / "pennfudan_torchvision_gallery"
    work = tmp_path / "pf"
    work.mkdir()
    for name in ("FudanPed00054.png", "FudanPed00054_mask.png"):
        shutil.copyfile(folder / name, work / name)
    tally = FuzzTally()
    _fuzz_files(tmp_path, [work / "FudanPed00054_mask.png"], "instance-png", work / "FudanPed00054_mask.png", tally,
                class_name="pedestrian")
    assert_promises("instance-png", tally, capsys, both_outcomes=True)


def _nuclei(shared_data: Path, target: Path, count: int) -> list[Path]:
    folders = sorted(p for p in (shared_data / "dsb2018_nuclei40" / "stage1_train").iterdir() if p.is_dir())[:count]
    for folder in folders:
        shutil.copytree(folder, target / folder.name)
    return [target / folder.name for folder in folders]


def test_fuzz_mask_folders(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folders = _nuclei(shared_data, tmp_path / "src", 1)
    masks = sorted((folders[0] / "masks").glob("*.png"))[:6]
    tally = FuzzTally()
    _fuzz_files(tmp_path, masks, "mask-folders", tmp_path / "src", tally)
    assert_promises("mask-folders", tally, capsys, both_outcomes=True)


def test_fuzz_palette_png(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = next((shared_data / "pennfudan_torchvision_gallery").glob("FudanPed00054.png"))
    instance = np.asarray(PILImage.open(photo.with_name("FudanPed00054_mask.png")))
    colours = np.array([(0, 0, 0), (220, 20, 60), (128, 64, 128), (70, 130, 180)], np.uint8)
    rgb = colours[np.clip(instance, 0, 3)]
    images, labels = tmp_path / "images", tmp_path / "colour"
    images.mkdir()
    labels.mkdir()
    shutil.copyfile(photo, images / "f1.png")
    PILImage.fromarray(rgb).save(labels / "f1.png")
    table = tmp_path / "table.txt"
    table.write_text("0 0 0 background\n#dc143c person\n128 64 128 road\n70 130 180 sky\n")
    tally = FuzzTally()
    _fuzz_files(tmp_path, [labels / "f1.png"], "palette-png", labels, tally, images_root=images, color_table=table)
    assert_promises("palette-png", tally, capsys, both_outcomes=True)


def test_fuzz_rle_csv(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folders = _nuclei(shared_data, tmp_path / "src", 1)
    with Project.create(tmp_path / "seed.segproj") as seed:
        import_into(seed, "mask-folders", tmp_path / "src")
        export_project(seed, "rle-csv", tmp_path / "csv")
    csv_path = tmp_path / "csv" / "labels.csv"
    original = csv_path.read_text()
    images_root = folders[0] / "images"
    template = make_template(tmp_path)
    tally = FuzzTally()
    for case in range(cases_per_format()):
        rng = random.Random(first_seed() * 1_000_003 + case)
        text, what = mutate_rle_text(original, rng)
        csv_path.write_text(text)
        run_case(tmp_path, template, "rle-csv", csv_path, f"rle-csv case {case} ({what})", tally,
                 export_voc=case % 10 == 0, images_root=images_root, class_name="nucleus")
    assert_promises("rle-csv", tally, capsys, both_outcomes=True)
