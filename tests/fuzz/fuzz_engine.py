"""Seeded mutations of real annotation files, and the harness that imports each mutant into a
project and checks the three promises of issue 17:

1. no exception other than the package's input-error root (``AnnotationsError``) escapes;
2. after every refusal the project is unchanged (a digest of every stored row);
3. every accepted file exports (COCO, and VOC for a sample) and renders (every geometry
   rasterized at its image size).

Counts are kept in :class:`FuzzTally`; ``SEGSTUDIO_FUZZ_CASES`` sets the cases per format
(default :data:`DEFAULT_CASES`), ``SEGSTUDIO_FUZZ_SEED`` the first seed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import sqlite3
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotations.errors import AnnotationsError
from annotations.formats import ExportOptions, ImportOptions, export_project, import_into
from annotations.formats.raster import dense_mask
from annotations.model import Category
from annotations.store import Project

DEFAULT_CASES = 200


def cases_per_format() -> int:
    """``SEGSTUDIO_FUZZ_CASES`` or :data:`DEFAULT_CASES`."""
    try:
        return max(1, int(os.environ.get("SEGSTUDIO_FUZZ_CASES", DEFAULT_CASES)))
    except ValueError:
        return DEFAULT_CASES


def first_seed() -> int:
    """``SEGSTUDIO_FUZZ_SEED`` or 0."""
    try:
        return int(os.environ.get("SEGSTUDIO_FUZZ_SEED", "0"))
    except ValueError:
        return 0


# ------------------------------------------------------------------------------ JSON mutation
HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**30, 1e308, -1e308, 1e-320, 0.5,
    float("inf"), float("-inf"), float("nan"), "", "x", "-1", "1e9", "é" * 3, "../../etc/passwd", "/etc/passwd",
    "a" * 300, [], {}, [[]], [1], [1, 2, 3], {"a": 1}, [None, None], ["a", "b"], {"size": [1, 1], "counts": "0"},
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indices) into a JSON tree, the root excluded."""
    out: list[tuple] = []
    stack: list[tuple[Any, tuple]] = [(node, prefix)]
    while stack:
        current, path = stack.pop()
        items = current.items() if isinstance(current, dict) else enumerate(current) if isinstance(current, list) else ()
        for key, value in items:
            out.append(path + (key,))
            if isinstance(value, (dict, list)):
                stack.append((value, path + (key,)))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


DEEP_MARK = "__segstudio_fuzz_deep_"


def _deep(depth: int) -> str:
    """A marker that :func:`dumps_hostile` replaces by ``depth`` nested lists (built as text:
    deep Python structures cannot even be copied or printed)."""
    return f"{DEEP_MARK}{depth}__"


def mutate_json(doc: Any, rng: random.Random, *, prefer: tuple[str, ...] = ()) -> tuple[Any, str]:
    """A mutated deep copy of ``doc`` and a description. ``prefer`` biases the choice towards
    paths containing one of these keys (the interesting fields of a format)."""
    doc = copy.deepcopy(doc)
    description = []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        paths = _paths(doc)
        if not paths:
            break
        preferred = [p for p in paths if any(k in p for k in prefer)]
        path = rng.choice(preferred if preferred and rng.random() < 0.7 else paths)
        parent = _get(doc, path[:-1])
        key = path[-1]
        value = parent[key]
        kind = rng.randrange(11)
        if kind == 0 and isinstance(parent, dict):
            del parent[key]
            description.append(f"delete {path}")
            continue
        if kind == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
            new = value * rng.choice((-1, 0, 1e9, 1e300, 2**40, -(2**70)))
        elif kind in (9, 10) and isinstance(value, (int, float)) and not isinstance(value, bool):
            # a plausible edit (most of these are accepted, so the export and render checks run)
            new = type(value)(value + rng.choice((-3, -1, 1, 7))) if kind == 9 else value * rng.choice((0.5, 1.5, 2))
        elif kind == 2 and isinstance(value, list) and value:
            new = value * rng.choice((0, 2, 50)) if len(value) < 200 else value[: len(value) // 2]
        elif kind == 3:
            new = _deep(rng.choice((5, 70, 2000)))
        elif kind == 4 and isinstance(value, str):
            new = rng.choice((value * 40, value + "\x00", value[::-1], value.upper(), "../" + value))
        else:
            new = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        parent[key] = new
        description.append(f"set {path} = {repr(new)[:60]}")
    return doc, "; ".join(description)


def dumps_hostile(doc: Any, rng: random.Random) -> str:
    """JSON text of ``doc`` (NaN/Infinity allowed, as Python writes them), sometimes damaged at
    the byte level (truncated, a byte changed)."""
    import re

    try:
        text = json.dumps(doc)
    except (ValueError, RecursionError):
        text = "[" * 5000
    text = re.sub(f'"{DEEP_MARK}(\\d+)__"', lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), text)
    roll = rng.random()
    if roll < 0.05 and text:
        text = text[: rng.randrange(len(text))]
    elif roll < 0.10 and text:
        position = rng.randrange(len(text))
        text = text[:position] + rng.choice('{}[],:"\\0x') + text[position + 1:]
    return text


