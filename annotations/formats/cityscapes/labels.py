"""The Cityscapes label table (``cityscapesscripts/helpers/labels.py``, copied so that the
app does not depend on cityscapesscripts at run time; a test compares the two)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsLabel:
    """One row of the table: ``id`` is the labelIds value, ``train_id`` the labelTrainIds value
    (255 = ignored in training), ``color`` the RGB of the colour PNG."""

    name: str
    id: int
    train_id: int
    category: str
    category_id: int
    has_instances: bool
    ignore_in_eval: bool
    color: tuple[int, int, int]


LABELS: tuple[CsLabel, ...] = (
    CsLabel("unlabeled", 0, 255, "void", 0, False, True, (0, 0, 0)),
    CsLabel("ego vehicle", 1, 255, "void", 0, False, True, (0, 0, 0)),
    CsLabel("rectification border", 2, 255, "void", 0, False, True, (0, 0, 0)),
    CsLabel("out of roi", 3, 255, "void", 0, False, True, (0, 0, 0)),
    CsLabel("static", 4, 255, "void", 0, False, True, (0, 0, 0)),
    CsLabel("dynamic", 5, 255, "void", 0, False, True, (111, 74, 0)),
    CsLabel("ground", 6, 255, "void", 0, False, True, (81, 0, 81)),
    CsLabel("road", 7, 0, "flat", 1, False, False, (128, 64, 128)),
    CsLabel("sidewalk", 8, 1, "flat", 1, False, False, (244, 35, 232)),
    CsLabel("parking", 9, 255, "flat", 1, False, True, (250, 170, 160)),
    CsLabel("rail track", 10, 255, "flat", 1, False, True, (230, 150, 140)),
    CsLabel("building", 11, 2, "construction", 2, False, False, (70, 70, 70)),
    CsLabel("wall", 12, 3, "construction", 2, False, False, (102, 102, 156)),
    CsLabel("fence", 13, 4, "construction", 2, False, False, (190, 153, 153)),
    CsLabel("guard rail", 14, 255, "construction", 2, False, True, (180, 165, 180)),
    CsLabel("bridge", 15, 255, "construction", 2, False, True, (150, 100, 100)),
    CsLabel("tunnel", 16, 255, "construction", 2, False, True, (150, 120, 90)),
    CsLabel("pole", 17, 5, "object", 3, False, False, (153, 153, 153)),
    CsLabel("polegroup", 18, 255, "object", 3, False, True, (153, 153, 153)),
    CsLabel("traffic light", 19, 6, "object", 3, False, False, (250, 170, 30)),
    CsLabel("traffic sign", 20, 7, "object", 3, False, False, (220, 220, 0)),
    CsLabel("vegetation", 21, 8, "nature", 4, False, False, (107, 142, 35)),
    CsLabel("terrain", 22, 9, "nature", 4, False, False, (152, 251, 152)),
    CsLabel("sky", 23, 10, "sky", 5, False, False, (70, 130, 180)),
    CsLabel("person", 24, 11, "human", 6, True, False, (220, 20, 60)),
    CsLabel("rider", 25, 12, "human", 6, True, False, (255, 0, 0)),
    CsLabel("car", 26, 13, "vehicle", 7, True, False, (0, 0, 142)),
    CsLabel("truck", 27, 14, "vehicle", 7, True, False, (0, 0, 70)),
    CsLabel("bus", 28, 15, "vehicle", 7, True, False, (0, 60, 100)),
    CsLabel("caravan", 29, 255, "vehicle", 7, True, True, (0, 0, 90)),
    CsLabel("trailer", 30, 255, "vehicle", 7, True, True, (0, 0, 110)),
    CsLabel("train", 31, 16, "vehicle", 7, True, False, (0, 80, 100)),
    CsLabel("motorcycle", 32, 17, "vehicle", 7, True, False, (0, 0, 230)),
    CsLabel("bicycle", 33, 18, "vehicle", 7, True, False, (119, 11, 32)),
    CsLabel("license plate", -1, -1, "vehicle", 7, False, True, (0, 0, 142)),
)
BY_NAME: dict[str, CsLabel] = {label.name: label for label in LABELS}
UNLABELED = BY_NAME["unlabeled"]


def resolve(label: str) -> tuple[CsLabel, bool] | None:
    """A polygon label -> (table row, is_group), as cityscapesscripts reads it: a label that is
    not in the table but ends in ``group`` (``cargroup``) names its stem as a group. None for
    an unknown label."""
    if label in BY_NAME:
        return BY_NAME[label], False
    if label.endswith("group") and label[: -len("group")] in BY_NAME:
        return BY_NAME[label[: -len("group")]], True
    return None
