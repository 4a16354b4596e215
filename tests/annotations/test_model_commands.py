"""Edit commands: JSON round trips, class merges, accepting and rejecting predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_store_helpers import build_full_project, sample_geometries, snapshot

from annotations.errors import NotFoundError
from annotations.geometry import Box, Polygon, iou
from annotations.model import (
    AddAnnotation,
    AddCategory,
    Annotation,
    Batch,
    Category,
    Command,
    DeleteAnnotation,
    DeleteCategory,
    Image,
    ImageStatus,
    ModelVersion,
    Prediction,
    PredictionState,
    SetImageStatus,
    SetPredictionCategory,
    SetPredictionState,
    UpdateAnnotation,
    UpdateCategory,
    accept_prediction,
    command_from_json,
    merge_categories,
    model_source,
    reject_prediction,
)
from annotations.model.codec import (
    annotation_from_json,
    annotation_to_json,
    image_from_json,
    image_to_json,
    model_version_from_json,
    model_version_to_json,
    prediction_from_json,
    prediction_to_json,
)
from annotations.store import Project

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def example_commands() -> list[Command]:
    """At least one instance of every command class, every geometry kind included."""
    geometries = sample_geometries()
    annotations = [
        Annotation(0, 1, 1, g, z_order=i, attributes={"k": [1, 2]}, source="model:3", origin_prediction_id=7, author="me")
        for i, g in enumerate(geometries.values())
    ]
    commands: list[Command] = [AddAnnotation(a) for a in annotations]
    commands += [
        DeleteAnnotation(4),
        UpdateAnnotation(4, {"geometry": geometries["holed"], "category_id": 2, "z_order": 5}, "Reshape"),
        UpdateAnnotation(4, {"iscrowd": True, "attributes": {"a": "b"}, "author": "x"}),
        SetImageStatus(2, ImageStatus.REVIEWED),
        AddCategory(Category(0, "new", "#abcdef", "sup", False, {"trainId": 3})),
        AddCategory(Category(4, "back", "#000000"), position=2),
        UpdateCategory(Category(4, "renamed", "#111111")),
        DeleteCategory(4),
        SetPredictionState(3, PredictionState.REJECTED),
        SetPredictionCategory(3, 1),
    ]
    commands.append(Batch(tuple(commands[:3]) + (Batch((DeleteAnnotation(1),), "inner"),), "Outer"))
    return commands


def _all_command_classes(cls: type = Command) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found.add(sub)
        found |= _all_command_classes(sub)
    return found


def test_every_command_round_trips_through_json() -> None:
    commands = example_commands()
    assert {type(c) for c in commands} == _all_command_classes()  # a new command needs an example here
    for command in commands:
        data = json.loads(json.dumps(command.to_json()))  # really JSON: no bytes, arrays or enums
        rebuilt = command_from_json(data)
        assert rebuilt == command
        assert rebuilt.to_json() == command.to_json()
        assert rebuilt.label == command.label


def test_unknown_command_is_refused() -> None:
    with pytest.raises(NotFoundError, match="unknown command"):
        command_from_json({"command": "teleport"})


def test_update_annotation_refuses_other_fields() -> None:
    with pytest.raises(ValueError, match="image_id"):
        UpdateAnnotation(1, {"image_id": 3})


def test_record_codecs_round_trip(tmp_path: Path) -> None:
    with build_full_project(tmp_path / "p.segproj") as project:
        for annotation in project.annotations():
            assert annotation_from_json(json.loads(json.dumps(annotation_to_json(annotation)))) == annotation
        for image in project.images():
            assert image_from_json(image_to_json(image)) == image
        for prediction in project.predictions():
            assert prediction_from_json(json.loads(json.dumps(prediction_to_json(prediction)))) == prediction
        for version in project.model_versions():
            assert model_version_from_json(json.loads(json.dumps(model_version_to_json(version)))) == version


def test_command_labels() -> None:
    geometries = sample_geometries()
    assert AddAnnotation(Annotation(0, 1, 1, geometries["mask"])).label == "Add mask"
    assert UpdateAnnotation(1, {}, "Move vertex").label == "Move vertex"
    assert AddCategory(Category(0, "x")).label == "Add class x"
    assert SetImageStatus(1, ImageStatus.DONE).label == "Mark image done"


# ------------------------------------------------------------------------------ merges
def test_merge_categories_and_undo(tmp_path: Path) -> None:
    with build_full_project(tmp_path / "p.segproj") as project:
        before = snapshot(project)
        order = [c.id for c in project.categories()]
        assert order == [1, 5, 9]
        batch = merge_categories(project, source_id=5, into_id=1)
        project.execute(batch)
        assert [c.id for c in project.categories()] == [1, 9]
        assert all(a.category_id != 5 for a in project.annotations())
        assert all(p.category_id != 5 for p in project.predictions())  # predictions follow the merge
        assert project.annotation_counts_by_category() == {1: 4, 9: 1}
        assert project.undo() == "Merge classes"
        after_undo = snapshot(project)
        assert [c.id for c in project.categories()] == order  # back in its place
        assert after_undo["categories"] == before["categories"]
        assert after_undo["predictions"] == before["predictions"]

        def strip(anns: list[Annotation]) -> list[Annotation]:
            return [a.with_changes(modified="") for a in anns]

        assert strip(after_undo["annotations"]) == strip(before["annotations"])
        project.redo()
        assert [c.id for c in project.categories()] == [1, 9]


def test_merge_into_itself_or_a_missing_class_is_refused(new_project: Project) -> None:
    with pytest.raises(ValueError, match="itself"):
        merge_categories(new_project, 1, 1)
    with pytest.raises(NotFoundError):
        merge_categories(new_project, 1, 42)


# ------------------------------------------------------------------------------ predictions
def _project_with_prediction(tmp_path: Path) -> tuple[Project, Prediction]:
    project = Project.create(tmp_path / "p.segproj", [Category(1, "cell"), Category(2, "debris")])
    project.add_images([Image(0, "a.png", 100, 80)])
    version = project.add_model_version(ModelVersion(0, "unet", (1, 2)))
    prediction = project.add_predictions(
        [Prediction(0, 1, 1, Polygon.from_points([[10, 10], [50, 10], [50, 50], [10, 50]]), 0.8, version.id)]
    )[0]
    return project, prediction


def test_accept_prediction_keeps_origin_link_and_source(tmp_path: Path) -> None:
    project, prediction = _project_with_prediction(tmp_path)
    with project:
        edited = Polygon.from_points([[12, 10], [50, 10], [50, 50], [12, 50]])
        done = project.execute(accept_prediction(prediction, geometry=edited, category_id=2, author="ann"))
        (annotation,) = project.annotations()
        assert annotation.source == model_source(prediction.model_version_id) == "model:1"
        assert annotation.origin_prediction_id == prediction.id
        assert (annotation.category_id, annotation.author, annotation.geometry) == (2, "ann", edited)
        assert project.get_prediction(prediction.id).state is PredictionState.ACCEPTED
        # the pre-label vs final IoU stays computable from the stored link
        origin = project.get_prediction(annotation.origin_prediction_id)
        assert iou(origin.geometry, annotation.geometry) == pytest.approx(38 / 40)
        assert isinstance(done, Batch) and done.commands[0].annotation.id == annotation.id
        project.undo()
        assert project.annotations() == []
        assert project.get_prediction(prediction.id).state is PredictionState.PROPOSED
        project.redo()
        assert project.annotations()[0].origin_prediction_id == prediction.id


def test_accept_prediction_unchanged_uses_its_geometry(tmp_path: Path) -> None:
    project, prediction = _project_with_prediction(tmp_path)
    with project:
        project.execute(accept_prediction(prediction))
        (annotation,) = project.annotations()
        assert annotation.geometry == prediction.geometry and annotation.category_id == prediction.category_id


def test_reject_prediction_and_undo(tmp_path: Path) -> None:
    project, prediction = _project_with_prediction(tmp_path)
    with project:
        project.execute(reject_prediction(prediction))
        assert project.get_prediction(prediction.id).state is PredictionState.REJECTED
        assert project.predictions(state=PredictionState.PROPOSED) == []
        project.undo()
        assert project.get_prediction(prediction.id).state is PredictionState.PROPOSED


def test_supersede_and_filters(tmp_path: Path) -> None:
    project, prediction = _project_with_prediction(tmp_path)
    with project:
        project.add_predictions([Prediction(0, 1, 2, Box(0, 0, 5, 5), 0.95, prediction.model_version_id)])
        assert [p.score for p in project.predictions(1)] == [0.95, 0.8]  # best first
        assert project.supersede_predictions([1]) == 2
        assert {p.state for p in project.predictions()} == {PredictionState.SUPERSEDED}
        assert project.predictions(model_version_id=99) == []
