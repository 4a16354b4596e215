"""What every exporter and importer shares: options, reports, image selection, seeded splits,
placing image files into a data set, and the label colour palette."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from annotations.errors import FormatError
from annotations.formats.atomic import refuse_protected
from annotations.imageio import decode_pil, read_header
from annotations.model import Image, ImageStatus
from annotations.store import Project

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each image an exporter or importer handles."""

DEFAULT_SPLIT = "train"


@dataclass(frozen=True)
class ExportOptions:
    """Options every exporter understands.

    ``split`` maps split names to fractions of the images (e.g. ``{"val": 0.2}``); the rest goes
    to ``train``. Splits are by image and seeded (``seed``), so the same project and options
    give the same files. ``copy_images`` copies image files into the data set where the format
    can reference them instead (COCO); VOC, Cityscapes and YOLO always carry their images.
    ``workers`` > 1 spreads the COCO annotation encoding over that many processes.
    """

    split: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    only_done: bool = False
    overwrite: bool = False
    copy_images: bool = False
    progress: Progress | None = None
    workers: int = 1


@dataclass
class ExportReport:
    """What an export wrote: image and annotation counts per split, and what it left out."""

    target: Path
    images: dict[str, int] = field(default_factory=dict)
    annotations: int = 0
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        splits = ", ".join(f"{name}: {n}" for name, n in self.images.items())
        extra = f"; {len(self.skipped)} item(s) left out" if self.skipped else ""
        return f"wrote {sum(self.images.values())} images ({splits}), {self.annotations} annotations to {self.target}{extra}"


@dataclass(frozen=True)
class ImportOptions:
    """Options every importer understands.

    ``add_labels``: ``None`` adds unknown labels only when the project has no categories yet (a
    project with a label set refuses unknown labels, which are usually typos); ``True`` always
    adds them; ``False`` never does. ``allow_missing_images`` records images whose file is absent
    (the size must then be in the annotation file). ``allow_duplicates`` stores shapes that an
    image of the project already has (same class and geometry); by default such an import is
    refused, since it is almost always the same source imported twice.
    """

    add_labels: bool | None = None
    allow_missing_images: bool = False
    allow_duplicates: bool = False
    progress: Progress | None = None
    status: ImageStatus | None = None  # set on every imported image (new or matched); None: keep


DEFAULT_EXPORT_OPTIONS = ExportOptions()
"""The default ``options`` argument of every exporter (frozen, so one shared instance is safe)."""
DEFAULT_IMPORT_OPTIONS = ImportOptions()
"""The default ``options`` argument of every importer (frozen, so one shared instance is safe)."""


@dataclass
class ImportReport:
    """What an import stored. ``images_reused`` counts every matched image; of them,
    ``matched_by_resolved_path`` were the same file under another path spelling (a symlink) and
    ``matched_by_name`` had the same relative file name (a copy of the photo)."""

    source: Path
    images_added: int = 0
    images_reused: int = 0
    matched_by_resolved_path: int = 0
    matched_by_name: int = 0
    annotations: int = 0
    categories_added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal."""
        cats = f", {len(self.categories_added)} new categories" if self.categories_added else ""
        extra = f"; {len(self.skipped)} item(s) skipped" if self.skipped else ""
        return (
            f"imported {self.images_added} new and {self.images_reused} existing images"
            + (f" ({self.images_reused - self.matched_by_resolved_path - self.matched_by_name} by path, "
               f"{self.matched_by_resolved_path} by resolved path, {self.matched_by_name} by file name)"
               if self.images_reused else "") + ", "
            f"{self.annotations} annotations{cats} from {self.source}{extra}"
        )


# ---------------------------------------------------------------------------------- selection
NO_FINISHED_IMAGES = "no finished images to export; mark images done or export every image"

def select_images(project: Project, options: ExportOptions) -> list[Image]:
    """The images to export, ordered by id (only finished ones with ``only_done``).

    Raises :class:`FormatError` when ``only_done`` leaves no image (an empty data set is never
    what was meant), before anything is written."""
    images = project.images()
    if options.only_done:
        images = [im for im in images if im.status.is_finished]
        if not images:
            raise FormatError(NO_FINISHED_IMAGES, path=str(project.path))
    return images


def split_images(images: Sequence[Image], fractions: dict[str, float], seed: int = 0) -> dict[str, list[Image]]:
    """Split images by a seeded shuffle: each named split gets ``round(fraction * n)`` images
    (largest remainders), ``train`` the rest. Each split is returned ordered by image id.

    Raises :class:`FormatError` for negative fractions or fractions summing above 1.
    """
    fractions = dict(fractions)
    if not fractions:
        return {DEFAULT_SPLIT: sorted(images, key=lambda im: im.id)}
    if any(f < 0 for f in fractions.values()) or sum(fractions.values()) > 1 + 1e-9:
        raise FormatError(f"split fractions must be >= 0 and sum to at most 1, got {fractions}")
    n = len(images)
    names = [name for name in fractions if name != DEFAULT_SPLIT]
    if DEFAULT_SPLIT in fractions:
        names.append(DEFAULT_SPLIT)
    exact = np.array([fractions[name] * n for name in names], dtype=np.float64)
    counts = np.floor(exact).astype(int)
    budget = min(n, int(round(sum(exact))))
    for index in np.argsort(-(exact - counts), kind="stable")[: max(0, budget - counts.sum())]:
        counts[index] += 1
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [images[i] for i in order]
    result: dict[str, list[Image]] = {}
    start = 0
    for name, count in zip(names, counts):
        result[name] = sorted(shuffled[start : start + count], key=lambda im: im.id)
        start += count
    rest = sorted(shuffled[start:], key=lambda im: im.id)
    if DEFAULT_SPLIT in result:
        result[DEFAULT_SPLIT] = sorted(result[DEFAULT_SPLIT] + rest, key=lambda im: im.id)
    else:
        result = {DEFAULT_SPLIT: rest, **result}
    return result


def parse_split(text: str) -> dict[str, float]:
    """``"val=0.2"`` or ``"val=0.2,test=0.1"`` -> ``{"val": 0.2, "test": 0.1}``."""
    result: dict[str, float] = {}
    for chunk in text.split(","):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not name or not name.replace("_", "").replace("-", "").isalnum() or not 0 <= fraction <= 1:
            raise FormatError(f"bad split {chunk!r}: expected NAME=FRACTION with 0 <= FRACTION <= 1, e.g. val=0.2")
        result[name] = fraction
    return result


def require_image_files(project: Project, images: Iterable[Image]) -> dict[int, Path]:
    """Absolute paths of the images' files; :class:`FormatError` naming the missing ones."""
    paths = {im.id: project.image_path(im) for im in images}
    missing = [f"{p} (image {i})" for i, p in paths.items() if not p.is_file()]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FormatError(f"{len(missing)} image file(s) missing: {', '.join(missing[:5])}{more}", path=str(project.path))
    return paths


