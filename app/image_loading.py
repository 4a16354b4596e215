"""Decoding image files for display and building their resolution pyramid (no Qt here).

Every image becomes an 8-bit display array: grayscale ``(H, W)`` uint8 or colour ``(H, W, 4)``
uint8 in B, G, R, A byte order (Qt's ``Format_RGB32`` on little-endian machines, alpha forced to
255). 16-bit and float images are stretched between robust percentiles; the EXIF orientation is
applied, so the array is the image *as displayed* (the size the project records).

Large images are never drawn from the full-resolution array when zoomed out: :class:`Pyramid`
keeps levels halved in each step (level k is ``2**k`` times smaller), built lazily, so a
20,000 x 15,000 photo opens and pans without resampling hundreds of megabytes per frame.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from annotations import imageio
from annotations.errors import AnnotationsError, ImageFileError
from annotations.imageio import apply_orientation
from annotations.intensity import stretch_to_uint8

# Decoding goes through annotations.imageio (the one image opener): its pixel budget is generous
# (SEGSTUDIO_MAX_PIXELS, 500 MP by default) and a file above it is a clear ImageLoadError.
PYRAMID_MIN_SIDE = 512
SOURCE_KEEP_MAX_BYTES = 128 * 1024 * 1024
"""A non-8-bit source array is kept next to its display pixels (so the status bar can show the
file's own values) only up to this size; above it only the stretched display value is known."""
"""The coarsest pyramid level is the first whose longer side is at most this many pixels."""


class ImageLoadError(AnnotationsError):
    """An image file cannot be decoded for display; the message names the file."""


@dataclass(frozen=True)
class DisplayImage:
    """A decoded image ready to draw.

    ``pixels`` is (H, W) uint8 (grayscale) or (H, W, 4) uint8 B,G,R,A; ``source_dtype`` the dtype
    and ``source_channels`` the channel count of the file; ``orientation`` the EXIF tag applied.
    ``source`` is the file's own (H, W[, C]) array, oriented like ``pixels``, kept only when it is
    not 8-bit and at most :data:`SOURCE_KEEP_MAX_BYTES` (None otherwise); ``source_bgr`` says
    whether its colour channels are in B, G, R order (OpenCV) or R, G, B (Pillow).
    """

    path: Path
    pixels: np.ndarray
    source_dtype: str
    source_channels: int
    orientation: int = 1
    source: np.ndarray | None = None
    source_bgr: bool = True

    @property
    def nbytes(self) -> int:
        """Bytes held by the display pixels and the kept source array."""
        return int(self.pixels.nbytes) + (int(self.source.nbytes) if self.source is not None else 0)

    def value_text(self, row: int, col: int) -> str:
        """The value at pixel (row, col) as the status bar shows it: the file's own value
        (``"3021"``, ``"RGB 60000,0,0"``) when known, else the 8-bit display value prefixed
        with ``"display value"`` for non-8-bit files whose source was too large to keep."""
        if self.source is not None:
            return _format_values(self.source[row, col], self.source_bgr)
        pixel = self.pixels[row, col]
        text = _format_values(pixel, True)
        if self.source_dtype in ("uint8", "bool"):
            return text
        return f"display value {text}" if self.is_gray else f"display {text}"

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) in pixels as displayed."""
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2


def _format_values(pixel: np.ndarray | np.generic, bgr: bool) -> str:
    """``"v"`` for one value (or gray + alpha), ``"RGB r,g,b"`` for colour; ints stay ints,
    floats get 4 significant digits."""
    values = np.atleast_1d(np.asarray(pixel))

    def fmt(value: np.generic) -> str:
        return f"{float(value):.4g}" if np.issubdtype(values.dtype, np.floating) else str(int(value))

    if values.size <= 2:
        return fmt(values[0])
    r, g, b = (values[2], values[1], values[0]) if bgr else (values[0], values[1], values[2])
    return f"RGB {fmt(r)},{fmt(g)},{fmt(b)}"


def exif_orientation(path: Path) -> int:
    """The EXIF orientation tag of ``path`` (1 when absent or unreadable); reads the header only."""
    try:
        return imageio.read_header(path).orientation
    except ImageFileError:
        return 1


__all__ = ["apply_orientation", "decode_image", "decode_preview", "thumbnail", "exif_orientation", "Pyramid",
           "DisplayImage", "ImageLoadError", "to_uint8"]


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Map any numeric (H, W[, C]) array to uint8 for display (the percentile stretch shared with
    the engine: :func:`annotations.intensity.stretch_to_uint8`)."""
    return stretch_to_uint8(array)


def _to_display_channels(array: np.ndarray, bgr: bool) -> np.ndarray:
    """(H, W) gray stays; (H, W, 1) -> gray; 2 channels (gray+alpha) -> gray; 3/4 -> B,G,R,255."""
    if array.ndim == 2:
        return np.ascontiguousarray(array)
    channels = array.shape[2]
    if channels in (1, 2):
        return np.ascontiguousarray(array[:, :, 0])
    if channels == 3:
        code = cv2.COLOR_BGR2BGRA if bgr else cv2.COLOR_RGB2BGRA
        return cv2.cvtColor(np.ascontiguousarray(array), code)
    if channels >= 4:
        rgba = np.ascontiguousarray(array[:, :, :4])
        out = rgba.copy() if bgr else cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
        out[:, :, 3] = 255
        return out
    raise ImageLoadError(f"unsupported channel count {channels}")


