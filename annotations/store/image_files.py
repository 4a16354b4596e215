"""Finding image files in a folder and reading their sizes without decoding pixels."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from annotations.errors import FormatError
from annotations.imageio import read_header

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
"""File name endings (lower case) treated as images."""



@dataclass(frozen=True)
class ImageFileInfo:
    """What :func:`read_image_info` learns from a file header.

    ``width``/``height`` are the size as displayed, i.e. after applying the EXIF orientation
    (a photo stored 4000x3000 with orientation 6 is 3000 wide and 4000 high);
    ``orientation`` is the EXIF orientation tag (1 when absent).
    """

    path: Path
    width: int
    height: int
    orientation: int = 1

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) in pixels, as displayed."""
        return (self.height, self.width)


def find_image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every image file under ``folder`` (recursive, sorted, hidden files and folders skipped,
    symbolic links to folders not followed). Raises :class:`FormatError` if ``folder`` is not a
    folder."""
    root = Path(folder)
    if not root.is_dir():
        raise FormatError("images folder does not exist" if not root.exists() else "not a folder", path=str(root))
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                found.append(Path(dirpath) / name)
    return found


def read_image_info(path: str | os.PathLike[str]) -> ImageFileInfo:
    """Size (as displayed, EXIF orientation applied) and orientation of an image file.

    Only the header is read, pixels are not decoded (:func:`annotations.imageio.read_header`).
    Raises :class:`FormatError` naming the file when it is not a readable image or has more
    pixels than the budget (:class:`~annotations.errors.ImageTooLargeError`).
    """
    path = Path(path)
    header = read_header(path)  # ImageFileError / ImageTooLargeError (FormatError) naming the file
    return ImageFileInfo(path, header.width, header.height, header.orientation)