def guard_target(project: Project, out: str | os.PathLike[str], files: Iterable[Path] = ()) -> None:
    """Refuse an export target that is or holds the project file, any project image (exported
    or not; ``files`` are checked too), or is, holds or lies inside the project's ``.models``
    folder: replacing it would delete them, whatever ``--overwrite`` says. Raises
    :class:`FormatError` before anything is written."""
    path = project.path
    refuse_protected(out, [path, Path(f"{path}-wal"), Path(f"{path}-shm")], what="the project file")
    images = [project.image_path(im) for im in project.images()]
    refuse_protected(out, [*images, *files], what="images being exported or other project images")
    refuse_protected(out, [], what="the project's models folder", folders=[path.with_name(path.stem + ".models")])


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag of an image file (1 = upright, also when absent); header only."""
    try:
        return read_header(path).orientation
    except FormatError:
        return 1


def place_image(source: Path, destination: Path, *, convert_to: str | None = None) -> None:
    """Copy an image file into a data set. ``convert_to`` (``"jpg"`` or ``"png"``) re-encodes
    when the source has another format (JPEG at quality 95; PNG is lossless).

    Shapes are stored in upright coordinates (the EXIF orientation applied, as the GUI shows the
    image and ``main.py new`` records its size), while COCO/VOC/YOLO readers such as torchvision
    load pixels as stored. A source with an EXIF rotation is therefore written upright (pixels
    rotated, the tag dropped) so that pixels and shapes agree in every reader. Decoding goes
    through :mod:`annotations.imageio` (pixel budget; errors name the file).
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    suffix = source.suffix.lower().lstrip(".")
    same = convert_to is None or suffix == convert_to or (convert_to == "jpg" and suffix == "jpeg")
    rotated = exif_orientation(source) != 1
    if same and not rotated:
        shutil.copyfile(source, destination)
        return
    target_format = convert_to or ("jpg" if suffix in ("jpg", "jpeg") else "png" if suffix == "png" else suffix)
    upright = decode_pil(source)
    try:
        if target_format == "jpg":
            upright.convert("RGB").save(destination, "JPEG", quality=95)
        elif target_format == "png":
            upright.save(destination, "PNG")
        else:
            upright.save(destination)  # the format the destination's suffix names (e.g. tiff)
    except (ValueError, KeyError) as exc:
        raise FormatError(f"cannot write image as {target_format}: {exc}", path=str(source)) from exc
    finally:
        upright.close()


def image_size_hw(path: Path) -> tuple[int, int]:
    """(height, width) as displayed (EXIF orientation applied), read from the image file header.

    Raises :class:`FormatError` naming the file (unreadable, or above the pixel budget)."""
    return read_header(path).size_hw


def report_progress(progress: Progress | None, done: int, total: int) -> None:
    """Call ``progress(done, total)`` when given."""
    if progress is not None:
        progress(done, total)


def hex_color(rgb: Sequence[int]) -> str:
    """(r, g, b) 0..255 -> ``#rrggbb``."""
    r, g, b = (int(v) for v in rgb[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def rgb_of(color: str) -> tuple[int, int, int]:
    """``#rrggbb`` -> (r, g, b); a malformed colour gives grey."""
    try:
        value = color.lstrip("#")
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except (ValueError, IndexError):
        return (128, 128, 128)


def voc_colormap(n: int = 256) -> np.ndarray:
    """The Pascal VOC "bitget" palette as an (n, 3) uint8 array (entry 255 is (224, 224, 192))."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def new_label_color(index: int) -> str:
    """A distinct colour for the ``index``-th label created by an import (VOC palette order)."""
    return hex_color(voc_colormap(256)[1 + index % 254])


def relpath_within(path: Path, root: Path) -> str:
    """POSIX path of ``path`` relative to ``root`` (``path`` must be inside ``root``)."""
    return Path(os.path.relpath(path, root)).as_posix()
