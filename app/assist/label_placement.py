"""Where to put captions on the canvas so they do not cover each other.

Each caption belongs to a shape; it is tried at a few places around the shape's bounds (all in
screen pixels, so the answer holds at any zoom) and goes to the first place no caption placed
before it covers. A caption with no free place is left out (zooming in makes room). Greedy, in
the order given: put the captions that matter most first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in screen pixels: left ``x``, top ``y``, ``width``, ``height``."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def overlaps(self, other: Rect) -> bool:
        """True when the two rectangles share area (touching edges do not count)."""
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom


STACK_STEPS = 3
"""Extra places tried above a shape, one caption height apart, after the places around it."""


def candidates(bounds: Rect, width: float, height: float) -> list[Rect]:
    """The places tried for a ``width`` x ``height`` caption of a shape with screen bounds
    ``bounds``, in order: above its top-left corner, below its bottom-left corner, inside its
    top-left corner, right of it, left of it, then stacked higher above it."""
    places = [
        Rect(bounds.x, bounds.y - height, width, height),
        Rect(bounds.x, bounds.bottom, width, height),
        Rect(bounds.x, bounds.y, width, height),
        Rect(bounds.right, bounds.y, width, height),
        Rect(bounds.x - width, bounds.y, width, height),
    ]
    places += [Rect(bounds.x, bounds.y - height * (k + 2), width, height) for k in range(STACK_STEPS)]
    return places


def place_captions(shapes: Sequence[Rect], sizes: Sequence[tuple[float, float]],
                   taken: Sequence[Rect] = ()) -> list[Rect | None]:
    """A rectangle per caption (``sizes``: (width, height) in screen pixels, one per shape of
    ``shapes``), none overlapping another or any of ``taken``; None where no place is free."""
    if len(shapes) != len(sizes):
        raise ValueError(f"{len(shapes)} shapes but {len(sizes)} caption sizes")
    placed: list[Rect] = list(taken)
    out: list[Rect | None] = []
    for bounds, (width, height) in zip(shapes, sizes, strict=True):
        choice = next((r for r in candidates(bounds, width, height) if not any(r.overlaps(p) for p in placed)), None)
        if choice is not None:
            placed.append(choice)
        out.append(choice)
    return out
