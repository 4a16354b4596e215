"""The three geometry kinds: :class:`Box`, :class:`Polygon` and :class:`Mask`.

Coordinates are continuous pixel coordinates: pixel (row i, col j) covers [j, j+1) x [i, i+1),
an image of size (height, width) spans [0, width] x [0, height]. Shapes are immutable values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from annotations.errors import GeometryError


class GeometryKind(str, Enum):
    """The stored kind of a geometry."""

    BOX = "box"
    POLYGON = "polygon"
    MASK = "mask"


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in ``xyxy`` continuous pixel coordinates (x1 <= x2, y1 <= y2)."""

    x1: float
    y1: float
    x2: float
    y2: float

    kind = GeometryKind.BOX

    def __post_init__(self) -> None:
        values = (self.x1, self.y1, self.x2, self.y2)
        if not all(np.isfinite(v) for v in values):
            raise GeometryError(f"box has a non-finite coordinate: {values}")
        if self.x2 < self.x1 or self.y2 < self.y1:
            raise GeometryError(f"box corners are not ordered (x1 <= x2, y1 <= y2): {values}")

    @classmethod
    def from_xywh(cls, bbox_xywh: tuple[float, float, float, float] | list[float]) -> Box:
        """Build from a COCO ``[x, y, width, height]`` box."""
        x, y, w, h = (float(v) for v in bbox_xywh)
        return cls(x, y, x + w, y + h)

    @classmethod
    def from_corners(cls, xa: float, ya: float, xb: float, yb: float) -> Box:
        """Build from two opposite corners in any order (as drawn by a mouse drag).

        >>> Box.from_corners(10, 2, 4, 8).xyxy
        (4, 2, 10, 8)
        >>> Box(4, 8, 10, 2)
        Traceback (most recent call last):
        ...
        annotations.errors.GeometryError: box corners are not ordered (x1 <= x2, y1 <= y2): (4, 8, 10, 2)
        """
        return cls(min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb))

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        """The COCO ``[x, y, width, height]`` form."""
        return (self.x1, self.y1, self.x2 - self.x1, self.y2 - self.y1)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return self.width * self.height

    def translated(self, dx: float, dy: float) -> Box:
        """The same box moved by (dx, dy) pixels."""
        return Box(self.x1 + dx, self.y1 + dy, self.x2 + dx, self.y2 + dy)


def _as_ring(points: np.ndarray | list[Any] | tuple[Any, ...]) -> np.ndarray:
    ring = np.asarray(points, dtype=np.float64)
    if ring.ndim == 1:
        if ring.size % 2:
            raise GeometryError(f"flat coordinate list has an odd length ({ring.size})")
        ring = ring.reshape(-1, 2)
    if ring.ndim != 2 or ring.shape[1] != 2:
        raise GeometryError(f"a ring must have shape (N, 2), got {ring.shape}")
    if not np.isfinite(ring).all():
        raise GeometryError("a ring has a non-finite coordinate")
    if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]  # rings are stored open; a repeated closing vertex is dropped
    ring = np.ascontiguousarray(ring)
    ring.setflags(write=False)
    return ring


