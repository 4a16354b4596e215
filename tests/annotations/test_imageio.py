"""The one image opener (annotations.imageio): pixel budget, header-only sizes, reduced decoding,
and its use by the store, the GUI loader and the engine reader (issue 17)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from annotations import imageio
from annotations.errors import ImageFileError, ImageTooLargeError


def header_only_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header announces ``width`` x ``height`` with almost no pixel data: the header
    of a decompression bomb, or of a legitimate huge scan (only headers are read for sizes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_budget_refuses_a_bomb_before_decoding(tmp_path: Path) -> None:
    bomb = header_only_png(tmp_path / "bomb.png", 50_000, 50_000)
    for call in (imageio.read_header, imageio.decode, lambda p: imageio.thumbnail(p, 128), imageio.decode_pil):
        with pytest.raises(ImageTooLargeError, match="bomb.png.*pixel budget"):
            call(bomb)


def test_a_300_megapixel_photo_is_within_the_default_budget(tmp_path: Path) -> None:
    big = header_only_png(tmp_path / "big.png", 20_000, 15_000)
    header = imageio.read_header(big)
    assert header.size_hw == (15_000, 20_000)
    assert imageio.DEFAULT_MAX_PIXELS >= 300_000_000


def test_budget_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.png"
    PILImage.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setenv(imageio.MAX_PIXELS_ENV, "1000")
    with pytest.raises(ImageTooLargeError):
        imageio.decode(path)
    monkeypatch.setenv(imageio.MAX_PIXELS_ENV, "2000")
    assert imageio.decode(path).size_hw == (40, 50)


def test_garbage_and_missing_files_are_image_file_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "g.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    for call in (imageio.read_header, imageio.decode):
        with pytest.raises(ImageFileError, match="g.png"):
            call(garbage)
        with pytest.raises(ImageFileError, match="not found"):
            call(tmp_path / "missing.png")


def test_exif_orientation_applied_and_jpeg_reduced_decoding(tmp_path: Path) -> None:
    pixels = np.zeros((60, 80, 3), np.uint8)
    pixels[:10, :20] = 255  # a mark in the top-left corner as stored
    exif = PILImage.Exif()
    exif[imageio.EXIF_ORIENTATION_TAG] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "r.jpg"
    PILImage.fromarray(pixels).save(path, exif=exif, quality=95)
    header = imageio.read_header(path)
    assert (header.width, header.height, header.orientation) == (60, 80, 6)
    full = imageio.decode(path)
    assert full.size_hw == (80, 60) and full.array[:20, -10:].mean() > 200  # mark now top-right
    reduced = imageio.decode(path, reduce=4)
    assert reduced.reduction == 4 and reduced.size_hw == (20, 15)
    thumb = imageio.thumbnail(path, 30)
    assert max(thumb.size_hw) <= 30


def test_no_module_lifts_pillows_limit_to_none() -> None:
    root = Path(__file__).resolve().parents[2]
    offenders = [p for folder in ("annotations", "app", "engine", "cli") for p in (root / folder).rglob("*.py")
                 if "MAX_IMAGE_PIXELS = None" in p.read_text(encoding="utf-8")]
    assert offenders == []
