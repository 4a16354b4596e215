"""The workspace at scale: open, filter, next image, accept a pre-label, a reload after an engine
job and the training panel's timer tick, on a project of 100,000 images and 1,000,000 shapes —
this tree's code against a baseline tree (default: commit 620f868, before issue 14's fixes) in
the same run, each on its own copy of the same generated project, with the ratio.

Each side runs in its own process (``--measure``) with ``PYTHONPATH`` at its tree; the parent
builds the baseline tree with ``git archive`` and prints one table. Latencies are wall-clock
milliseconds on the offscreen Qt platform (no display), median and worst of ``--repeat`` runs.
"open" is ``Project.open`` + the main window shown + one event-loop turn, opened as
``app/launch.py`` opens it (this tree: the integrity check deferred to a background thread,
which the later rows wait for; the assist panels built in later event-loop turns). "open until
built" runs the event loop until the window has built everything; "open longest stall" is the
longest time the event loop did not run during that (a 5 ms timer's largest gap, from the
start of opening to 300 ms after the build ended): what the user feels as a freeze. "import"
is the import of the GUI modules at application start (before any window), with ``.pyc`` files
(``--pyc``: each side's modules compiled once beforehand, as in an installed app) or compiled
from source (a checkout run with PYTHONDONTWRITEBYTECODE=1). The class filter rows are the
first choice of a class (its image list read from the store) and of "No shapes", then switches.

    .venv/bin/python bench/scale.py [--images 100000] [--shapes 1000000] [--repeat 15] [--pyc]
        [--baseline-rev 620f868 | --baseline-tree PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PREDICTED_IMAGES = 40
"""Images that get two pre-labels each (accept latency is measured on them)."""


# ---------------------------------------------------------------------------------- measure side
def build(path: Path, n_images: int, n_shapes: int) -> None:
    """A project of ``n_images`` image records (files absent: the canvas shows its missing-file
    frame) and ``n_shapes`` boxes spread evenly, plus a model version and two pre-labels on each
    of the first :data:`PREDICTED_IMAGES` images. Deterministic: both sides get the same data."""
    from annotations.geometry import Box
    from annotations.model import Annotation, Category, Image, ModelVersion, Prediction
    from annotations.store import Project

    categories = [Category(i, f"class{i}", "#%06x" % (i * 0x151515 % 0xFFFFFF)) for i in range(1, 6)]
    with Project.create(path, categories) as project:
        project.add_images([Image(i + 1, f"images/{i + 1:06d}.jpg", 640, 480) for i in range(n_images)])
        per_image = max(1, n_shapes // n_images)
        chunk: list[Any] = []
        for k in range(n_shapes):
            image_id = 1 + k // per_image if k // per_image < n_images else 1 + k % n_images
            j = k % per_image
            x, y = 10 + (j * 53) % 560, 10 + (j * 37) % 400
            chunk.append(Annotation(0, image_id, 1 + k % 5, Box(x, y, x + 40, y + 30), z_order=j))
            if len(chunk) == 50_000:
                project.add_annotations(chunk)
                chunk = []
        if chunk:
            project.add_annotations(chunk)
        version = project.add_model_version(ModelVersion(0, "unet_tiny", tuple(c.id for c in categories)))
        project.add_predictions(
            Prediction(0, image_id, 1 + s, Box(300 + 60 * s, 300, 340 + 60 * s, 340), 0.9 - 0.1 * s, version.id)
            for image_id in range(1, PREDICTED_IMAGES + 1)
            for s in range(2)
        )


def _timed(action: Callable[[], Any], settle: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    settle()
    return (time.perf_counter() - start) * 1000.0


STALL_PROBE_MS = 5
"""The interval of the timer whose largest gap is the longest stall."""
AFTER_BUILD_MS = 300
"""How long the stall probe keeps running after the window says it is built (first paints)."""


def import_gui() -> float:
    """Import the GUI modules as app/launch.py does at start (``app.launch.preload_gui`` where
    this tree has it); milliseconds."""
    start = time.perf_counter()
    import app.launch

    preload = getattr(app.launch, "preload_gui", None)
    if preload is not None:
        preload()
    else:  # a tree from before the preload: the window imports the rest on open
        import app.main_window
    return (time.perf_counter() - start) * 1000.0


def open_probed(open_window: Callable[[], Any]) -> tuple[float, float, float, Any]:
    """Run ``open_window`` inside the event loop with a :data:`STALL_PROBE_MS` timer ticking;
    returns (ms until shown + one turn, ms until built, longest stall ms, the window)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    ticks: list[float] = []
    marks: dict[str, float] = {}
    holder: dict[str, Any] = {}

    def tick() -> None:
        now = time.perf_counter()
        ticks.append(now)
        window = holder.get("window")
        if window is None:
            return
        marks.setdefault("turn", now)  # the first turn after construct + show
        if "built" not in marks and not getattr(window, "building", False):
            marks["built"] = now
            QTimer.singleShot(AFTER_BUILD_MS, loop.quit)

    def start() -> None:
        marks["start"] = time.perf_counter()
        ticks.append(marks["start"])
        holder["window"] = open_window()

    probe = QTimer()
    probe.setInterval(STALL_PROBE_MS)
    probe.timeout.connect(tick)
    probe.start()
    QTimer.singleShot(0, start)
    loop.exec()
    probe.stop()
    longest = max(b - a for a, b in zip(ticks, ticks[1:]))
    ms = lambda key: (marks[key] - marks["start"]) * 1000.0  # noqa: E731
    return ms("turn"), ms("built"), longest * 1000.0, holder["window"]


