"""Cityscapes: ``leftImg8bit``/``gtFine`` export and ``polygons.json`` import."""

from annotations.formats.cityscapes.dataset import export_cityscapes, import_cityscapes, read_cityscapes, render
from annotations.formats.cityscapes.labels import BY_NAME, LABELS, CsLabel

__all__ = ["BY_NAME", "LABELS", "CsLabel", "export_cityscapes", "import_cityscapes", "read_cityscapes", "render"]
