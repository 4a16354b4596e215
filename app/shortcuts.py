"""Shortcut schemes (SegStudio, labelme, CVAT habits) and the user's own bindings.

A binding maps a bindable key — a window action key from :data:`app.actions.ACTIONS` or
``tool_<name>`` for a tool — to Qt key sequences (the first one is shown in menus). A scheme is
SegStudio's defaults with a few overrides; the user's custom bindings (rebound in Preferences)
go on top and are stored in the settings file.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import QSettings
from PySide6.QtGui import QKeySequence

from app.actions import ACTIONS, TOOL_SHORTCUTS
from app.settings import SHORTCUT_CUSTOM_GROUP, SHORTCUT_SCHEME_KEY

Bindings = dict[str, tuple[str, ...]]
"""Bindable key -> Qt key sequences in portable text ("Ctrl+Shift+Z")."""


class Scheme(str, Enum):
    """A set of shortcut habits."""

    SEGSTUDIO = "segstudio"
    LABELME = "labelme"
    CVAT = "cvat"

    @property
    def display_name(self) -> str:
        """How the scheme is named in the GUI."""
        return {"segstudio": "SegStudio", "labelme": "labelme", "cvat": "CVAT"}[self.value]


_OVERRIDES: dict[Scheme, Bindings] = {
    Scheme.SEGSTUDIO: {},
    # labelme: Ctrl+N create polygon, Ctrl+R create rectangle, Ctrl+J edit polygons, Ctrl+S
    # save (every edit is saved already: it says so), D / A next / previous image, Ctrl+F fit.
    Scheme.LABELME: {
        "tool_polygon": ("Ctrl+N", "P"),
        "tool_box": ("Ctrl+R", "R"),
        "tool_select": ("Ctrl+J", "V"),
        "fit": ("Ctrl+F", "Ctrl+0"),
    },
    # CVAT: F next frame, D previous frame, N draw again with the last drawing tool, Ctrl+S save.
    Scheme.CVAT: {
        "next_image": ("F",),
        "prev_image": ("D",),
        "fit": ("Ctrl+0",),
        "draw_again": ("N",),
        "next_unfinished": ("Shift+F",),
        "prev_unfinished": ("Shift+D",),
    },
}


def default_bindings() -> Bindings:
    """SegStudio's own bindings: every action and tool."""
    bindings: Bindings = {spec.key: spec.shortcuts for spec in ACTIONS}
    for name, shortcut, _description in TOOL_SHORTCUTS:
        bindings[f"tool_{name}"] = (shortcut,)
    return bindings


def scheme_bindings(scheme: Scheme) -> Bindings:
    """The bindings of ``scheme`` (SegStudio's defaults with the scheme's overrides)."""
    bindings = default_bindings()
    bindings.update(_OVERRIDES[scheme])
    return bindings


def normalized(sequence: str) -> str:
    """``sequence`` in Qt's portable text form ("ctrl+n" -> "Ctrl+N"); "" when it is not a key."""
    return QKeySequence(sequence).toString(QKeySequence.SequenceFormat.PortableText)


def conflicts(bindings: Bindings) -> dict[str, list[str]]:
    """Key sequences bound to more than one key: sequence -> the bindable keys using it."""
    users: dict[str, list[str]] = {}
    for key, sequences in bindings.items():
        for sequence in sequences:
            text = normalized(sequence)
            if text:
                users.setdefault(text, []).append(key)
    return {sequence: keys for sequence, keys in users.items() if len(keys) > 1}


def load(settings: QSettings) -> tuple[Scheme, Bindings]:
    """The scheme chosen in ``settings`` and the bindings in force (scheme + custom ones)."""
    try:
        scheme = Scheme(str(settings.value(SHORTCUT_SCHEME_KEY, Scheme.SEGSTUDIO.value)))
    except ValueError:
        scheme = Scheme.SEGSTUDIO
    bindings = scheme_bindings(scheme)
    settings.beginGroup(SHORTCUT_CUSTOM_GROUP)
    try:
        for key in settings.childKeys():
            if key in bindings:
                text = str(settings.value(key, ""))
                bindings[key] = tuple(s for s in text.split(";") if s)
    finally:
        settings.endGroup()
    return scheme, bindings


def save(settings: QSettings, scheme: Scheme, bindings: Bindings) -> None:
    """Store ``scheme`` and the bindings that differ from it as custom ones."""
    settings.setValue(SHORTCUT_SCHEME_KEY, scheme.value)
    settings.remove(SHORTCUT_CUSTOM_GROUP)
    base = scheme_bindings(scheme)
    settings.beginGroup(SHORTCUT_CUSTOM_GROUP)
    try:
        for key, sequences in bindings.items():
            if key in base and tuple(sequences) != base[key]:
                settings.setValue(key, ";".join(sequences))
    finally:
        settings.endGroup()
    settings.sync()
