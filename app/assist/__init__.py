"""Model-assisted labeling in the GUI: the engine bridge and jobs panel, the pre-label layer and
predictions panel, the interactive mask tool, the training panel and the review dashboard.

``install(window)`` registers the panels ``jobs``, ``training``, ``review`` and
``predictions``, the ``interactive_mask`` tool and the Model menu, and returns the
:class:`AssistFeatures` (the window keeps them as ``window.assist``). ``install_steps`` does the
same in a few steps, each short (< 100 ms at a big project), so the main window can run them in
separate event-loop turns after it is on screen. ``preload()`` imports the modules they need
(call it at application start: first imports cost ~100-400 ms). The engine worker is started on
first use, never at start-up.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget, QWidget

    from app.assist.bridge import ClientLike, EngineBridge
    from app.assist.context import AssistContext
    from app.assist.host import AssistHost
    from app.assist.jobs_panel import JobsPanel
    from app.assist.mask_tool import InteractiveMaskTool
    from app.assist.predictions_panel import PredictionsPanel
    from app.assist.prelabel_layer import PredictionKeys, PredictionLayer
    from app.assist.review_panel import ReviewPanel
    from app.assist.segmenter import InteractiveSegmenter
    from app.assist.training_panel import TrainingPanel

log = logging.getLogger(__name__)

PANEL_TITLES = {
    "predictions": "Pre-labels",
    "jobs": "Jobs",
    "training": "Training",
    "review": "Review",
}
MASK_TOOL_NAME = "interactive_mask"
MASK_TOOL_SHORTCUT = "I"


@dataclass
class AssistFeatures:
    """Everything ``install`` created (tests and other panels reach the features through it)."""

    context: AssistContext
    bridge: EngineBridge
    layer: PredictionLayer
    keys: PredictionKeys
    segmenter: InteractiveSegmenter
    mask_tool: InteractiveMaskTool | None
    predictions_panel: PredictionsPanel
    jobs_panel: JobsPanel
    training_panel: TrainingPanel
    review_panel: ReviewPanel
    docks: dict[str, QDockWidget]
    actions: dict[str, QAction]

    def shutdown(self) -> None:
        """Stop the worker and detach the key filter (the window is closing)."""
        self.keys.detach()
        self.bridge.shutdown()


BOTTOM_PANEL_HEIGHT = 330


def _add_panel(window: AssistHost, name: str, widget: QWidget, *, bottom: bool = False,
               tab_with: str | None = None) -> QDockWidget:
    """``window.add_panel`` placing the dock where it belongs from the start: the wide panels
    (training, review, jobs) under the canvas, the pre-labels beside the Shapes list."""
    from PySide6.QtCore import Qt

    area = Qt.DockWidgetArea.BottomDockWidgetArea if bottom else Qt.DockWidgetArea.RightDockWidgetArea
    return window.add_panel(name, PANEL_TITLES[name], widget, area=area, tab_with=tab_with)


def _arrange_bottom(window: AssistHost, docks: list[QDockWidget]) -> None:
    """Size the panels under the canvas and close them until asked for (``show_panel`` or the
    Model menu): they need width, not the narrow side column."""
    from PySide6.QtCore import Qt

    if not docks:
        return
    docks[0].raise_()
    # One tab group: resizing its front dock sizes the group (the others are not layout items).
    window.main_widget.resizeDocks(docks[:1], [BOTTOM_PANEL_HEIGHT], Qt.Orientation.Vertical)
    for dock in docks:
        dock.hide()


def prepare_panel(features: AssistFeatures | None, name: str, wait: bool = False) -> None:
    """Give panel ``name`` something to show when it is opened from the command line
    (``main.py --panel NAME``): the review panel runs the default review in the background;
    with ``wait`` (screenshots) this returns once the result is on screen."""
    if features is None:
        return
    if name == "review":
        panel = features.review_panel
        if panel.run_default_review() and wait:
            panel.wait_for_review()
    elif name == "training":
        features.training_panel.refresh_versions()


MODULES = ("bridge", "context", "jobs_panel", "mask_tool", "predictions_panel", "prelabel_layer", "review_panel",
           "segmenter", "training_panel")
"""The submodules ``install`` imports (``preload`` imports them ahead)."""


def preload() -> None:
    """Import every module ``install`` needs (Qt-only, no torch), so that opening a project
    does not pay for first imports: call it once at application start."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")


