"""The project's image list as the workspace sees it, read lazily so a project of 100,000 images
opens, filters and steps without reading 100,000 rows into Python objects.

:class:`ImageTable` holds the id and status of every image (two numpy arrays, one SQL scan:
``Project.image_index``); the other columns (path, size, attributes) are read a page of
:data:`PAGE_ROWS` rows at a time when a row is asked for, and the pages are kept in a small LRU.
The session keeps the statuses current (:meth:`ImageTable.set_status`), so a page read earlier
is never stale in its status. :class:`ImageView` is a filtered view (rows of the table, in id
order) for the images panel. Both are read-only ``Sequence[Image]`` objects.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import overload

import numpy as np

from annotations.model import Image, ImageStatus
from annotations.store import Project
from annotations.store.project import IMAGE_STATUS_ORDER

PAGE_ROWS = 256
"""Rows read per page (one indexed range query: ~1 ms)."""
MAX_PAGES = 64
"""Pages kept (16,384 rows: a screenful of the list and the neighbours of the current image)."""
_CODE_OF = {status: code for code, status in enumerate(IMAGE_STATUS_ORDER)}
FINISHED_CODES = np.array([_CODE_OF[s] for s in IMAGE_STATUS_ORDER if s.is_finished], np.uint8)
_TEXT_LENGTH = np.array([len(s.value) for s in IMAGE_STATUS_ORDER], np.int64)


def status_code(status: ImageStatus) -> int:
    """The code of ``status`` in :attr:`ImageTable.codes`."""
    return _CODE_OF[status]


class ImageTable(Sequence[Image]):
    """Every image of a project in id order; ``ids`` (int64) and ``codes`` (uint8 status codes,
    see :func:`status_code`) are arrays of the image count."""

    def __init__(self, project: Project, ids: np.ndarray, codes: np.ndarray) -> None:
        self.project = project
        self.ids = ids
        self.codes = codes.copy()
        self._pages: OrderedDict[int, list[Image]] = OrderedDict()

    @classmethod
    def load(cls, project: Project) -> ImageTable:
        """Read the ids and statuses of ``project``'s images (no other column)."""
        ids, codes = project.image_index()
        return cls(project, ids, codes)

    # ------------------------------------------------------------------ Sequence
    def __len__(self) -> int:
        return int(self.ids.size)

    @overload
    def __getitem__(self, row: int) -> Image: ...
    @overload
    def __getitem__(self, row: slice) -> list[Image]: ...

    def __getitem__(self, row: int | slice) -> Image | list[Image]:
        if isinstance(row, slice):
            return [self[k] for k in range(*row.indices(len(self)))]
        count = len(self)
        if row < 0:
            row += count
        if not 0 <= row < count:
            raise IndexError(f"image row {row} of {count}")
        page = self._page(row // PAGE_ROWS)
        image = page[row % PAGE_ROWS]
        status = IMAGE_STATUS_ORDER[int(self.codes[row])]
        if image.status is not status:  # changed elsewhere since the page was read
            image = page[row % PAGE_ROWS] = replace(image, status=status)
        return image

    def __iter__(self) -> Iterator[Image]:
        for row in range(len(self)):
            yield self[row]

    def __eq__(self, other: object) -> bool:
        """Same images (ids) with the same statuses, or a list of exactly these images."""
        if isinstance(other, ImageTable):
            return bool(np.array_equal(self.ids, other.ids) and np.array_equal(self.codes, other.codes))
        if isinstance(other, list):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable (statuses)

    def _page(self, number: int) -> list[Image]:
        page = self._pages.get(number)
        if page is not None:
            self._pages.move_to_end(number)
            return page
        first, last = number * PAGE_ROWS, min(len(self), (number + 1) * PAGE_ROWS) - 1
        wanted = self.ids[first:last + 1]
        by_id = {image.id: image for image in self.project.images_between(int(wanted[0]), int(wanted[-1]))}
        # An image deleted by another process since the index was read: a placeholder row until
        # the session's next reload (which notices the changed fingerprint) drops it.
        page = [by_id.get(int(i)) or Image(int(i), f"(removed image {int(i)})", 1, 1) for i in wanted]
        self._pages[number] = page
        if len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        return page

    # ------------------------------------------------------------------ lookups
    def row_of(self, image_id: int) -> int | None:
        """Row of ``image_id``, or None (a binary search of the ids)."""
        row = int(np.searchsorted(self.ids, image_id))
        return row if row < len(self) and int(self.ids[row]) == image_id else None

    def status_at(self, row: int) -> ImageStatus:
        """The status of row ``row`` (no page read)."""
        return IMAGE_STATUS_ORDER[int(self.codes[row])]

    def status_counts(self) -> Counter[ImageStatus]:
        """How many images have each status."""
        counts = np.bincount(self.codes, minlength=len(IMAGE_STATUS_ORDER))
        return Counter({status: int(counts[code]) for code, status in enumerate(IMAGE_STATUS_ORDER)})

    def fingerprint(self) -> tuple[int, int, int, int]:
        """``Project.images_fingerprint()`` of the images as this table has them (computed from
        the arrays: no second scan of the table)."""
        if not len(self):
            return (0, 0, 0, 0)
        lengths = _TEXT_LENGTH[self.codes]
        return (len(self), int(self.ids.max()), int((self.ids * lengths).sum()), int(lengths.sum()))

    def put(self, row: int, image: Image) -> None:
        """Replace row ``row`` with ``image`` (the same id; e.g. a new status read from the store)."""
        self.codes[row] = status_code(image.status)
        page = self._pages.get(row // PAGE_ROWS)
        if page is not None:
            page[row % PAGE_ROWS] = image

    def rows_unfinished(self) -> np.ndarray:
        """Rows of the images not done or reviewed, ascending."""
        return np.flatnonzero(~np.isin(self.codes, FINISHED_CODES))

    def rows_with_status(self, status: ImageStatus) -> np.ndarray:
        """Rows of the images with ``status``, ascending."""
        return np.flatnonzero(self.codes == status_code(status))

    def rows_with_ids(self, image_ids: np.ndarray) -> np.ndarray:
        """Rows of the images whose id is in ``image_ids``, ascending."""
        return np.flatnonzero(np.isin(self.ids, image_ids))


class ImageView(Sequence[Image]):
    """Some rows of an :class:`ImageTable` (ascending, so still in id order): a filter's result.
    ``rows=None`` is the whole table."""

    def __init__(self, table: ImageTable, rows: np.ndarray | None = None) -> None:
        self.table = table
        self.rows = rows

    def __len__(self) -> int:
        return len(self.table) if self.rows is None else int(self.rows.size)

    @overload
    def __getitem__(self, index: int) -> Image: ...
    @overload
    def __getitem__(self, index: slice) -> list[Image]: ...

    def __getitem__(self, index: int | slice) -> Image | list[Image]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if self.rows is None:
            return self.table[index]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        return self.table[int(self.rows[index])]

    def __iter__(self) -> Iterator[Image]:
        for index in range(len(self)):
            yield self[index]

    def table_row(self, index: int) -> int:
        """The table row of view row ``index``."""
        return index if self.rows is None else int(self.rows[index])

    def index_of(self, image_id: int) -> int:
        """View row of ``image_id``, or -1 (two binary searches)."""
        row = self.table.row_of(image_id)
        if row is None:
            return -1
        if self.rows is None:
            return row
        index = int(np.searchsorted(self.rows, row))
        return index if index < self.rows.size and int(self.rows[index]) == row else -1

    def neighbour(self, table_row: int, step: int) -> int | None:
        """The view row after (``step`` > 0) or before (< 0) table row ``table_row``, which
        need not be in the view (e.g. the image just left the filter); None at the ends."""
        if self.rows is None:
            index = table_row + (1 if step > 0 else -1)
        elif step > 0:
            index = int(np.searchsorted(self.rows, table_row, side="right"))
        else:
            index = int(np.searchsorted(self.rows, table_row, side="left")) - 1
        return index if 0 <= index < len(self) else None
