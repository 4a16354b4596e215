"""The import plan: everything an importer read, validated, before one transaction stores it.

Importers parse and check the whole source first and build an :class:`ImportPlan` (pure
values, nothing stored). :func:`commit_plan` then resolves label names to categories, reuses
images the project already has (same file), and writes categories, images and annotations in
one ``project.transaction()``: a bad file changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from annotations.errors import FormatError
from annotations.formats.common import ImportOptions, ImportReport, new_label_color
from annotations.geometry import Geometry, Mask
from annotations.model import NO_CATEGORY, Annotation, AnnotationRole, Category, Image, ImageStatus
from annotations.store import Project


class DuplicateImportError(FormatError):
    """The import would store shapes an image already has; ``duplicates`` counts them."""

    def __init__(self, message: str, *, duplicates: int, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.duplicates = duplicates


@dataclass(frozen=True)
class PlannedCategory:
    """A category as the source describes it; ``preferred_id`` is used when it is free."""

    name: str
    preferred_id: int | None = None
    color: str | None = None
    supercategory: str = ""
    is_thing: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedAnnotation:
    """One shape to store; ``label`` is a category name, ``item`` names it in error messages.

    ``role`` IGNORE makes it an ignore region; an ignore region's ``label`` may be ``""``
    (class-agnostic void, stored with ``NO_CATEGORY``)."""

    label: str
    geometry: Geometry
    iscrowd: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    item: str = ""
    preferred_id: int | None = None
    role: AnnotationRole = AnnotationRole.OBJECT


@dataclass
class PlannedImage:
    """One image to store (or to reuse when the project already has its file)."""

    file: Path
    width: int
    height: int
    annotations: list[PlannedAnnotation] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    status: ImageStatus = ImageStatus.NEW
    source: str = ""
    preferred_id: int | None = None


@dataclass
class ImportPlan:
    """What an importer read: categories in source order, images, and what it skipped."""

    source: Path
    categories: list[PlannedCategory] = field(default_factory=list)
    images: list[PlannedImage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    created_files: list[Path] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # project settings to store (e.g. a format's values)


def commit_plan(project: Project, plan: ImportPlan, options: ImportOptions) -> ImportReport:
    """Store the plan in one transaction; returns what was stored.

    Raises :class:`FormatError` (nothing stored) for unknown labels the options do not allow
    adding, an image whose stored size differs from the source, or a mask of the wrong size.
    Files the importer created (``plan.created_files``) are removed when the commit fails.
    """
    try:
        return _commit(project, plan, options)
    except BaseException:
        for path in plan.created_files:
            Path(path).unlink(missing_ok=True)
        raise


def _commit(project: Project, plan: ImportPlan, options: ImportOptions) -> ImportReport:
    report = ImportReport(source=plan.source, skipped=list(plan.skipped))
    existing = {c.name: c for c in project.categories()}
    add_labels = options.add_labels if options.add_labels is not None else not existing
    specs = {c.name: c for c in plan.categories}
    used = [a.label for im in plan.images for a in im.annotations if a.label or a.role is not AnnotationRole.IGNORE]
    wanted = list(dict.fromkeys([c.name for c in plan.categories] + used))
    unknown = [name for name in wanted if name not in existing]
    if unknown and not add_labels:
        first = next((a for im in plan.images for a in im.annotations if a.label in unknown), None)
        where = f" (first at {first.item})" if first and first.item else ""
        raise FormatError(
            f"unknown label(s) {', '.join(repr(u) for u in unknown[:10])}{where}: the project's categories are "
            f"{', '.join(sorted(existing)) or 'none'} (pass --add-labels to add them)",
            path=str(plan.source),
        )
    used_ids = {c.id for c in existing.values()}
    chosen: dict[str, int] = {}
    for name in unknown:  # first pass: keep the source's ids where they are free
        spec = specs.get(name, PlannedCategory(name))
        if spec.preferred_id is not None and spec.preferred_id >= 1 and spec.preferred_id not in used_ids:
            chosen[name] = spec.preferred_id
            used_ids.add(spec.preferred_id)
    next_free = 1
    new_categories: list[Category] = []
    for index, name in enumerate(unknown):
        spec = specs.get(name, PlannedCategory(name))
        if name not in chosen:
            while next_free in used_ids:
                next_free += 1
            chosen[name] = next_free
            used_ids.add(next_free)
        new_categories.append(
            Category(chosen[name], name, spec.color or new_label_color(len(existing) + index), spec.supercategory,
                     spec.is_thing, dict(spec.attributes))
        )
    ids = {name: c.id for name, c in existing.items()} | {c.name: c.id for c in new_categories}
    ids[""] = NO_CATEGORY  # class-agnostic ignore regions

    known_images = {im.path: im for im in project.images()}
    matcher = ImageMatcher(project, list(known_images.values()))
    if not options.allow_duplicates:
        _refuse_duplicates(project, plan, matcher, ids)
    with project.transaction():
        if new_categories:
            project.add_categories(new_categories)
        report.categories_added = [c.name for c in new_categories]
        to_add: list[Image] = []
        wanted_ids: list[int | None] = []
        new_index: dict[str, int] = {}
        targets: list[tuple[str, int]] = []
        status_of_old: dict[int, ImageStatus] = {}
        seen_old: set[int] = set()
        for planned in plan.images:
            rel = _relative(project, planned.file)
            old, how = matcher.match(rel, planned.file, (planned.height, planned.width))
            if old is not None and rel not in new_index:
                if (old.width, old.height) != (planned.width, planned.height):
                    raise FormatError(
                        f"the project has this image as {old.width}x{old.height} (width x height), the source "
                        f"says {planned.width}x{planned.height}", path=planned.source or str(plan.source), item=rel,
                    )
                targets.append(("old", old.id))
                if old.id not in seen_old:
                    seen_old.add(old.id)
                    report.images_reused += 1
                    report.matched_by_resolved_path += how == MATCHED_BY_RESOLVED_PATH
                    report.matched_by_name += how == MATCHED_BY_NAME
                    if options.status is not None and old.status is not options.status:
                        status_of_old[old.id] = options.status
            elif rel in new_index:
                targets.append(("new", new_index[rel]))
            else:
                new_index[rel] = len(to_add)
                wanted_ids.append(planned.preferred_id)
                to_add.append(Image(0, rel, planned.width, planned.height, options.status or planned.status,
                                    dict(planned.attributes)))
                targets.append(("new", new_index[rel]))
        image_id_list = assign_ids(wanted_ids, {im.id for im in known_images.values()})
        to_add = [replace(im, id=i) for im, i in zip(to_add, image_id_list)]
        stored = project.add_images(to_add) if to_add else []
        image_ids = [value if kind == "old" else stored[value].id for kind, value in targets]
        report.images_added = len(to_add)
        for key, value in plan.settings.items():
            project.set_setting(key, value)
        for image_id, status in status_of_old.items():
            project.put_image_status(image_id, status)
        annotations: list[Annotation] = []
        wanted_annotation_ids: list[int | None] = []
        next_z: dict[int, int] = {}
        for (kind, _), image_id in zip(targets, image_ids):
            if kind == "old" and image_id not in next_z:
                next_z[image_id] = max((a.z_order for a in project.annotations(image_id)), default=-1) + 1
        for image_id, planned in zip(image_ids, plan.images):
            for a in planned.annotations:
                z = next_z.get(image_id, 0)
                next_z[image_id] = z + 1
                if isinstance(a.geometry, Mask) and a.geometry.size != (planned.height, planned.width):
                    raise FormatError(
                        f"mask size {a.geometry.size} (height, width) differs from the image size "
                        f"{(planned.height, planned.width)}", path=planned.source or str(plan.source), item=a.item,
                    )
                wanted_annotation_ids.append(a.preferred_id)
                annotations.append(Annotation(0, image_id, ids[a.label], a.geometry, z_order=z,
                                              iscrowd=a.iscrowd, attributes=dict(a.attributes), role=a.role))
        # Keep the source's annotation ids only in a project without annotations (cheap to check).
        if project.counts()["annotations"] == 0:
            annotation_ids = assign_ids(wanted_annotation_ids, set())
            annotations = [replace(a, id=i) for a, i in zip(annotations, annotation_ids)]
        if annotations:
            project.add_annotations(annotations)
        report.annotations = len(annotations)
    return report


def _refuse_duplicates(project: Project, plan: ImportPlan, matcher: ImageMatcher, ids: dict[str, int]) -> None:
    """Raise :class:`FormatError` when planned shapes are already stored on their image (same
    category and identical geometry): the source was most likely imported before. Names the
    first source file with duplicates and counts them all."""
    stored: dict[int, set[tuple[int, Geometry]]] = {}
    duplicates = 0
    first_file = ""
    first_image = ""
    for planned in plan.images:
        if not planned.annotations:
            continue
        old, _ = matcher.match(_relative(project, planned.file), planned.file, (planned.height, planned.width))
        if old is None:
            continue
        if old.id not in stored:
            stored[old.id] = {(a.category_id, a.geometry) for a in project.annotations(old.id)}
        keys = stored[old.id]
        if not keys:
            continue
        found = sum(1 for a in planned.annotations if (ids[a.label], a.geometry) in keys)
        if found and not first_file:
            first_file, first_image = planned.source or str(plan.source), old.path
        duplicates += found
    if duplicates:
        total = sum(len(im.annotations) for im in plan.images)
        raise DuplicateImportError(
            f"{duplicates} of {total} shape(s) are already in the project with the same class and geometry "
            f"(first on image {first_image}): this source looks imported already; nothing was stored "
            f"(pass --allow-duplicates to import them again)",
            duplicates=duplicates, path=first_file,
        )


MATCHED_BY_PATH = "path"
MATCHED_BY_RESOLVED_PATH = "resolved path"
MATCHED_BY_NAME = "file name"


class ImageMatcher:
    """Finds the project image a source file refers to: by stored path, then by resolved path
    (the same file through a symlink or another spelling), then by relative file name (the
    longest trailing run of path parts shared with exactly one project image, at least the file
    name; a copy of the same photo in another folder)."""

    def __init__(self, project: Project, images: list[Image]) -> None:
        self._by_path = {im.path: im for im in images}
        self._by_resolved: dict[str, Image] = {}
        self._by_name: dict[str, list[Image]] = {}
        for im in images:
            self._by_resolved.setdefault(_resolved(project.image_path(im)), im)
            self._by_name.setdefault(Path(im.path).name, []).append(im)

    def match(self, rel: str, file: Path, size_hw: tuple[int, int]) -> tuple[Image | None, str]:
        """``(image, how)`` with ``how`` one of the ``MATCHED_BY_*`` names, or ``(None, "")``.
        A match by file name also needs the same (height, width), so another image that happens
        to share a name (``0.png``) is added, not merged."""
        found = self._by_path.get(rel)
        if found is not None:
            return found, MATCHED_BY_PATH
        found = self._by_resolved.get(_resolved(file))
        if found is not None:
            return found, MATCHED_BY_RESOLVED_PATH
        candidates = [im for im in self._by_name.get(Path(file).name, []) if im.size_hw == tuple(size_hw)]
        if len(candidates) == 1:
            return candidates[0], MATCHED_BY_NAME
        if len(candidates) > 1:
            parts = Path(file).parts
            def shared(im: Image) -> int:
                theirs = Path(im.path).parts
                n = 0
                while n < min(len(parts), len(theirs)) and parts[-1 - n] == theirs[-1 - n]:
                    n += 1
                return n
            scores = sorted(((shared(im), im.id) for im in candidates), reverse=True)
            if scores[0][0] > scores[1][0]:
                best = next(im for im in candidates if im.id == scores[0][1])
                return best, MATCHED_BY_NAME
        return None, ""


def _resolved(path: Path) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return str(Path(os.path.abspath(path)))


def assign_ids(wanted: list[int | None], taken: set[int]) -> list[int]:
    """Ids for new records: the wanted id where it is >= 1 and free (first come), otherwise
    the next id above everything taken."""
    taken = set(taken)
    result: list[int | None] = []
    for want in wanted:
        if want is not None and want >= 1 and want not in taken:
            taken.add(want)
            result.append(want)
        else:
            result.append(None)
    next_id = max(taken | {0}) + 1
    final: list[int] = []
    for value in result:
        if value is None:
            value = next_id
            next_id += 1
        final.append(value)
    return final


def _relative(project: Project, file: Path) -> str:
    try:
        return project.relative_path(file)
    except ValueError:  # another drive on Windows: keep it absolute
        return Path(os.path.abspath(file)).as_posix()


def merge_plans(source: Path, plans: list[ImportPlan]) -> ImportPlan:
    """One plan from several (e.g. one per labelme file); categories keep first-seen order."""
    merged = ImportPlan(source=source)
    seen: set[str] = set()
    for plan in plans:
        for c in plan.categories:
            if c.name not in seen:
                seen.add(c.name)
                merged.categories.append(c)
        merged.images.extend(plan.images)
        merged.skipped.extend(plan.skipped)
        merged.created_files.extend(plan.created_files)
    return merged
