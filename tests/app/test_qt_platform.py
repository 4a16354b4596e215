"""The launcher names the apt packages when Qt's xcb plugin cannot load (instead of Qt's abort)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import qt_platform
from app.qt_platform import missing_libraries, packages_for, uses_xcb, xcb_plugin_path, xcb_problem

REPO = Path(__file__).resolve().parents[2]

# What `ldd libqxcb.so` prints on a fresh Debian 12 / Ubuntu 24.04 desktop (trimmed).
LDD_FRESH_DESKTOP = """\
\tlinux-vdso.so.1 (0x00007ffd1c5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f0000000000)
\tlibxkbcommon.so.0 => /lib/x86_64-linux-gnu/libxkbcommon.so.0 (0x00007f0000100000)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f0000200000)
\tlibsomething-new.so.7 => not found
"""


def test_qt_picks_xcb_on_linux_x11_only() -> None:
    assert uses_xcb({}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb:dpi=2;wayland"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    assert not uses_xcb({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert uses_xcb({"XDG_SESSION_TYPE": "x11", "WAYLAND_DISPLAY": ""}, "linux")
    assert not uses_xcb({}, "darwin") and not uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "win32")


def test_missing_libraries_come_from_ldd_and_map_to_apt_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    calls: list[list[str]] = []

    def fake_run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, LDD_FRESH_DESKTOP, "")

    monkeypatch.setattr(qt_platform.shutil, "which", lambda name: "/usr/bin/ldd" if name == "ldd" else None)
    monkeypatch.setattr(qt_platform.subprocess, "run", fake_run)
    missing = missing_libraries(plugin)
    assert calls == [["/usr/bin/ldd", str(plugin)]]
    assert missing == ["libxkbcommon-x11.so.0", "libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                       "libsomething-new.so.7"]
    assert packages_for(missing) == ["libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1",
                                     "libsomething-new.so.7"]
    line = xcb_problem({"QT_QPA_PLATFORM": "xcb"}, plugin)
    assert line is not None and "\n" not in line
    assert "sudo apt install libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libsomething-new.so.7" in line
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, plugin) is None  # never looked at then
    assert len(calls) == 2


def test_nothing_missing_means_no_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    complete = "\n".join(line for line in LDD_FRESH_DESKTOP.splitlines() if "not found" not in line)
    monkeypatch.setattr(qt_platform.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(qt_platform.subprocess, "run",
                        lambda args, **kwargs: subprocess.CompletedProcess(args, 0, complete, ""))
    assert xcb_problem({"QT_QPA_PLATFORM": "xcb"}, plugin) is None


def _real_plugin_missing() -> tuple[Path, list[str]]:
    plugin = xcb_plugin_path()
    if plugin is None:
        pytest.skip("this PySide6 has no libqxcb.so")
    return plugin, missing_libraries(plugin)


def test_without_ldd_the_loader_names_a_missing_library(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin, missing = _real_plugin_missing()
    if not missing:
        pytest.skip("this machine has every library of Qt's xcb plugin: nothing to report")
    monkeypatch.setattr(qt_platform.shutil, "which", lambda name: None)
    assert missing_libraries(plugin)[0] in missing


def test_make_run_on_a_desktop_without_the_xcb_libraries_prints_the_packages(tmp_path: Path) -> None:
    """The real launcher on this machine: where the plugin lacks libraries (a bare container or
    fresh desktop), ``main.py`` exits 1 with the one line instead of Qt's abort."""
    _, missing = _real_plugin_missing()
    if not missing:
        pytest.skip("this machine has every library of Qt's xcb plugin: the launcher goes on to Qt")
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    env.update(QT_QPA_PLATFORM="xcb", XDG_DATA_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, str(REPO / "main.py")], capture_output=True, text=True, timeout=120,
                          env=env, cwd=REPO)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt install" in lines[0]
    assert all(package in lines[0] for package in packages_for(missing))
    assert "Could not load the Qt platform plugin" not in done.stderr


def test_the_readme_names_the_same_packages() -> None:
    from app.qt_platform import README_PACKAGES, XCB_PACKAGES

    assert f"sudo apt install {' '.join(README_PACKAGES)}" in (REPO / "README.md").read_text(encoding="utf-8")
    assert set(README_PACKAGES) <= set(XCB_PACKAGES.values())
