"""Checks at the reader boundary: every number an importer takes from a file is checked for type
and range before any geometry is built, so bad input is a :class:`FormatError` naming the file
and the item (``annotations[17].segmentation``), never a crash later in the store, an export or
the GUI.

Limits (module constants): ids within SQLite's signed 64-bit range; image sizes within the
pixel budget of :mod:`annotations.imageio`; coordinates finite and within :data:`MARGIN_FACTOR`
image sizes of the image; at most :data:`MAX_VERTICES` vertices per shape; RLE counts that are
non-negative and add up to height x width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from annotations.errors import FormatError
from annotations.geometry import Box, Mask, Polygon
from annotations.imageio import max_pixels
from annotations.store.project import geometry_problem

MIN_ID = -(2**63)
MAX_ID = 2**63 - 1
"""SQLite stores integers as signed 64-bit values."""
MAX_SIDE = 2**31 - 1
"""The longest image side accepted (pixels), before the pixel budget applies."""
MAX_VERTICES = 200_000
"""Vertices in one shape (all parts together); a labelme circle of radius 1e12 would need 7M."""
MARGIN_FACTOR = 1.0
"""Coordinates may lie this many image widths/heights outside the image (shapes are clipped on
export); anything farther is an error in the file."""
RLE_CHAR_MIN, RLE_CHAR_MAX = 48, 48 + 63
"""The characters of COCO's compressed RLE string (``'0'`` .. ``'o'``)."""


def is_number(value: Any) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_id(value: Any, *, path: str, item: str, field: str = "id") -> int:
    """An integer id within SQLite's 64-bit range; :class:`FormatError` otherwise."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{field} must be an integer, got {type(value).__name__}", path=path, item=item)
    if not MIN_ID <= value <= MAX_ID:
        raise FormatError(f"{field} {value} is outside the 64-bit integer range", path=path, item=item)
    return value


def check_size(width: Any, height: Any, *, path: str, item: str) -> tuple[int, int]:
    """(height, width) of an image: positive integers whose product is within the pixel budget
    (:func:`annotations.imageio.max_pixels`)."""
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise FormatError(f"image {name} must be an integer, got {value!r}"[:200], path=path, item=item)
        if not 1 <= value <= MAX_SIDE:
            raise FormatError(f"image {name} {value} is not in 1..{MAX_SIDE}"[:200], path=path, item=item)
    budget = max_pixels()
    if width * height > budget:
        raise FormatError(f"image size {width}x{height} (width x height) is above the pixel budget of {budget:,} "
                          "pixels (SEGSTUDIO_MAX_PIXELS)", path=path, item=item)
    return (height, width)


def check_points(points_xy: np.ndarray, size_hw: tuple[int, int], *, path: str, item: str) -> np.ndarray:
    """An (N, 2) float array of x, y checked: finite, at most :data:`MAX_VERTICES` rows, within
    the margin around the (height, width) image. Returns it."""
    try:
        points_xy = np.asarray(points_xy, dtype=np.float64)
    except (OverflowError, ValueError, TypeError) as exc:
        raise FormatError(f"points must be a list of [x, y] numbers: {exc}", path=path, item=item) from exc
    if points_xy.ndim != 2 or points_xy.shape[1] != 2:
        raise FormatError(f"points must be a list of [x, y] pairs, got shape {points_xy.shape}", path=path, item=item)
    if len(points_xy) > MAX_VERTICES:
        raise FormatError(f"{len(points_xy)} vertices; at most {MAX_VERTICES} per shape", path=path, item=item)
    if not np.isfinite(points_xy).all():
        raise FormatError("a coordinate is not finite (NaN or infinity)", path=path, item=item)
    check_extent(points_xy, size_hw, path=path, item=item)
    return points_xy


def check_extent(points_xy: np.ndarray, size_hw: tuple[int, int], *, path: str, item: str) -> None:
    """Refuse coordinates farther than the margin outside the (height, width) image."""
    if points_xy.size == 0:
        return
    height, width = size_hw
    mx, my = MARGIN_FACTOR * width, MARGIN_FACTOR * height
    low = points_xy.min(axis=0)
    high = points_xy.max(axis=0)
    if low[0] < -mx or low[1] < -my or high[0] > width + mx or high[1] > height + my:
        raise FormatError(
            f"coordinates reach ({low[0]:.6g}, {low[1]:.6g})..({high[0]:.6g}, {high[1]:.6g}) (x, y), far outside the "
            f"{width}x{height} (width x height) image", path=path, item=item,
        )


def check_numbers(values: Any, count: int | None, *, path: str, item: str, what: str) -> list[float]:
    """A list of finite numbers (of length ``count`` when given) as floats."""
    if not isinstance(values, list) or not all(is_number(v) for v in values):
        raise FormatError(f"{what} must be a list of numbers", path=path, item=item)
    if count is not None and len(values) != count:
        raise FormatError(f"{what} must hold {count} numbers, got {len(values)}", path=path, item=item)
    try:
        floats = [float(v) for v in values]
    except OverflowError as exc:
        raise FormatError(f"{what} holds a number too large for a float", path=path, item=item) from exc
    if not all(math.isfinite(v) for v in floats):
        raise FormatError(f"{what} holds a number that is not finite", path=path, item=item)
    return floats


def decode_rle_counts(counts: bytes) -> list[int]:
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``, in Python,
    so that garbage never reaches the C decoder). Raises ``ValueError`` for a malformed string."""
    result: list[int] = []
    position = 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(counts):
                raise ValueError("truncated RLE string")
            char = counts[position]
            if not RLE_CHAR_MIN <= char <= RLE_CHAR_MAX:
                raise ValueError(f"character {chr(char)!r} is not an RLE character")
            c = char - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            position += 1
            shift += 1
            if shift > 13:
                raise ValueError("an RLE run is longer than 64 bits")
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(result) > 2:
            value += result[-2]
        result.append(value)
    return result