def measure(project_path: Path, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per operation (a list per operation) with the code on ``sys.path``."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["scale-bench", "-platform", "offscreen"])
    times: dict[str, list[float]] = {"import": [import_gui()]}
    from annotations.store import Project
    from app.main_window import MainWindow

    def settle() -> None:
        app.processEvents()

    def open_project() -> Project:
        try:  # as app/launch.py opens it: the whole-file integrity check runs in the background
            return Project.open(project_path, defer_check=True)
        except TypeError:  # a tree from before the deferred check
            return Project.open(project_path)

    def open_window() -> MainWindow:
        window = MainWindow(open_project(), owns_project=True)
        window.resize(1400, 900)
        window.show()
        return window

    shown, built, stall, window = open_probed(open_window)
    times["open"], times["open_until_built"], times["open_longest_stall"] = [shown], [built], [stall]
    for _ in range(3):
        settle()
    integrity = getattr(window, "integrity", None)  # the background check (this tree): let it end first
    if integrity is not None:
        integrity.wait(60.0)
        settle()
    first = window.session.images[0].id
    window.open_image(first)
    settle()

    times["next_image"] = [_timed(lambda: window.step_image(+1), settle) for _ in range(repeat)]
    panel = window.images_panel
    filters: list[float] = []
    for _ in range(max(1, repeat // 5)):
        filters.append(_timed(lambda: panel.set_status_filter("unfinished"), settle))
        filters.append(_timed(lambda: panel.set_status_filter("all"), settle))
    times["filter"] = filters
    category = window.session.categories[0].id
    times["class_filter_first"] = [_timed(lambda: panel.set_class_filter(category), settle)]
    panel.set_class_filter(None)
    settle()
    times["no_shapes_first"] = [_timed(lambda: panel.set_class_filter(-1), settle)]
    switches: list[float] = []
    for _ in range(max(1, repeat // 5)):
        switches.append(_timed(lambda: panel.set_class_filter(category), settle))
        switches.append(_timed(lambda: panel.set_class_filter(None), settle))
    times["class_filter"] = switches
    times["reload"] = [_timed(window.refresh, settle) for _ in range(max(3, repeat // 3))]

    features = window.assist
    layer, training = features.layer, features.training_panel
    times["training_timer_tick"] = [_timed(training.check_auto_retrain, settle) for _ in range(max(3, repeat // 3))]

    accepts: list[float] = []
    for image_id in range(1, min(PREDICTED_IMAGES, repeat) + 1):
        window.open_image(image_id)
        features.context.predictionsChanged.emit()
        settle()
        if not layer.predictions:
            continue
        layer.select(layer.predictions[0].id)
        accepts.append(_timed(layer.accept, settle))
    times["accept"] = accepts
    window.close()
    settle()
    return times


# ---------------------------------------------------------------------------------- parent side
def _run_side(tree: Path, project: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    env = dict(os.environ, PYTHONPATH=str(tree), QT_QPA_PLATFORM="offscreen")
    if args.pyc:  # compile the side's modules once, into its own cache folder, as an install would
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(project.parent / f"pyc-{project.stem}")
        warm = ("import app.main_window, importlib, app.assist as a; "
                "[importlib.import_module(f'app.assist.{m}') for m in getattr(a, 'MODULES', ())]")
        subprocess.run([sys.executable, "-c", warm], cwd=tree, env=env, capture_output=True, check=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", "--project", str(project),
               "--images", str(args.images), "--shapes", str(args.shapes), "--repeat", str(args.repeat)]
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: measuring failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _baseline_tree(args: argparse.Namespace, scratch: Path) -> Path:
    if args.baseline_tree:
        return Path(args.baseline_tree).resolve()
    tree = scratch / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline_rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _row(name: str, new: list[float], old: list[float]) -> str:
    if not new or not old:
        return f"{name:<22} (no samples)"
    new_med, old_med = statistics.median(new), statistics.median(old)
    ratio = old_med / new_med if new_med > 0 else float("inf")
    return (f"{name:<22} {old_med:>10.1f} {max(old):>10.1f} {new_med:>10.1f} {max(new):>10.1f} {ratio:>8.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--shapes", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline-rev", default="620f868")
    parser.add_argument("--baseline-tree", default="")
    parser.add_argument("--pyc", action="store_true", help="import from .pyc files (as installed), not from source")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--project", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        project = Path(args.project)
        if not project.exists():
            build(project, args.images, args.shapes)
        print(json.dumps(measure(project, args.repeat)))
        return 0
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as folder:
        scratch = Path(folder)
        baseline = _baseline_tree(args, scratch)
        old = _run_side(baseline, scratch / "old.segproj", args)
        new = _run_side(ROOT, scratch / "new.segproj", args)
    modules = "from .pyc files" if args.pyc else (
        "compiled from source" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "with the .pyc files found")
    print(f"{args.images:,} images, {args.shapes:,} shapes; milliseconds (median, worst); "
          f"baseline {args.baseline_tree or args.baseline_rev} vs this tree; modules imported {modules}; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'operation':<22} {'old med':>10} {'old max':>10} {'new med':>10} {'new max':>10} {'speed-up':>9}")
    for name in ("import", "open", "open_until_built", "open_longest_stall", "next_image", "filter",
                 "class_filter_first", "no_shapes_first", "class_filter", "reload", "training_timer_tick", "accept"):
        print(_row(name, new.get(name, []), old.get(name, [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
