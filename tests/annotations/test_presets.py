"""Label presets against their official sources, and user label files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.errors import FormatError
from annotations.presets import load_label_file, load_labels, load_preset, preset_names, voc_color

VOC_NAMES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
]


def test_preset_names() -> None:
    assert preset_names() == ["voc", "coco", "cityscapes"]


def test_voc_preset_ids_names_and_colormap() -> None:
    categories = load_preset("voc")
    assert [c.name for c in categories] == VOC_NAMES
    assert [c.id for c in categories] == list(range(1, 21))
    assert all(c.attributes == {"voc_index": c.id} for c in categories)
    # Known VOC colormap entries: aeroplane (128,0,0), person (192,128,128), tvmonitor (0,64,128).
    assert categories[0].color == "#800000"
    assert categories[14].color == "#c08080"
    assert categories[19].color == "#004080"
    assert voc_color(0) == "#000000"


def test_coco_preset_matches_official_ids(shared_data: Path) -> None:
    official = json.loads((shared_data / "coco_eval_val2014_fake100" / "instances_val2014_100.json").read_text())["categories"]
    categories = load_preset("coco")
    assert len(categories) == 80
    assert [(c.id, c.name, c.supercategory) for c in categories] == [
        (o["id"], o["name"], o["supercategory"]) for o in official
    ]
    assert max(c.id for c in categories) == 90  # non-contiguous
    assert len({c.color for c in categories}) == 80


def test_cityscapes_preset_matches_cityscapesscripts() -> None:
    labels_module = pytest.importorskip("cityscapesscripts.helpers.labels")
    expected = [label for label in labels_module.labels if label.id >= 1]
    categories = load_preset("cityscapes")
    assert len(categories) == len(expected) == 33
    for category, label in zip(categories, expected):
        assert category.id == label.id
        assert category.name == label.name
        assert category.color == "#{:02x}{:02x}{:02x}".format(*label.color)
        assert category.is_thing == label.hasInstances
        assert category.attributes == {
            "trainId": label.trainId,
            "category": label.category,
            "categoryId": label.categoryId,
            "hasInstances": label.hasInstances,
            "ignoreInEval": label.ignoreInEval,
        }
    names = {c.name for c in categories}
    assert "unlabeled" not in names and "license plate" not in names
    car = next(c for c in categories if c.name == "car")
    assert (car.id, car.attributes["trainId"], car.is_thing) == (26, 13, True)


def test_unknown_preset_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="unknown label preset 'pets'"):
        load_preset("pets")


def test_load_labels_accepts_preset_or_file(tmp_path: Path) -> None:
    assert len(load_labels("VOC")) == 20
    path = tmp_path / "labels.txt"
    path.write_text("cell\n")
    assert [c.name for c in load_labels(str(path))] == ["cell"]
    with pytest.raises(FormatError, match="no such label file"):
        load_labels(str(tmp_path / "missing.txt"))


def test_text_label_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("__ignore__\n_background_\n# a comment\nnucleus\n\n  debris  \n")
    categories = load_label_file(path)
    assert [(c.id, c.name) for c in categories] == [(1, "nucleus"), (2, "debris")]
    assert categories[0].color == voc_color(1)


def test_json_label_file_list_and_object(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps([
        {"id": 3, "name": "nucleus", "color": "#FF0000"},
        {"id": 7, "name": "debris", "color": [0, 255, 0], "is_thing": False, "attributes": {"k": 1}},
        {"id": 9, "name": "other"},
    ]))
    categories = load_label_file(path)
    assert [(c.id, c.name, c.color, c.is_thing) for c in categories] == [
        (3, "nucleus", "#ff0000", True), (7, "debris", "#00ff00", False), (9, "other", voc_color(9), True)
    ]
    assert categories[1].attributes == {"k": 1}
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"categories": [{"id": 1, "name": "a"}]}))
    assert [c.name for c in load_label_file(wrapped)] == ["a"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[\n  {"id": 1, "name": "a"},\n  {"id": 1, "name": "b"}\n]', r"category #2 \(line 3\): id 1 is used twice"),
        ('[\n  {"id": 1, "name": "a"},\n  {"id": 2, "name": "a"}\n]', r"line 3\): name 'a' is used twice"),
        ('[\n  {"id": 0, "name": "a"}\n]', r"line 2\): 'id' must be an integer >= 1"),
        ('[\n  {"id": 1}\n]', r"'name' must be a non-empty string"),
        ('[\n  {"id": 1, "name": "a", "color": "red"}\n]', r"'color' must be"),
        ('[\n  {"id": 1, "name": "a", "colour": "#ff0000"}\n]', r"unknown keys \['colour'\]"),
        ('[\n  {"id": 1, "name": "a"},\n  "b"\n]', r"category #2 \(line 3\): expected an object"),
        ('[\n  {"id": 1, "name": "a",}\n]', r"line 2: invalid JSON"),
        ('{"classes": []}', r'object with "categories"'),
        ("[]", r"holds no categories"),
    ],
)
def test_bad_json_label_file_names_file_and_item(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(FormatError, match=message) as info:
        load_label_file(path)
    assert str(path) in str(info.value)


def test_bad_text_label_file_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("cat\ndog\n\ncat\n")
    with pytest.raises(FormatError, match=r"bad.txt, line 4: class 'cat' is listed twice \(first on line 1\)"):
        load_label_file(path)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"cat\n\xff\xfe\x00dog\n")
    with pytest.raises(FormatError, match=r"line 2: not a UTF-8"):
        load_label_file(binary)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    with pytest.raises(FormatError, match="holds no categories"):
        load_label_file(empty)