def check_rle(segmentation: dict[str, Any], size_hw: tuple[int, int], *, path: str, item: str) -> None:
    """A COCO RLE object whose ``size`` is the image's (height, width) and whose counts are
    non-negative and add up to height x width (compressed or not)."""
    size = segmentation.get("size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in size)):
        raise FormatError(f"RLE 'size' must be [height, width] integers, got {size!r}"[:200], path=path, item=item)
    if tuple(size) != tuple(size_hw):
        raise FormatError(f"RLE size {list(size)} (height, width) differs from the image size {list(size_hw)}",
                          path=path, item=item)
    counts = segmentation.get("counts")
    total = size_hw[0] * size_hw[1]
    if isinstance(counts, list):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in counts):
            raise FormatError("RLE counts must be integers", path=path, item=item)
        runs = counts
    elif isinstance(counts, (str, bytes)):
        try:
            raw = counts.encode("ascii") if isinstance(counts, str) else counts
            runs = decode_rle_counts(raw)
        except (UnicodeEncodeError, ValueError) as exc:
            raise FormatError(f"RLE counts string is malformed: {exc}", path=path, item=item) from exc
    else:
        raise FormatError(f"RLE counts must be a list or a string, got {type(counts).__name__}", path=path, item=item)
    if any(v < 0 for v in runs):
        raise FormatError("RLE counts hold a negative run", path=path, item=item)
    if sum(runs) != total:
        raise FormatError(f"RLE counts add up to {sum(runs)} pixels, not height x width = {total}", path=path, item=item)


def vertex_count(geometry: Any) -> int:
    """Vertices of a polygon (all rings), 4 for a box, 0 for a mask."""
    if isinstance(geometry, Polygon):
        return sum(len(p.exterior) + sum(len(h) for h in p.holes) for p in geometry.parts)
    if isinstance(geometry, Box):
        return 4
    return 0


def check_geometry(geometry: Any, size_hw: tuple[int, int], *, path: str, item: str) -> None:
    """What the store would refuse, refused here with the source file and item named:
    degenerate polygons, empty boxes or boxes outside the image, a mask of another size; and
    too many vertices or coordinates far outside the image."""
    if vertex_count(geometry) > MAX_VERTICES:
        raise FormatError(f"{vertex_count(geometry)} vertices; at most {MAX_VERTICES} per shape", path=path, item=item)
    if isinstance(geometry, Polygon):
        for part in geometry.parts:
            check_points(part.exterior, size_hw, path=path, item=item)
    elif isinstance(geometry, Box):
        check_points(np.array([[geometry.x1, geometry.y1], [geometry.x2, geometry.y2]]), size_hw, path=path, item=item)
    elif isinstance(geometry, Mask) and tuple(geometry.size) != tuple(size_hw):
        raise FormatError(f"mask size {tuple(geometry.size)} (height, width) differs from the image size {tuple(size_hw)}",
                          path=path, item=item)
    problem = geometry_problem(geometry, size_hw)
    if problem is not None:
        raise FormatError(problem, path=path, item=item)


def check_header_size(declared_hw: tuple[int, int], actual_hw: tuple[int, int], *, path: str, item: str) -> None:
    """Refuse a declared (height, width) that differs from the image file's (as displayed)."""
    if tuple(declared_hw) != tuple(actual_hw):
        raise FormatError(
            f"the file says the image is {declared_hw[1]}x{declared_hw[0]} (width x height), the image file is "
            f"{actual_hw[1]}x{actual_hw[0]}", path=path, item=item,
        )


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """True when nested lists/objects go deeper than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False


def text_lines(data: bytes, *, path: str) -> Sequence[str]:
    """The lines of a UTF-8 text file (BOM allowed); :class:`FormatError` naming the file and the
    byte offset when it is not UTF-8."""
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})", path=path) from exc
