"""A compact binary encoding of geometries for the project file (one BLOB per shape).

Reading 200,000 polygons from JSON text costs seconds; this layout decodes a polygon into
numpy views of the blob (no parsing, no copies). Little-endian, 8-byte aligned:

- header (8 bytes): ``uint8 kind`` (1 box, 2 polygon, 3 mask), ``uint8 format version`` (1),
  ``uint16`` zero, ``uint32 n``.
- box: ``n = 0``, then x1, y1, x2, y2 as float64.
- polygon: ``n`` = number of rings; ``n`` int32 ring lengths in vertices, positive for an
  exterior (it starts a new part), negative for a hole of the part before; padded to 8 bytes;
  then every ring's (x, y) float64 pairs in that order.
- mask: ``n = 0``, then ``uint32 height, uint32 width`` and the compressed COCO RLE counts.
"""

from __future__ import annotations

import json
import struct
from itertools import accumulate
from typing import cast

import numpy as np

from annotations.errors import CorruptProjectError, GeometryError
from annotations.geometry import Box, Geometry, Mask, Polygon, PolygonPart
from annotations.model.codec import geometry_from_json

KIND_BOX, KIND_POLYGON, KIND_MASK = 1, 2, 3
KIND_NAMES = {KIND_BOX: "box", KIND_POLYGON: "polygon", KIND_MASK: "mask"}
FORMAT_VERSION = 1

_HEADER = struct.Struct("<BBHI")
_BOX = struct.Struct("<BBHI4d")
_MASK_SIZE = struct.Struct("<II")
_F8 = np.dtype("<f8")


def encode_geometry(geometry: Geometry) -> bytes:
    """The blob of a geometry (see the module docstring for the layout)."""
    if isinstance(geometry, Polygon):
        lengths: list[int] = []
        rings: list[np.ndarray] = []
        for part in geometry.parts:
            if len(part.exterior) == 0 or any(len(h) == 0 for h in part.holes):
                raise GeometryError("a polygon ring has no vertices")
            lengths.append(len(part.exterior))
            rings.append(part.exterior)
            for hole in part.holes:
                lengths.append(-len(hole))
                rings.append(hole)
        count = len(lengths)
        if count % 2:
            lengths.append(0)  # pad the length table to 8 bytes
        header = _HEADER.pack(KIND_POLYGON, FORMAT_VERSION, 0, count) + struct.pack(f"<{len(lengths)}i", *lengths)
        coords = rings[0] if len(rings) == 1 else np.concatenate(rings, axis=0)
        return header + np.ascontiguousarray(coords, dtype=_F8).tobytes()
    if isinstance(geometry, Box):
        return _BOX.pack(KIND_BOX, FORMAT_VERSION, 0, 0, geometry.x1, geometry.y1, geometry.x2, geometry.y2)
    if isinstance(geometry, Mask):
        return (
            _HEADER.pack(KIND_MASK, FORMAT_VERSION, 0, 0)
            + _MASK_SIZE.pack(geometry.size[0], geometry.size[1])
            + geometry.counts
        )
    raise GeometryError(f"not a geometry: {type(geometry).__name__}")


def decode_geometry(blob: bytes | str) -> Geometry:
    """Inverse of :func:`encode_geometry`. A ``str`` is read as the JSON text of schema 1.

    Polygon rings are read-only views of ``blob``. Raises :class:`CorruptProjectError` for a
    blob that is not a geometry.
    """
    if isinstance(blob, str):
        return geometry_from_json(json.loads(blob))
    try:
        kind, version, _reserved, count = _HEADER.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise ValueError(f"unknown geometry format version {version}")
        if kind == KIND_POLYGON:
            padded = count + (count & 1)
            coords = np.frombuffer(blob, dtype=_F8, offset=8 + 4 * padded).reshape(-1, 2)
            if count == 1:
                return Polygon.unchecked((PolygonPart.unchecked(coords),))
            lengths = struct.unpack_from(f"<{count}i", blob, 8)
            return _polygon_from_rings(coords, lengths)
        if kind == KIND_BOX:
            return Box(*_BOX.unpack_from(blob)[4:])
        if kind == KIND_MASK:
            height, width = _MASK_SIZE.unpack_from(blob, 8)
            return Mask((height, width), bytes(blob[16:]))
        raise ValueError(f"unknown geometry kind {kind}")
    except (struct.error, ValueError, TypeError) as exc:
        raise CorruptProjectError(f"damaged geometry in project file: {exc}") from exc


def geometry_kind(blob: bytes | str) -> str:
    """``box``, ``polygon`` or ``mask`` without decoding the coordinates."""
    if isinstance(blob, str):
        return str(json.loads(blob).get("type"))
    return KIND_NAMES.get(blob[0], "unknown") if blob else "unknown"


def _polygon_from_rings(coords: np.ndarray, lengths: tuple[int, ...]) -> Polygon:
    if sum(abs(n) for n in lengths) != len(coords) or not lengths or lengths[0] <= 0:
        raise ValueError("polygon ring table does not match its coordinates")
    parts: list[PolygonPart] = []
    exterior: np.ndarray | None = None
    holes: list[np.ndarray] = []
    start = 0
    for n in lengths:
        ring = coords[start : start + abs(n)]
        start += abs(n)
        if n > 0:
            if exterior is not None:
                parts.append(PolygonPart.unchecked(exterior, tuple(holes)))
            exterior, holes = ring, []
        else:
            holes.append(ring)
    assert exterior is not None
    parts.append(PolygonPart.unchecked(exterior, tuple(holes)))
    return Polygon.unchecked(tuple(parts))


_SINGLE_RING = _HEADER.pack(KIND_POLYGON, FORMAT_VERSION, 0, 1)


def decode_geometries(blobs: list[bytes | str]) -> list[Geometry]:
    """Decode many blobs at once (same result as :func:`decode_geometry` on each).

    One-ring polygons (the common case) are decoded in bulk: their blobs are joined into one
    buffer read as (x, y) pairs — a header takes exactly one pair — and each ring is a
    read-only view of it. The rings of a bulk load therefore share one buffer.
    """
    single = _SINGLE_RING
    is_bulk = [isinstance(b, bytes) and b.startswith(single) and not len(b) & 15 for b in blobs]
    if not all(is_bulk):
        out: list[Geometry] = [None if bulk else decode_geometry(b) for b, bulk in zip(blobs, is_bulk)]  # type: ignore[misc]  # None: bulk slots, filled below
        bulk_blobs = cast("list[bytes]", [b for b, bulk in zip(blobs, is_bulk) if bulk])  # is_bulk: bytes only
    else:
        out = []
        bulk_blobs = cast("list[bytes]", blobs)  # all bulk: bytes only
    if not bulk_blobs:
        return out
    pairs = np.frombuffer(b"".join(bulk_blobs), dtype=_F8).reshape(-1, 2)
    ends = list(accumulate(len(b) >> 4 for b in bulk_blobs))
    rings = [pairs[start + 1 : end] for start, end in zip([0, *ends[:-1]], ends)]
    # PolygonPart.unchecked / Polygon.unchecked inlined: this runs once per shape.
    new = object.__new__
    part_cls, polygon_cls = PolygonPart, Polygon
    polygons: list[Geometry] = []
    append = polygons.append
    for ring in rings:
        part = new(part_cls)
        fields = part.__dict__
        fields["exterior"] = ring
        fields["holes"] = ()
        polygon = new(polygon_cls)
        polygon.__dict__["parts"] = (part,)
        append(polygon)
    if not out:
        return polygons
    it = iter(polygons)
    return [next(it) if bulk else g for g, bulk in zip(out, is_bulk)]
