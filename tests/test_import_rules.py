"""The layer rules of DESIGN.md section 1, enforced.

- ``annotations`` imports neither torch nor PySide6, nor ``engine``/``app``;
- ``engine`` never imports PySide6 or ``app``;
- ``app`` never imports torch/torchvision; ``engine.protocol`` and ``engine.client`` load no torch.

Three checks: a static scan of every import statement (including imports inside functions and
``importlib.import_module("...")`` with a literal name), imports in a fresh interpreter that
look at ``sys.modules`` afterwards, and the import-linter contracts of ``pyproject.toml``, which
follow import chains *transitively* (``app -> engine.client -> engine.worker -> ... -> torch``).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "annotations": ("torch", "torchvision", "PySide6", "engine", "app"),
    "engine": ("PySide6", "app"),
    "app": ("torch", "torchvision"),
}


def imported_modules(source: str, module_name: str, is_package: bool = False) -> set[str]:
    """Every module name a source file imports (absolute, relative ones resolved)."""
    tree = ast.parse(source)
    package_parts = module_name.split(".") if is_package else module_name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    return found


def _violations(package: str) -> list[str]:
    problems = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        relative = path.relative_to(REPO_ROOT)
        is_package = path.name == "__init__.py"
        module = ".".join(relative.with_suffix("").parts[:-1] if is_package else relative.with_suffix("").parts)
        for name in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                problems.append(f"{relative} imports {name}")
    return problems


def test_scanner_finds_every_form_of_import() -> None:
    source = """
import torch.nn as nn
from PySide6.QtCore import Qt
def later():
    import torchvision
    from .. import app
    importlib.import_module("engine.worker")
"""
    found = imported_modules(source, "annotations.store.project")
    assert {"torch.nn", "PySide6.QtCore", "torchvision", "annotations.app", "engine.worker"} <= found
    assert "app" not in {n.split(".")[0] for n in found}  # a relative import stays in its package
    assert imported_modules("from . import x", "annotations", is_package=True) == {"annotations", "annotations.x"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_static_layer_rules(package: str) -> None:
    if not (REPO_ROOT / package).is_dir():
        pytest.skip(f"{package}/ does not exist yet")
    assert _violations(package) == []


def _fresh_import(modules: list[str], optional: list[str] = ()) -> dict:
    """Import modules in a new interpreter; report failures and which heavy modules got loaded."""
    code = f"""
import importlib, json, sys
failed = {{}}
for name in {modules!r} + {list(optional)!r}:
    try:
        importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001
        failed[name] = repr(exc)
heavy = sorted(m for m in ("torch", "torchvision", "PySide6", "engine", "app") if m in sys.modules)
print(json.dumps({{"failed": failed, "loaded": heavy}}))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _submodules(package: str) -> list[str]:
    """Every module file under a package folder, as dotted names."""
    names = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_importing_annotations_loads_no_torch_no_qt() -> None:
    required = ["annotations", "annotations.geometry", "annotations.model", "annotations.store", "annotations.presets"]
    optional = [m for m in _submodules("annotations") if m not in required]  # formats, metrics, ...
    report = _fresh_import(required, optional)
    assert not {name: err for name, err in report["failed"].items() if name in required}
    assert report["loaded"] == [], f"importing annotations loaded {report['loaded']}"


def test_engine_protocol_and_client_load_no_torch() -> None:
    modules = ["engine.protocol"]
    if (REPO_ROOT / "engine" / "client.py").exists():
        modules += ["engine.client", "engine.worker"]  # the client imports the worker's entry point
    report = _fresh_import(modules)
    assert report["failed"] == {}
    assert "torch" not in report["loaded"] and "torchvision" not in report["loaded"]
    assert "PySide6" not in report["loaded"] and "app" not in report["loaded"]
    if "engine.client" not in modules:
        pytest.skip("engine/client.py does not exist yet: only engine.protocol was checked")


def test_importing_the_gui_loads_no_torch() -> None:
    if not (REPO_ROOT / "app" / "launch.py").exists():
        pytest.skip("app/launch.py does not exist yet")
    report = _fresh_import(["app", "app.launch"], [m for m in _submodules("app") if m not in ("app", "app.launch")])
    assert not {name: err for name, err in report["failed"].items() if name in ("app", "app.launch")}
    assert "PySide6" in report["loaded"]  # the check really imported the GUI
    assert "torch" not in report["loaded"] and "torchvision" not in report["loaded"]


def test_import_linter_contracts_cover_the_layer_rules() -> None:
    """Every rule of DESIGN.md section 1 has a contract, and each forbids what the rule names."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = {c["id"]: c for c in config["contracts"]}
    for package, forbidden in FORBIDDEN.items():
        (contract,) = [c for c in contracts.values() if c["type"] == "forbidden" and c["source_modules"] == [package]]
        assert set(forbidden) <= set(contract["forbidden_modules"]), package
        assert not contract.get("allow_indirect_imports", False), f"{package}: the rule is transitive"
    assert {"torch", "torchvision"} <= set(contracts["engine-gateway-no-torch"]["forbidden_modules"])
    assert contracts["annotations-layers"]["layers"][-2:] == ["model", "geometry"]


def test_import_linter_contracts_are_kept() -> None:
    """The contracts hold (``make lint`` runs the same command; here for a plain ``pytest``)."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([lint_imports, "--no-cache"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