def ring_area(ring_xy: np.ndarray) -> float:
    """Unsigned shoelace area of an open ring of shape (N, 2), in square pixels.

    >>> ring_area(np.array([[0, 0], [4, 0], [4, 3], [0, 3]]))  # either orientation
    12.0
    >>> ring_area(np.array([[0, 0], [0, 3], [4, 3], [4, 0]]))
    12.0
    >>> ring_area(np.array([[0, 0], [2, 2], [4, 4]]))  # collinear: no area
    0.0
    """
    x = ring_xy[:, 0]
    y = ring_xy[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


@dataclass(frozen=True, eq=False)
class PolygonPart:
    """One outer ring with zero or more holes. Rings are (N, 2) float64 arrays of (x, y), open."""

    exterior: np.ndarray
    holes: tuple[np.ndarray, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "exterior", _as_ring(self.exterior))
        object.__setattr__(self, "holes", tuple(_as_ring(h) for h in self.holes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PolygonPart):
            return NotImplemented
        return (
            np.array_equal(self.exterior, other.exterior)
            and len(self.holes) == len(other.holes)
            and all(np.array_equal(a, b) for a, b in zip(self.holes, other.holes))
        )

    def __hash__(self) -> int:
        return hash((self.exterior.tobytes(), tuple(h.tobytes() for h in self.holes)))

    @property
    def area(self) -> float:
        """Shoelace area of the exterior minus the holes, in square pixels."""
        return ring_area(self.exterior) - sum(ring_area(h) for h in self.holes)

    @classmethod
    def unchecked(cls, exterior: np.ndarray, holes: tuple[np.ndarray, ...] = ()) -> PolygonPart:
        """Build without validation or copies, for decoders of data that was validated when
        stored. Rings must already be open, finite, read-only (N, 2) float64 arrays."""
        part = object.__new__(cls)
        object.__setattr__(part, "exterior", exterior)
        object.__setattr__(part, "holes", holes)
        return part


@dataclass(frozen=True, eq=False)
class Polygon:
    """One or more parts (outer rings, each with holes), e.g. an object split by an occluder."""

    parts: tuple[PolygonPart, ...]

    kind = GeometryKind.POLYGON

    def __post_init__(self) -> None:
        parts = tuple(p if isinstance(p, PolygonPart) else PolygonPart(p) for p in self.parts)
        if not parts:
            raise GeometryError("a polygon needs at least one part")
        object.__setattr__(self, "parts", parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Polygon):
            return NotImplemented
        return len(self.parts) == len(other.parts) and all(
            a == b for a, b in zip(self.parts, other.parts)
        )

    def __hash__(self) -> int:
        return hash(self.parts)

    @classmethod
    def unchecked(cls, parts: tuple[PolygonPart, ...]) -> Polygon:
        """Build from already-built parts without validation (see :meth:`PolygonPart.unchecked`)."""
        polygon = object.__new__(cls)
        object.__setattr__(polygon, "parts", parts)
        return polygon

    @classmethod
    def from_points(
        cls, exterior_xy: np.ndarray | list[Any], holes_xy: list[Any] | tuple[Any, ...] = ()
    ) -> Polygon:
        """A one-part polygon from an (N, 2) exterior and optional (M, 2) holes."""
        return cls((PolygonPart(np.asarray(exterior_xy), tuple(np.asarray(h) for h in holes_xy)),))

    @classmethod
    def from_coco(cls, segmentation: list[list[float]]) -> Polygon:
        """From COCO polygons ``[[x1, y1, x2, y2, ...], ...]``: each list is one part, no holes."""
        return cls(tuple(PolygonPart(np.asarray(p, dtype=np.float64)) for p in segmentation))

    def to_coco(self) -> list[list[float]]:
        """COCO flat lists, exteriors only (COCO polygons cannot express holes)."""
        return [[float(v) for v in part.exterior.reshape(-1)] for part in self.parts]

    @property
    def has_holes(self) -> bool:
        return any(part.holes for part in self.parts)

    @property
    def area(self) -> float:
        """Shoelace area (exteriors minus holes), in square pixels."""
        return sum(part.area for part in self.parts)

    @property
    def vertex_count(self) -> int:
        return sum(len(p.exterior) + sum(len(h) for h in p.holes) for p in self.parts)

    def all_points(self) -> np.ndarray:
        """Every vertex of every ring as one (N, 2) array."""
        rings = [r for p in self.parts for r in (p.exterior, *p.holes)]
        return np.concatenate(rings, axis=0)

    def translated(self, dx: float, dy: float) -> Polygon:
        """The same polygon moved by (dx, dy) pixels."""
        shift = np.array([dx, dy])
        return Polygon(
            tuple(PolygonPart(p.exterior + shift, tuple(h + shift for h in p.holes)) for p in self.parts)
        )


@dataclass(frozen=True)
class Mask:
    """A binary mask at full image size as compressed COCO RLE.

    ``size`` is (height, width); ``counts`` is the compressed RLE string as bytes (column-major
    runs, first run counts zeros), exactly what ``pycocotools.mask.encode`` returns.
    """

    size: tuple[int, int]
    counts: bytes = field(repr=False)

    kind = GeometryKind.MASK

    def __post_init__(self) -> None:
        h, w = (int(v) for v in self.size)
        if h <= 0 or w <= 0:
            raise GeometryError(f"mask size must be positive (height, width), got {self.size}")
        object.__setattr__(self, "size", (h, w))
        if isinstance(self.counts, str):
            object.__setattr__(self, "counts", self.counts.encode("ascii"))

    @property
    def rle(self) -> dict[str, Any]:
        """The pycocotools RLE dict ``{"size": [h, w], "counts": bytes}``."""
        return {"size": [self.size[0], self.size[1]], "counts": self.counts}

    def to_coco(self) -> dict[str, Any]:
        """JSON-ready compressed RLE ``{"size": [h, w], "counts": str}``."""
        return {"size": [self.size[0], self.size[1]], "counts": self.counts.decode("ascii")}

    @property
    def area(self) -> float:
        """Pixel count of the mask."""
        from annotations.geometry import rle

        return float(rle.area(self))


Geometry = Box | Polygon | Mask
