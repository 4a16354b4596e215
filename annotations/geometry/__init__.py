"""Shapes (box, polygon with holes, RLE mask), their conversions, areas and IoU."""

from annotations.geometry import rle
from annotations.geometry.convert import (
    area,
    box_to_mask,
    clip_to_image,
    from_shapely,
    mask_to_polygon,
    polygon_to_mask,
    repair_polygon,
    to_box,
    to_mask,
    to_shapely,
    to_valid_shapely,
    validate_polygon,
)
from annotations.geometry.iou import box_iou, boxes_iou_matrix, iou, mask_iou, masks_iou_matrix, polygon_iou
from annotations.geometry.shapes import Box, Geometry, GeometryKind, Mask, Polygon, PolygonPart, ring_area

__all__ = [
    "Box", "Geometry", "GeometryKind", "Mask", "Polygon", "PolygonPart", "ring_area",
    "area", "box_to_mask", "clip_to_image", "from_shapely", "mask_to_polygon", "polygon_to_mask",
    "repair_polygon", "to_box", "to_mask", "to_shapely", "to_valid_shapely", "validate_polygon",
    "box_iou", "boxes_iou_matrix", "iou", "mask_iou", "masks_iou_matrix", "polygon_iou", "rle",
]
