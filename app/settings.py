"""The user's settings (window size, dock layout, shortcut scheme and custom key bindings) in
one QSettings INI file per user. Tests point it at a temporary folder with
``QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, folder)``."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "SegStudio"
APPLICATION = "SegStudio"
WINDOW_GEOMETRY_KEY = "window/geometry"
WINDOW_STATE_KEY = "window/state"
SHORTCUT_SCHEME_KEY = "shortcuts/scheme"
SHORTCUT_CUSTOM_GROUP = "shortcuts/custom"
"""One key per action (``shortcuts/custom/undo``): its key sequences joined by ``;``."""


def user_settings() -> QSettings:
    """The user's settings file (INI format, user scope)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