def decode_image(path: str | Path) -> DisplayImage:
    """Decode ``path`` for display (EXIF orientation applied, 8-bit, gray or B,G,R,A).

    Decoding is :func:`annotations.imageio.decode` (OpenCV, Pillow as the fallback, pixel
    budget checked from the header first). Raises :class:`ImageLoadError` naming the file when
    it cannot be decoded or is above the pixel budget; never ``MemoryError``.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageLoadError(f"{path}: image file not found")
    try:
        decoded = imageio.decode(path)
        array = decoded.array
        source_dtype = str(array.dtype)
        source_channels = 1 if array.ndim == 2 else int(array.shape[2])
        pixels = _to_display_channels(to_uint8(array), decoded.bgr)
    except ImageFileError as exc:
        raise ImageLoadError(str(exc)) from exc
    except (MemoryError, cv2.error) as exc:
        raise ImageLoadError(f"{path}: cannot decode image for display ({type(exc).__name__}: {exc})") from exc
    keep = array.dtype != np.uint8 and array.nbytes <= SOURCE_KEEP_MAX_BYTES
    return DisplayImage(path, pixels, source_dtype, source_channels, decoded.orientation, array if keep else None, decoded.bgr)


PREVIEW_FACTOR = 8


def decode_preview(path: str | Path) -> DisplayImage | None:
    """A quick 1/8-resolution decode of a JPEG (libjpeg scales while decoding: a 300-megapixel
    photo previews in a fraction of its full decode time), EXIF orientation applied. None for
    other formats or when it fails; the full image is decoded anyway."""
    path = Path(path)
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return None
    try:
        decoded = imageio.decode(path, reduce=PREVIEW_FACTOR)
        pixels = _to_display_channels(to_uint8(decoded.array), decoded.bgr)
    except (ImageFileError, ImageLoadError, MemoryError, cv2.error):
        return None
    channels = 1 if decoded.array.ndim == 2 else int(decoded.array.shape[2])
    return DisplayImage(path, pixels, "uint8", channels, decoded.orientation)


def thumbnail(path: str | Path, max_side: int) -> np.ndarray:
    """A small (h, w, 4) B,G,R,A or (h, w) gray uint8 preview whose longer side is <= max_side.

    JPEGs are decoded at reduced resolution (:func:`annotations.imageio.thumbnail`), so this is
    cheap even for large photos; nothing above the pixel budget is decoded. Raises
    :class:`ImageLoadError` when the file is unreadable or too large.
    """
    path = Path(path)
    try:
        decoded = imageio.thumbnail(path, max_side)
        return _to_display_channels(to_uint8(decoded.array), decoded.bgr)
    except ImageFileError as exc:
        raise ImageLoadError(str(exc)) from exc
    except (MemoryError, cv2.error) as exc:
        raise ImageLoadError(f"{path}: cannot decode image ({type(exc).__name__}: {exc})") from exc


class Pyramid:
    """Resolution levels of a display array, built lazily and thread-safely.

    Level 0 is the array itself; level k is half of level k-1 in each dimension (area
    averaging), down to the first level whose longer side is <= :data:`PYRAMID_MIN_SIDE`.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        self._levels: list[np.ndarray | None] = [pixels]
        longest = max(pixels.shape[0], pixels.shape[1])
        count = 1
        while longest > PYRAMID_MIN_SIDE:
            longest = (longest + 1) // 2
            count += 1
        self._levels += [None] * (count - 1)
        self._lock = threading.Lock()

    @property
    def level_count(self) -> int:
        return len(self._levels)

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) of level 0."""
        base = self._levels[0]
        assert base is not None
        return (int(base.shape[0]), int(base.shape[1]))

    def level_for_scale(self, scale: float) -> int:
        """The coarsest level whose resolution still covers ``scale`` screen pixels per image
        pixel (so drawing only ever shrinks, never magnifies a coarse level)."""
        if scale >= 1.0 or scale <= 0:
            return 0
        return max(0, min(self.level_count - 1, int(math.floor(math.log2(1.0 / scale)))))

    def is_built(self, level: int) -> bool:
        return self._levels[level] is not None

    def level(self, level: int) -> np.ndarray:
        """The array of ``level`` (built now from the level above if needed)."""
        found = self._levels[level]
        if found is not None:
            return found
        with self._lock:
            for index in range(1, level + 1):
                if self._levels[index] is None:
                    above = self._levels[index - 1]
                    assert above is not None
                    size = (max(1, (above.shape[1] + 1) // 2), max(1, (above.shape[0] + 1) // 2))
                    self._levels[index] = np.ascontiguousarray(cv2.resize(above, size, interpolation=cv2.INTER_AREA))
        built = self._levels[level]
        assert built is not None
        return built

    def build_all(self) -> None:
        """Build every level (call from a worker thread after decoding)."""
        self.level(self.level_count - 1)
