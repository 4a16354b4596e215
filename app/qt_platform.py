"""Will Qt's X11 (xcb) platform plugin load? Checked before Qt starts, without importing Qt.

On a fresh Debian/Ubuntu desktop the PySide6 wheel's ``libqxcb.so`` lacks a few system
libraries (``libxcb-cursor.so.0`` and friends); Qt then prints "Could not load the Qt platform
plugin xcb" and aborts the process. :func:`xcb_problem` finds the missing libraries first (the
``not found`` lines of ``ldd`` on the plugin; without ``ldd``, the loader's own error) and
returns one line naming the apt packages to install, or ``None`` when the plugin will load or
will not be used (offscreen, Wayland, macOS, Windows).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path

# Every X11 library the xcb plugin of Qt 6.11 (PySide6 6.11 wheels) links to that a minimal
# desktop or container may lack: soname -> Debian/Ubuntu package. Read from `ldd libqxcb.so`.
XCB_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
# The line the README shows: the packages a fresh Ubuntu 22.04/24.04 or Debian 12 desktop lacks
# most often (all of them are small).
README_PACKAGES = ("libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
                   "libxcb-render-util0", "libxcb-randr0", "libxcb-shape0", "libxcb-xkb1")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_DLOPEN_MISSING = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


def xcb_plugin_path() -> Path | None:
    """``libqxcb.so`` of the installed PySide6 wheel, or ``None`` (no PySide6, not a wheel)."""
    spec = find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.is_file():
            return plugin
    return None


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will pick the xcb plugin: Linux, and ``QT_QPA_PLATFORM`` names xcb first or is
    unset outside a Wayland session (Qt prefers its Wayland plugin there)."""
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0].strip() == "xcb"
    wayland = environ.get("XDG_SESSION_TYPE") == "wayland" and bool(environ.get("WAYLAND_DISPLAY"))
    return not wayland


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames the dynamic loader cannot find for ``plugin`` (with its dependencies), in ldd's order."""
    ldd = shutil.which("ldd")
    if ldd is not None:
        try:
            done = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            return list(dict.fromkeys(_NOT_FOUND.findall(done.stdout)))
    try:  # no ldd: the loader names the first missing library
        ctypes.CDLL(str(plugin), mode=os.RTLD_LAZY)
    except OSError as exc:
        return _DLOPEN_MISSING.findall(str(exc))[:1] or [f"(a library of {plugin.name}: {exc})"]
    return []


def packages_for(missing: Sequence[str]) -> list[str]:
    """The apt packages providing ``missing`` sonames (unknown ones are named as they are)."""
    return list(dict.fromkeys(XCB_PACKAGES.get(name, name) for name in missing))


def xcb_message(missing: Sequence[str]) -> str:
    """The one line printed instead of Qt's abort."""
    return (f"error: Qt's X11 platform plugin (xcb) cannot load: {', '.join(missing)} missing. "
            f"On Debian/Ubuntu run: sudo apt install {' '.join(packages_for(missing))}  "
            f"(or run headless with QT_QPA_PLATFORM=offscreen)")


def xcb_problem(environ: Mapping[str, str] | None = None, plugin: Path | None = None) -> str | None:
    """The one-line message when Qt would abort for want of xcb libraries, else ``None``.

    ``environ`` defaults to ``os.environ``; ``plugin`` to the installed wheel's ``libqxcb.so``.
    """
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ):
        return None
    plugin = plugin or xcb_plugin_path()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return xcb_message(missing) if missing else None
