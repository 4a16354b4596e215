"""Training data: a frozen snapshot of the finished images' annotations, the split by image, and
targets for each kind of model.

The snapshot is read once at the start of a training job and never again, so annotators can
keep working while the model trains; its annotation revision is recorded in the version's
``trained_on``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from annotations.geometry import Geometry, rle, to_box, to_mask
from annotations.model import Image
from annotations.store import Project
from engine.errors import EngineInputError
from engine.images import read_rgb


@dataclass(frozen=True)
class SnapshotShape:
    category_id: int
    geometry: Geometry
    iscrowd: bool = False


@dataclass(frozen=True)
class SnapshotImage:
    image: Image
    path: Path
    shapes: tuple[SnapshotShape, ...]


@dataclass(frozen=True)
class Snapshot:
    """Finished images with their annotations (back to front) at annotation ``revision``."""

    revision: int
    images: tuple[SnapshotImage, ...]

    @property
    def image_ids(self) -> list[int]:
        return [s.image.id for s in self.images]


def take_snapshot(project: Project, *, attempts: int = 5) -> Snapshot:
    """Read the finished (done/reviewed) images and their annotations consistently: the
    revision is read before and after, and the read is repeated if an edit landed between."""
    for _ in range(attempts):
        before = project.revision
        finished = [image for image in project.images() if image.status.is_finished]
        by_image: dict[int, list[SnapshotShape]] = {image.id: [] for image in finished}
        for annotation in project.annotations():
            if annotation.image_id in by_image:
                by_image[annotation.image_id].append(
                    SnapshotShape(annotation.category_id, annotation.geometry, annotation.iscrowd)
                )
        if project.revision == before:
            images = tuple(
                SnapshotImage(image, project.image_path(image), tuple(by_image[image.id])) for image in finished
            )
            return Snapshot(before, images)
    raise EngineInputError(f"{project.path}: annotations keep changing; could not take a consistent snapshot")


def split_by_image(image_ids: Sequence[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split of image ids into (train, validation); at least one image on each side.

    Raises :class:`EngineInputError` when there are fewer than 2 images.
    """
    ids = sorted(int(i) for i in image_ids)
    if len(ids) < 2:
        raise EngineInputError(
            f"training needs at least 2 finished images (one is held out for validation); the project has {len(ids)}"
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = min(max(1, int(round(len(ids) * val_fraction))), len(ids) - 1)
    val = sorted(ids[i] for i in order[:n_val])
    train = sorted(ids[i] for i in order[n_val:])
    return train, val


@dataclass
class DetectionTarget:
    """Targets of one image for torchvision detectors (class indices 1..K)."""

    boxes_xyxy: np.ndarray  # (N, 4) float32
    labels: np.ndarray  # (N,) int64
    masks: np.ndarray | None = None  # (N, H, W) uint8


def detection_target(item: SnapshotImage, class_index: dict[int, int], *, with_masks: bool) -> DetectionTarget:
    """Boxes (and masks) of the non-crowd shapes of known classes; degenerate boxes dropped."""
    size_hw = item.image.size_hw
    boxes, labels, masks = [], [], []
    for shape in item.shapes:
        index = class_index.get(shape.category_id)
        if index is None or shape.iscrowd:
            continue
        box = to_box(shape.geometry)
        x1, y1 = max(box.x1, 0.0), max(box.y1, 0.0)
        x2, y2 = min(box.x2, float(size_hw[1])), min(box.y2, float(size_hw[0]))
        if x2 - x1 < 1.0 or y2 - y1 < 1.0:
            continue
        if with_masks:
            mask = rle.decode(to_mask(shape.geometry, size_hw))
            if not mask.any():
                continue
            masks.append(mask.astype(np.uint8))
        boxes.append((x1, y1, x2, y2))
        labels.append(index)
    target = DetectionTarget(
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(labels, np.int64),
        np.stack(masks) if masks else (np.zeros((0, *size_hw), np.uint8) if with_masks else None),
    )
    return target


def semantic_target(item: SnapshotImage, class_index: dict[int, int]) -> np.ndarray:
    """(H, W) uint8 label map: 0 background, shapes painted back to front with their class
    index (255 would be void; unknown categories are left as background)."""
    height, width = item.image.size_hw
    labels = np.zeros((height, width), np.uint8)
    for shape in item.shapes:
        index = 255 if shape.iscrowd else class_index.get(shape.category_id)  # crowds/ignore regions: void (loss ignore_index)
        if index is None:
            continue
        labels[rle.decode(to_mask(shape.geometry, (height, width)))] = index
    return labels


class ImageCache:
    """Decoded RGB images of a snapshot, kept in memory up to ``max_bytes``."""

    def __init__(self, max_bytes: int = 2 << 30) -> None:
        self.max_bytes = max_bytes
        self._images: dict[int, np.ndarray] = {}
        self._bytes = 0

    def get(self, item: SnapshotImage) -> np.ndarray:
        """(H, W, 3) uint8 RGB of ``item``."""
        cached = self._images.get(item.image.id)
        if cached is not None:
            return cached
        rgb = read_rgb(item.path, size_hw=item.image.size_hw, image_id=item.image.id)
        if self._bytes + rgb.nbytes <= self.max_bytes:
            self._images[item.image.id] = rgb
            self._bytes += rgb.nbytes
        return rgb
