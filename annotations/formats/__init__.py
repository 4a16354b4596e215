"""Import and export of data sets: COCO (instances, panoptic export, results), Pascal VOC,
Cityscapes, YOLO (export), labelme (import), and mask images: label-index PNGs
(``label-png``), instance-id PNGs (``instance-png``), per-object mask folders
(``mask-folders``), colour-palette PNGs (``palette-png``) and run-length CSVs (``rle-csv``).

Every exporter takes an open :class:`~annotations.store.Project`, a target folder and
:class:`ExportOptions`, writes into a temporary folder and renames it (atomic). Every importer
reads and checks the whole source first, then stores it in one transaction (a bad file changes
nothing). What each format loses is listed in its module docstring and in ``README.md`` here.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, cast

from annotations.errors import FormatError
from annotations.formats.common import ExportOptions, ExportReport, ImportOptions, ImportReport, parse_split
from annotations.store import Project

EXPORTERS: dict[str, tuple[str, str]] = {
    "coco": ("annotations.formats.coco.instances", "export_coco"),
    "coco-panoptic": ("annotations.formats.coco.panoptic", "export_coco_panoptic"),
    "voc": ("annotations.formats.voc", "export_voc"),
    "cityscapes": ("annotations.formats.cityscapes", "export_cityscapes"),
    "yolo": ("annotations.formats.yolo", "export_yolo"),
    "label-png": ("annotations.formats.label_png", "export_label_png"),
    "instance-png": ("annotations.formats.instance_png", "export_instance_png"),
    "mask-folders": ("annotations.formats.mask_folders", "export_mask_folders"),
    "palette-png": ("annotations.formats.palette_png", "export_palette_png"),
    "rle-csv": ("annotations.formats.rle_csv", "export_rle_csv"),
}
IMPORTERS: dict[str, tuple[str, str]] = {
    "coco": ("annotations.formats.coco.instances", "import_coco"),
    "voc": ("annotations.formats.voc", "import_voc"),
    "cityscapes": ("annotations.formats.cityscapes", "import_cityscapes"),
    "labelme": ("annotations.formats.labelme", "import_labelme"),
    "label-png": ("annotations.formats.label_png", "import_label_png"),
    "instance-png": ("annotations.formats.instance_png", "import_instance_png"),
    "mask-folders": ("annotations.formats.mask_folders", "import_mask_folders"),
    "palette-png": ("annotations.formats.palette_png", "import_palette_png"),
    "rle-csv": ("annotations.formats.rle_csv", "import_rle_csv"),
}


def _function(table: dict[str, tuple[str, str]], name: str, what: str) -> Any:
    if name not in table:
        raise FormatError(f"unknown {what} format {name!r} (known: {', '.join(table)})")
    module, function = table[name]
    return getattr(importlib.import_module(module), function)


# The defaults are frozen dataclasses: one shared instance is safe.
_DEFAULT_EXPORT_OPTIONS = ExportOptions()
_DEFAULT_IMPORT_OPTIONS = ImportOptions()


def export_project(
    project: Project,
    format_name: str,
    out: str | os.PathLike[str],
    options: ExportOptions = _DEFAULT_EXPORT_OPTIONS,
    **format_options: Any,
) -> ExportReport:
    """Export ``project`` to folder ``out`` in ``format_name`` (a key of :data:`EXPORTERS`)."""
    return cast(ExportReport, _function(EXPORTERS, format_name, "export")(project, out, options, **format_options))


def import_into(
    project: Project,
    format_name: str,
    source: str | os.PathLike[str],
    options: ImportOptions = _DEFAULT_IMPORT_OPTIONS,
    **format_options: Any,
) -> ImportReport:
    """Import ``source`` (a file or folder) in ``format_name`` (a key of :data:`IMPORTERS`) into ``project``."""
    return cast(ImportReport, _function(IMPORTERS, format_name, "import")(project, source, options, **format_options))


__all__ = [
    "EXPORTERS", "IMPORTERS", "ExportOptions", "ExportReport", "ImportOptions", "ImportReport",
    "export_project", "import_into", "parse_split",
]
