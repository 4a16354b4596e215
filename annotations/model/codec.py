"""JSON-ready encoding of geometries and records (for the store, the history and the engine)."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations.errors import GeometryError
from annotations.geometry import Box, Geometry, Mask, Polygon, PolygonPart
from annotations.model.entities import (
    Annotation,
    AnnotationRole,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    PredictionState,
)


def geometry_to_json(geometry: Geometry) -> dict[str, Any]:
    """``{"type": "box", "xyxy": [...]}``, ``{"type": "polygon", "parts": [{"exterior": [x, y,
    ...], "holes": [[...]]}]}`` or ``{"type": "mask", "size": [h, w], "counts": str}``."""
    if isinstance(geometry, Box):
        return {"type": "box", "xyxy": [float(v) for v in geometry.xyxy]}
    if isinstance(geometry, Polygon):
        return {
            "type": "polygon",
            "parts": [
                {
                    "exterior": part.exterior.reshape(-1).tolist(),
                    "holes": [hole.reshape(-1).tolist() for hole in part.holes],
                }
                for part in geometry.parts
            ],
        }
    if isinstance(geometry, Mask):
        return {"type": "mask", **geometry.to_coco()}
    raise GeometryError(f"not a geometry: {type(geometry).__name__}")


def geometry_from_json(data: dict[str, Any]) -> Geometry:
    """Inverse of :func:`geometry_to_json`."""
    kind = data.get("type")
    if kind == "box":
        return Box(*(float(v) for v in data["xyxy"]))
    if kind == "polygon":
        return Polygon(
            tuple(
                PolygonPart(
                    np.asarray(part["exterior"], dtype=np.float64).reshape(-1, 2),
                    tuple(np.asarray(h, dtype=np.float64).reshape(-1, 2) for h in part.get("holes", ())),
                )
                for part in data["parts"]
            )
        )
    if kind == "mask":
        return Mask((int(data["size"][0]), int(data["size"][1])), data["counts"].encode("ascii"))
    raise GeometryError(f"unknown geometry type {kind!r}")


def annotation_to_json(annotation: Annotation) -> dict[str, Any]:
    """All fields of an annotation, geometry included (``role`` only when not an object)."""
    data: dict[str, Any] = {
        "id": annotation.id,
        "image_id": annotation.image_id,
        "category_id": annotation.category_id,
        "geometry": geometry_to_json(annotation.geometry),
        "z_order": annotation.z_order,
        "iscrowd": annotation.iscrowd,
        "attributes": dict(annotation.attributes),
        "source": annotation.source,
        "origin_prediction_id": annotation.origin_prediction_id,
        "created": annotation.created,
        "modified": annotation.modified,
        "author": annotation.author,
    }
    if annotation.role is not AnnotationRole.OBJECT:
        data["role"] = annotation.role.value
    return data


def annotation_from_json(data: dict[str, Any]) -> Annotation:
    """Inverse of :func:`annotation_to_json`."""
    return Annotation(
        id=int(data["id"]),
        image_id=int(data["image_id"]),
        category_id=int(data["category_id"]),
        geometry=geometry_from_json(data["geometry"]),
        z_order=int(data.get("z_order", 0)),
        iscrowd=bool(data.get("iscrowd", False)),
        attributes=dict(data.get("attributes", {})),
        source=data.get("source", "human"),
        origin_prediction_id=data.get("origin_prediction_id"),
        created=data.get("created", ""),
        modified=data.get("modified", ""),
        author=data.get("author", ""),
        role=AnnotationRole(data.get("role", AnnotationRole.OBJECT.value)),
    )


def category_to_json(category: Category) -> dict[str, Any]:
    return {
        "id": category.id,
        "name": category.name,
        "color": category.color,
        "supercategory": category.supercategory,
        "is_thing": category.is_thing,
        "attributes": dict(category.attributes),
    }


def category_from_json(data: dict[str, Any]) -> Category:
    return Category(
        id=int(data["id"]),
        name=str(data["name"]),
        color=str(data.get("color", "#ff0000")),
        supercategory=str(data.get("supercategory", "")),
        is_thing=bool(data.get("is_thing", True)),
        attributes=dict(data.get("attributes", {})),
    )


def image_to_json(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "path": image.path,
        "width": image.width,
        "height": image.height,
        "status": image.status.value,
        "attributes": dict(image.attributes),
    }


def image_from_json(data: dict[str, Any]) -> Image:
    return Image(
        id=int(data["id"]),
        path=str(data["path"]),
        width=int(data["width"]),
        height=int(data["height"]),
        status=ImageStatus(data.get("status", "new")),
        attributes=dict(data.get("attributes", {})),
    )


def prediction_to_json(prediction: Prediction) -> dict[str, Any]:
    return {
        "id": prediction.id,
        "image_id": prediction.image_id,
        "category_id": prediction.category_id,
        "geometry": geometry_to_json(prediction.geometry),
        "score": prediction.score,
        "model_version_id": prediction.model_version_id,
        "state": prediction.state.value,
        "created": prediction.created,
    }


def prediction_from_json(data: dict[str, Any]) -> Prediction:
    return Prediction(
        id=int(data["id"]),
        image_id=int(data["image_id"]),
        category_id=int(data["category_id"]),
        geometry=geometry_from_json(data["geometry"]),
        score=float(data["score"]),
        model_version_id=int(data["model_version_id"]),
        state=PredictionState(data.get("state", "proposed")),
        created=data.get("created", ""),
    )


def model_version_to_json(version: ModelVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "architecture": version.architecture,
        "classes": list(version.classes),
        "trained_on": version.trained_on,
        "metrics": version.metrics,
        "weights_path": version.weights_path,
        "created": version.created,
        "parent_id": version.parent_id,
        "promoted": version.promoted,
    }


def model_version_from_json(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        id=int(data["id"]),
        architecture=str(data["architecture"]),
        classes=tuple(int(c) for c in data.get("classes", ())),
        trained_on=dict(data.get("trained_on", {})),
        metrics=dict(data.get("metrics", {})),
        weights_path=str(data.get("weights_path", "")),
        created=data.get("created", ""),
        parent_id=data.get("parent_id"),
        promoted=bool(data.get("promoted", False)),
    )
