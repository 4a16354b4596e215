"""The one image opener: header (size as displayed, EXIF orientation), decode, reduced decode.

Every part of SegStudio that reads image pixels or sizes goes through here: the store (sizes
for ``main.py new``), the formats (sizes, labelme embedded images and mask patches, VOC PNGs,
copies into a data set), the GUI (display, thumbnails) and the engine (pre-label, training).

A pixel budget guards every decode: an image whose header announces more than
:func:`max_pixels` pixels (default :data:`DEFAULT_MAX_PIXELS`, 500 megapixels: a 20,000 x
15,000 photo is fine; override with the ``SEGSTUDIO_MAX_PIXELS`` environment variable) is
refused with :class:`~annotations.errors.ImageTooLargeError` before any pixel is decoded, so a
300 KB "decompression bomb" PNG of 50,000 x 50,000 never allocates gigabytes. Every failure is
an :class:`~annotations.errors.ImageFileError` naming the file; ``PIL.DecompressionBombError``,
``cv2.error`` and ``MemoryError`` never escape.

Arrays are numpy: (H, W) gray or (H, W, C) colour, in the file's own dtype (8/16-bit, float),
colour channels in B, G, R order when ``DecodedImage.bgr`` (OpenCV) else R, G, B (Pillow).
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Union

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from annotations.errors import ImageFileError, ImageTooLargeError

DEFAULT_MAX_PIXELS = 500_000_000
"""Default pixel budget (width x height as stored): 500 MP, above any camera's photo."""

MAX_PIXELS_ENV = "SEGSTUDIO_MAX_PIXELS"
EXIF_ORIENTATION_TAG = 0x0112
_TRANSPOSED = frozenset({5, 6, 7, 8})  # orientations that swap width and height
_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
_PIL_LOCK = threading.Lock()

ImageSource = Union[str, "os.PathLike[str]", bytes]
"""A file path, or the encoded bytes of an image (labelme ``imageData``)."""


def max_pixels() -> int:
    """The pixel budget in force: ``SEGSTUDIO_MAX_PIXELS`` when set to a positive integer, else
    :data:`DEFAULT_MAX_PIXELS`."""
    text = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if text:
        try:
            value = int(float(text))
        except ValueError:
            value = 0
        if value > 0:
            return value
    return DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class ImageHeader:
    """What the header of an image says, without decoding pixels.

    ``width``/``height`` are the size as displayed (EXIF orientation applied: a photo stored
    4000 x 3000 with orientation 6 is 3000 wide and 4000 high); ``orientation`` is the EXIF tag
    (1 when absent or invalid); ``format`` Pillow's format name (``"JPEG"``, ``"PNG"``, ...).
    """

    name: str
    width: int
    height: int
    orientation: int = 1
    format: str = ""
    mode: str = ""

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) in pixels, as displayed."""
        return (self.height, self.width)

    @property
    def pixels(self) -> int:
        """width x height."""
        return self.width * self.height


@dataclass(frozen=True)
class DecodedImage:
    """Decoded pixels, upright (EXIF orientation applied).

    ``array``: (H, W) or (H, W, C) in the file's dtype; ``bgr``: colour channels are B, G, R
    (OpenCV) rather than R, G, B (Pillow); ``orientation``: the EXIF tag that was applied;
    ``reduction``: 1 for full resolution, 2/4/8 when decoded reduced (each side divided).
    """

    array: np.ndarray
    bgr: bool
    orientation: int = 1
    reduction: int = 1

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) of ``array``."""
        return (int(self.array.shape[0]), int(self.array.shape[1]))


def _name(source: ImageSource, name: str | None) -> str:
    if name is not None:
        return name
    return "<image bytes>" if isinstance(source, (bytes, bytearray)) else str(source)