def mutate_xml(text: str, rng: random.Random) -> tuple[str, str]:
    """A VOC XML with element texts replaced, elements duplicated or removed, or entities added."""
    import re

    elements = list(re.finditer(r"<(\w+)>([^<]*)</\1>", text))
    kind = rng.randrange(6)
    if kind == 0 and elements:
        match = rng.choice(elements)
        value = rng.choice(["inf", "-inf", "nan", "1e308", "-5", "0", "99999999", "abc", "", "1.5", "2147483648",
                            "../../x.jpg", "a" * 300, "Infinity"])
        return text[: match.start(2)] + value + text[match.end(2):], f"<{match.group(1)}> = {value!r}"
    if kind == 1:
        blocks = list(re.finditer(r"<object>.*?</object>", text, re.S))
        if blocks:
            block = rng.choice(blocks).group(0)
            return text.replace("</annotation>", block * rng.choice((2, 300)) + "</annotation>"), "duplicate objects"
    if kind == 2 and elements:
        match = rng.choice(elements)
        return text[: match.start()] + text[match.end():], f"remove <{match.group(1)}>"
    if kind == 3:
        return ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;">]>'
                + text.split("?>", 1)[-1].replace("cat", "&y;")), "entity"
    if kind == 4 and text:
        position = rng.randrange(len(text))
        return text[:position] + rng.choice("<>&\"'\x00") + text[position + 1:], f"byte at {position}"
    return text[: rng.randrange(max(1, len(text)))], "truncated"


def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A few bytes of a binary file (a PNG) changed, or the file truncated."""
    if rng.random() < 0.3:
        cut = rng.randrange(max(1, len(data)))
        return data[:cut], f"truncated at {cut}"
    damaged = bytearray(data)
    for _ in range(rng.randrange(1, 6)):
        damaged[rng.randrange(len(damaged))] = rng.randrange(256)
    return bytes(damaged), "bytes changed"


# ---------------------------------------------------------------------------------- harness
def project_digest(path: Path) -> str:
    """SHA-256 over every row of every table of a project file (read with plain sqlite3)."""
    digest = hashlib.sha256()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            digest.update(table.encode())
            for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                digest.update(repr(row).encode())
    finally:
        db.close()
    return digest.hexdigest()


@dataclass
class FuzzTally:
    """Outcome counts of a fuzz run; ``crashes`` and ``changed`` list what broke a promise."""

    cases: int = 0
    clean_errors: int = 0
    accepted: int = 0
    crashes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def line(self, name: str) -> str:
        """One summary line."""
        return (f"{name}: {self.cases} cases, {self.clean_errors} clean errors, {self.accepted} accepted, "
                f"{len(self.crashes)} crashes, {len(self.changed)} refusals that changed the project")


def make_template(folder: Path) -> Path:
    """A closed project with one category and one image (so "unchanged" is meaningful)."""
    from annotations.model import Image

    path = folder / "template.segproj"
    with Project.create(path, [Category(1, "existing", "#123456")]) as project:
        project.add_images([Image(0, "elsewhere/existing.png", 10, 10)])
    return path


def render_all(project: Project) -> None:
    """Rasterize every stored geometry at its image size (what the GUI and every export do)."""
    sizes = {im.id: im.size_hw for im in project.images()}
    for annotation in project.annotations():
        dense_mask(annotation, sizes[annotation.image_id])


def run_case(
    work: Path, template: Path, format_name: str, source: Path, label: str, tally: FuzzTally, *, export_voc: bool,
    **format_options: Any,
) -> None:
    """Import ``source`` into a copy of ``template`` and check the promises (see module doc);
    ``format_options`` go to the importer (e.g. ``images_root`` of the mask formats)."""
    project_path = work / "case.segproj"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{project_path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, project_path)
    extracted = work / "case_images"
    shutil.rmtree(extracted, ignore_errors=True)
    before = project_digest(project_path)
    tally.cases += 1
    stage = "import"
    try:
        with Project.open(project_path) as project:
            try:
                import_into(project, format_name, source, ImportOptions(add_labels=True), **format_options)
            except AnnotationsError:
                tally.clean_errors += 1
                project.close()
                if project_digest(project_path) != before:
                    tally.changed.append(label)
                return
            tally.accepted += 1
            stage = "render"
            render_all(project)
            stage = "export coco"
            out = work / "export"
            export_project(project, "coco", out, ExportOptions(overwrite=True))
            if export_voc:
                stage = "export voc"
                export_project(project, "voc", work / "export_voc", ExportOptions(overwrite=True))
    except AnnotationsError as exc:
        if stage == "export voc":
            return  # VOC's own limits (e.g. > 254 objects in one image) are a clean refusal
        tally.crashes.append(f"{label}: accepted, then {stage} failed: {type(exc).__name__}: {str(exc)[:200]}")
    except Exception as exc:  # noqa: BLE001 - every other exception is a crash to report
        tail = traceback.format_exc().strip().splitlines()[-3:]
        tally.crashes.append(f"{label}: {stage}: {type(exc).__name__}: {str(exc)[:200]} | {' / '.join(tail)[:300]}")


Mutator = Callable[[random.Random, Path], tuple[Path, str]]


def assert_promises(name: str, tally: FuzzTally, capsys: Any, *, both_outcomes: bool = False) -> None:
    """Print ``tally``'s summary line (past pytest's capture) and fail on any broken promise; with
    ``both_outcomes`` the run must also have produced clean refusals and accepted imports."""
    with capsys.disabled():
        print("\n" + tally.line(name))
    assert tally.crashes == [], "\n".join(tally.crashes[:10])
    assert tally.changed == [], "refusals changed the project: " + "; ".join(tally.changed[:10])
    assert tally.cases == tally.clean_errors + tally.accepted + len(tally.crashes)
    if both_outcomes:
        assert tally.accepted > 0 and tally.clean_errors > 0, "the mutations should produce both outcomes"
