"""The exception hierarchy of the annotations package: one root, one subclass per failure kind."""

from __future__ import annotations


class AnnotationsError(Exception):
    """Root of every error raised by :mod:`annotations`."""


class GeometryError(AnnotationsError):
    """A shape cannot be built or converted (degenerate, wrong size, bad coordinates)."""


class StoreError(AnnotationsError):
    """A project file cannot be opened, read or written."""


class SchemaVersionError(StoreError):
    """The project file was written by a newer SegStudio (its schema version is unknown)."""


class CorruptProjectError(StoreError):
    """The project file is not a readable SegStudio project."""


class StoreFaultError(StoreError):
    """The project file could not be written because of its surroundings (disk full, read-only
    file or folder, its ``-wal`` file deleted while open); the edit was not applied."""


class NotFoundError(StoreError):
    """An id (image, annotation, category, prediction, model version) does not exist."""


class FormatError(AnnotationsError):
    """An import or export failed; the message names the file and the item."""

    def __init__(self, message: str, *, path: str | None = None, item: str | None = None) -> None:
        where = ", ".join(part for part in (path, item) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.item = item


class ImageFileError(FormatError):
    """An image file cannot be read or decoded; the message names the file."""


class ImageTooLargeError(ImageFileError):
    """An image has more pixels than the configured budget (``SEGSTUDIO_MAX_PIXELS``)."""


class MetricsError(AnnotationsError):
    """Metrics cannot be computed for the given inputs (e.g. mismatched image sizes)."""