def install(window: AssistHost, client_factory: Callable[[], ClientLike] | None = None) -> AssistFeatures:
    """Attach the assist panels, tool and menu to ``window`` (the main window, which keeps the
    result as ``window.assist``). ``client_factory`` builds the engine client (default:
    ``engine.client.EngineClient(max_restarts=3)``)."""
    steps = install_steps(window, client_factory)
    while True:
        try:
            next(steps)
        except StopIteration as done:  # the generator's return value
            features: AssistFeatures = done.value
            return features


def install_steps(
    window: AssistHost, client_factory: Callable[[], ClientLike] | None = None
) -> Generator[None, None, AssistFeatures]:
    """:func:`install` as a generator: each ``next()`` does one short step (engine bridge and
    pre-label layer; the pre-labels panel; the training panel; the review and jobs panels; their
    docks; the tool and Model menu); the generator's return value is the :class:`AssistFeatures`."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QAction, QKeySequence

    from app.assist.bridge import EngineBridge
    from app.assist.context import AssistContext
    from app.assist.jobs_panel import JobsPanel
    from app.assist.mask_tool import InteractiveMaskTool
    from app.assist.predictions_panel import PredictionsPanel
    from app.assist.prelabel_layer import PredictionKeys, PredictionLayer
    from app.assist.review_panel import ReviewPanel
    from app.assist.segmenter import InteractiveSegmenter
    from app.assist.training_panel import TrainingPanel

    qt_window = window.main_widget
    bridge = EngineBridge(client_factory, parent=qt_window)
    context = AssistContext(window, bridge, parent=qt_window)
    layer = PredictionLayer(context, parent=qt_window)
    keys = PredictionKeys(layer, qt_window)
    segmenter = InteractiveSegmenter(context, parent=qt_window)
    yield
    predictions_panel = PredictionsPanel(context, layer)
    docks = {"predictions": _add_panel(window, "predictions", predictions_panel, tab_with="annotations")}
    yield
    training_panel = TrainingPanel(context)
    yield
    review_panel = ReviewPanel(context)
    jobs_panel = JobsPanel(bridge)
    yield
    for name, widget in (("training", training_panel), ("review", review_panel), ("jobs", jobs_panel)):
        docks[name] = _add_panel(window, name, widget, bottom=True, tab_with="training")
    _arrange_bottom(window, [docks["training"], docks["review"], docks["jobs"]])
    yield

    def reveal_jobs(job_id: str) -> None:
        """A pre-label or training job starts while the bottom panels are closed: show Jobs."""
        if bridge.job(job_id).kind != "segment" and all(docks[n].isHidden() for n in ("jobs", "training", "review")):
            window.show_panel("jobs")

    bridge.jobAdded.connect(reveal_jobs)

    tool = InteractiveMaskTool(segmenter)
    mask_tool: InteractiveMaskTool | None = tool
    try:
        window.register_tool(MASK_TOOL_NAME, tool, MASK_TOOL_SHORTCUT)
    except ValueError:  # a tool of that name is registered already
        log.exception("could not register the interactive mask tool")
        mask_tool = None

    def action(text: str, slot: Callable[[], object], shortcut: str = "", tip: str = "") -> QAction:
        act = QAction(text, qt_window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        return act

    def show(name: str) -> Callable[[], None]:
        return lambda: window.show_panel(name)

    actions = {
        "prelabel_unfinished": action("Pre-label all unfinished images", predictions_panel.prelabel_unfinished,
                                      tip="Ask the engine for proposals on every image not done yet"),
        "prelabel_image": action("Pre-label this image", predictions_panel.prelabel_current),
        "accept_all": action("Accept all pre-labels above the threshold", layer.accept_all),
        "mask_tool": action("Interactive mask tool", lambda: window.set_tool(MASK_TOOL_NAME)),
        "predictions": action("Pre-labels panel", show("predictions")),
        "training": action("Training panel", show("training")),
        "jobs": action("Jobs panel", show("jobs")),
        "review": action("Review dashboard", show("review")),
    }
    for act in actions.values():
        window.add_menu_action("Model", act)

    features = AssistFeatures(context, bridge, layer, keys, segmenter, mask_tool, predictions_panel, jobs_panel,
                              training_panel, review_panel, docks, actions)

    class _CloseWatcher(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Close:
                features.shutdown()
            return False

    watcher = _CloseWatcher(qt_window)
    qt_window.installEventFilter(watcher)
    return features
