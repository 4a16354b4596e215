"""The data model: records (categories, images, annotations, predictions, model versions) and
the undoable edit commands."""

from annotations.model.commands import (
    AddAnnotation,
    AddCategory,
    Batch,
    Command,
    DeleteAnnotation,
    DeleteCategory,
    EditTarget,
    SetImageStatus,
    SetPredictionCategory,
    SetPredictionState,
    UpdateAnnotation,
    UpdateCategory,
    accept_prediction,
    command_from_json,
    merge_categories,
    reject_prediction,
    set_images_status,
)
from annotations.model.entities import (
    HUMAN,
    NO_CATEGORY,
    Annotation,
    AnnotationRole,
    Category,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    PredictionState,
    model_source,
    utc_now,
)

__all__ = [
    "HUMAN", "NO_CATEGORY", "Annotation", "AnnotationRole", "set_images_status", "Category", "Image", "ImageStatus",
    "ModelVersion", "Prediction",
    "PredictionState", "model_source", "utc_now", "AddAnnotation", "AddCategory", "Batch",
    "Command", "DeleteAnnotation", "DeleteCategory", "EditTarget", "SetImageStatus",
    "SetPredictionCategory", "SetPredictionState", "UpdateAnnotation", "UpdateCategory", "accept_prediction",
    "command_from_json", "merge_categories", "reject_prediction",
]
