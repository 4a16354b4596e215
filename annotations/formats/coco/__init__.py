"""COCO: instances (import and export, predictions as a results file) and panoptic (export)."""

from annotations.formats.coco.instances import export_coco, import_coco, read_coco, results_entries

__all__ = ["export_coco", "import_coco", "read_coco", "results_entries"]
