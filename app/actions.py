"""Every window action with its menu, text and shortcuts: the one table the menus, the toolbar
and the help dialog are built from. Shortcuts follow labelme / CVAT habits where they agree
(D/A next/previous image, Ctrl+Z/Ctrl+Y, Delete, 1-9 classes, Space/middle-drag pan)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    """``key``: the handler name on MainWindow (``_act_<key>``); ``shortcuts``: Qt key
    sequences (the first one is shown in menus); ``checkable``: a toggle."""

    key: str
    menu: str
    text: str
    shortcuts: tuple[str, ...] = ()
    tip: str = ""
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_project", "File", "&Open project…", ("Ctrl+O",)),
    ActionSpec("import_annotations", "File", "&Import annotations…", ("Ctrl+I",), "COCO, Pascal VOC, Cityscapes, labelme"),
    ActionSpec("export_annotations", "File", "&Export data set…", ("Ctrl+E",), "COCO, Pascal VOC, Cityscapes, YOLO"),
    ActionSpec("save", "File", "&Save", ("Ctrl+S",), "Every edit is saved at once; this only says so (labelme habit)"),
    ActionSpec("quit", "File", "&Quit", ("Ctrl+Q",)),
    ActionSpec("undo", "Edit", "&Undo", ("Ctrl+Z",)),
    ActionSpec("redo", "Edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec("copy", "Edit", "&Copy shapes", ("Ctrl+C",)),
    ActionSpec("paste", "Edit", "&Paste shapes", ("Ctrl+V",), "Paste into the current image (works across images)"),
    ActionSpec("delete", "Edit", "&Delete shapes", ("Delete",)),
    ActionSpec("select_all", "Edit", "Select &all shapes", ("Ctrl+A",)),
    ActionSpec("to_mask", "Edit", "Convert to &mask", ("Ctrl+M",)),
    ActionSpec("to_polygon", "Edit", "Convert to &polygon", ("Ctrl+Shift+M",)),
    ActionSpec("fill_holes", "Edit", "&Fill holes", ("Ctrl+Shift+F",)),
    ActionSpec("bring_front", "Edit", "Bring to &front", ("Ctrl+]",)),
    ActionSpec("send_back", "Edit", "Send to &back", ("Ctrl+[",)),
    ActionSpec(
        "preferences", "Edit", "P&references…", ("Ctrl+,",), "Shortcut scheme (SegStudio, labelme, CVAT) and key bindings"
    ),
    ActionSpec("fit", "View", "&Fit image", ("F", "Ctrl+0")),
    ActionSpec("zoom_1to1", "View", "&Actual pixels (1:1)", ("Ctrl+1",)),
    ActionSpec("zoom_in", "View", "Zoom &in", ("Ctrl++", "Ctrl+=")),
    ActionSpec("zoom_out", "View", "Zoom &out", ("Ctrl+-",)),
    ActionSpec("hide_all", "View", "&Hide all shapes", ("Ctrl+H",), checkable=True),
    ActionSpec("next_image", "Image", "&Next image", ("D",)),
    ActionSpec("prev_image", "Image", "&Previous image", ("A",)),
    ActionSpec("next_unfinished", "Image", "Next &unfinished image", ("Shift+D",)),
    ActionSpec("prev_unfinished", "Image", "Previous u&nfinished image", ("Shift+A",)),
    ActionSpec("mark_done", "Image", "Mark image &done", ("Ctrl+Return",), "Toggle done / in progress", checkable=True),
    ActionSpec("draw_again", "Tools", "&Draw again (last drawing tool)", (), "CVAT habit: N in the CVAT scheme"),
    ActionSpec("brush_smaller", "Tools", "Brush &smaller", ("[",)),
    ActionSpec("brush_larger", "Tools", "Brush &larger", ("]",)),
    ActionSpec("help", "Help", "&Keyboard shortcuts", ("F1", "?")),
    ActionSpec("about", "Help", "&About SegStudio", ()),
)

TOOL_SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("select", "V", "Select / edit shapes"),
    ("box", "R", "Draw boxes"),
    ("polygon", "P", "Draw polygons"),
    ("hole", "H", "Cut a hole into a shape"),
    ("brush", "B", "Paint masks"),
    ("eraser", "E", "Erase from masks and polygons"),
)
"""(tool name, shortcut, description) of the built-in tools."""

CANVAS_GESTURES: tuple[tuple[str, str], ...] = (
    ("Wheel", "Zoom at the pointer"),
    ("Space + drag, middle-drag", "Pan"),
    ("1 – 9", "Choose class 1–9 (also re-classes the selected shapes)"),
    ("Click / Shift+click", "Select / add to the selection"),
    ("Drag on empty canvas", "Select the shapes inside the rectangle"),
    ("Drag a shape", "Move the selected shapes"),
    ("Arrow keys (Shift: ×10)", "Nudge the selected shapes by 1 pixel"),
    ("Drag a vertex or box corner", "Reshape"),
    ("Press on a polygon edge", "Insert a vertex there (and drag it)"),
    ("Right-click a vertex", "Menu: delete the vertex (also Alt+click, or click + Delete)"),
    ("Right-click a shape", "Menu: delete, change class, front / back, convert"),
    ("Polygon: Enter, double-click or click the first vertex", "Close the polygon"),
    ("Polygon: Backspace or Ctrl+Z", "Remove the last vertex"),
    ("Esc", "Cancel the drawing / clear the selection"),
)