class _Opened:
    """A Pillow image opened under the budget (context manager)."""

    def __init__(self, source: ImageSource, name: str, budget: int) -> None:
        self.source = source
        self.name = name
        self.budget = budget
        self.image: PILImage.Image | None = None

    def __enter__(self) -> PILImage.Image:
        with _PIL_LOCK:
            # Pillow refuses above 2 x MAX_IMAGE_PIXELS and warns above it; our own check below
            # is the real guard, so Pillow's limit is lifted to the budget (never to None).
            if PILImage.MAX_IMAGE_PIXELS is None or PILImage.MAX_IMAGE_PIXELS < self.budget:
                PILImage.MAX_IMAGE_PIXELS = self.budget
        target = io.BytesIO(self.source) if isinstance(self.source, (bytes, bytearray)) else self.source
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
                self.image = PILImage.open(target)
        except PILImage.DecompressionBombError as exc:
            raise ImageTooLargeError(f"image is larger than the pixel budget of {self.budget:,} pixels ({exc}); "
                                     f"raise {MAX_PIXELS_ENV} to open it", path=self.name) from exc
        except FileNotFoundError as exc:
            raise ImageFileError("image file not found", path=self.name) from exc
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
            raise ImageFileError(f"not a readable image ({exc})", path=self.name) from exc
        width, height = self.image.size
        _check_budget(int(width), int(height), self.budget, self.name)
        return self.image

    def __exit__(self, *exc: object) -> None:
        if self.image is not None:
            self.image.close()


def _check_budget(width: int, height: int, budget: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise ImageFileError(f"image has an empty size {width}x{height} (width x height)", path=name)
    if width * height > budget:
        raise ImageTooLargeError(
            f"image is {width}x{height} (width x height) = {width * height:,} pixels, above the pixel budget of "
            f"{budget:,}; raise {MAX_PIXELS_ENV} to open it", path=name,
        )


def _orientation_of(image: PILImage.Image) -> int:
    # The base-class getexif reads only what the header parse stored (PNG's override would
    # decode the whole image to look for a late eXIf chunk).
    try:
        value = int(PILImage.Image.getexif(image).get(EXIF_ORIENTATION_TAG, 1) or 1)
    except (OSError, ValueError, SyntaxError, TypeError, OverflowError):
        return 1
    return value if 1 <= value <= 8 else 1


def read_header(source: ImageSource, *, budget: int | None = None, name: str | None = None) -> ImageHeader:
    """Size as displayed, orientation and format of an image, from its header only.

    Raises :class:`ImageFileError` (naming the file) when it is missing or not an image, and
    :class:`ImageTooLargeError` above the pixel budget (``budget`` or :func:`max_pixels`)."""
    label = _name(source, name)
    limit = budget if budget is not None else max_pixels()
    with _Opened(source, label, limit) as image:
        width, height = (int(v) for v in image.size)
        orientation = _orientation_of(image)
        fmt, mode = image.format or "", image.mode
    if orientation in _TRANSPOSED:
        width, height = height, width
    return ImageHeader(label, width, height, orientation, fmt, mode)


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Transform an (H, W[, C]) array as EXIF ``orientation`` (1-8) says, so it reads upright."""
    if orientation == 2:
        array = array[:, ::-1]
    elif orientation == 3:
        array = array[::-1, ::-1]
    elif orientation == 4:
        array = array[::-1]
    elif orientation == 5:
        array = np.swapaxes(array, 0, 1)
    elif orientation == 6:
        array = np.rot90(array, -1)
    elif orientation == 7:
        array = np.rot90(array, 1)[::-1, ::-1]
    elif orientation == 8:
        array = np.rot90(array, 1)
    return np.ascontiguousarray(array)


_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def _raw_bytes(source: ImageSource, label: str) -> np.ndarray:
    if isinstance(source, (bytes, bytearray)):
        return np.frombuffer(bytes(source), dtype=np.uint8)
    try:
        return np.fromfile(str(source), dtype=np.uint8)  # non-ASCII paths work (unlike cv2.imread)
    except FileNotFoundError as exc:
        raise ImageFileError("image file not found", path=label) from exc
    except (OSError, MemoryError) as exc:
        raise ImageFileError(f"cannot read the file ({exc})", path=label) from exc


def decode(source: ImageSource, *, reduce: int = 1, budget: int | None = None, name: str | None = None) -> DecodedImage:
    """Decode an image upright (EXIF orientation applied), in its own dtype and channel count.

    OpenCV decodes (fast, 16-bit aware); Pillow is the fallback for what OpenCV cannot read.
    ``reduce`` 2, 4 or 8 decodes a JPEG at that fraction of each side (libjpeg scales while
    decoding); other formats are then decoded in full and shrunk by area averaging. The header
    is checked against the pixel budget first. Raises :class:`ImageFileError` naming the file
    (:class:`ImageTooLargeError` above the budget)."""
    label = _name(source, name)
    limit = budget if budget is not None else max_pixels()
    header = read_header(source, budget=limit, name=label)
    data = _raw_bytes(source, label)
    is_jpeg = header.format == "JPEG"
    try:
        if reduce in _REDUCED_FLAGS and is_jpeg:
            array = cv2.imdecode(data, _REDUCED_FLAGS[reduce] | cv2.IMREAD_IGNORE_ORIENTATION)
            if array is not None and array.size:
                return DecodedImage(apply_orientation(array, header.orientation), True, header.orientation, reduce)
        array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except cv2.error:
        array = None
    except MemoryError as exc:
        raise ImageFileError(f"not enough memory to decode the image ({header.width}x{header.height})", path=label) from exc
    bgr = True
    if array is None or array.size == 0 or array.dtype == np.int8 or array.dtype == np.int16:
        array, bgr = _decode_with_pillow(source, label, limit)
        orientation_to_apply = 1  # exif_transpose already applied it
    else:
        orientation_to_apply = header.orientation
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("="))
    array = apply_orientation(array, orientation_to_apply)
    if array.shape[0] != header.height or array.shape[1] != header.width:
        # e.g. a multi-frame file decoded differently: trust the decoded pixels, but keep the budget
        _check_budget(int(array.shape[1]), int(array.shape[0]), limit, label)
    if reduce > 1:
        array = _shrink(array, reduce)
    return DecodedImage(array, bgr, header.orientation, max(1, reduce))


def _shrink(array: np.ndarray, factor: int) -> np.ndarray:
    height, width = array.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    try:
        return np.ascontiguousarray(cv2.resize(array, size, interpolation=cv2.INTER_AREA))
    except cv2.error:
        return np.ascontiguousarray(array[::factor, ::factor])


def _decode_with_pillow(source: ImageSource, label: str, budget: int) -> tuple[np.ndarray, bool]:
    try:
        with _Opened(source, label, budget) as image:
            upright = ImageOps.exif_transpose(image)
            if upright.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                upright = upright.convert("RGBA" if "A" in upright.mode or upright.mode == "P" else "RGB")
            elif upright.mode == "LA":
                upright = upright.convert("L")
            array = np.asarray(upright)
    except ImageFileError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError) as exc:
        raise ImageFileError(f"cannot decode image ({exc})", path=label) from exc
    if array.size == 0:
        raise ImageFileError("image decodes to no pixels", path=label)
    return array, False


def decode_pil(source: ImageSource, *, budget: int | None = None, name: str | None = None,
               upright: bool = True) -> PILImage.Image:
    """The image as a loaded Pillow image (a copy detached from the file), EXIF orientation
    applied when ``upright``; for callers that work in Pillow (mask patches, palette PNGs,
    re-encoding into a data set). Same budget and errors as :func:`decode`."""
    label = _name(source, name)
    limit = budget if budget is not None else max_pixels()
    try:
        with _Opened(source, label, limit) as image:
            result = ImageOps.exif_transpose(image) if upright else image.copy()
            result.load()
            return result
    except ImageFileError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError) as exc:
        raise ImageFileError(f"cannot decode image ({exc})", path=label) from exc


def thumbnail(source: ImageSource, max_side: int, *, budget: int | None = None, name: str | None = None) -> DecodedImage:
    """A reduced decode whose longer side is at most ``max_side`` pixels (upright).

    JPEGs are decoded at 1/2, 1/4 or 1/8 resolution while decoding (cheap even for a 300 MP
    photo); other formats are decoded in full (within the budget) and shrunk by area averaging."""
    header = read_header(source, budget=budget, name=name)
    longest = max(header.width, header.height)
    reduce = 1
    if header.format == "JPEG":
        for factor in (8, 4, 2):
            if longest / factor >= max_side:
                reduce = factor
                break
    decoded = decode(source, reduce=reduce, budget=budget, name=name)
    array = decoded.array
    height, width = array.shape[:2]
    factor = max(height, width) / float(max(1, max_side))
    if factor > 1:
        size = (max(1, round(width / factor)), max(1, round(height / factor)))
        try:
            array = np.ascontiguousarray(cv2.resize(array, size, interpolation=cv2.INTER_AREA))
        except cv2.error as exc:
            raise ImageFileError(f"cannot shrink image ({exc})", path=_name(source, name)) from exc
    return DecodedImage(array, decoded.bgr, decoded.orientation, decoded.reduction)
