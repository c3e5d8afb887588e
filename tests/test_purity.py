"""Model and view stay apart: the core never pulls in the plotting/widget stack, and every module
says which upstream code it mirrors.

The packages are discovered by walking k8slab/, so new ones are covered automatically.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "k8slab"
VIEW_PACKAGES = {"viz", "widgets"}
HEAVY = ("ipywidgets", "matplotlib", "graphviz", "pandas")
NEVER_IN_CORE = ("ipywidgets", "matplotlib", "graphviz")


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str | None:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if all(p.isidentifier() for p in parts) else None


def _core_groups() -> dict[str, list[str]]:
    """Top-level core units of k8slab (e.g. "k8slab.scheduler", "k8slab.cluster") mapped to every
    importable module inside them."""
    groups: dict[str, list[str]] = {}
    if not PACKAGE.is_dir():
        return groups
    for entry in sorted(PACKAGE.iterdir()):
        if entry.name in VIEW_PACKAGES or entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            modules = [m for m in map(_module_name, _python_files(entry)) if m]
            if modules:
                groups[f"k8slab.{entry.name}"] = sorted(set(modules))
        elif entry.suffix == ".py" and entry.stem.isidentifier():
            groups[f"k8slab.{entry.stem}"] = [f"k8slab.{entry.stem}"]
    return groups


def _core_files() -> list[Path]:
    if not PACKAGE.is_dir():
        return []
    return [p for p in _python_files(PACKAGE)
            if p.relative_to(PACKAGE).parts[0] not in VIEW_PACKAGES]


# Runs in a fresh interpreter: imports k8slab, then each module, and records which heavy
# libraries appeared after which import.
_PROBE = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
heavy = json.loads(sys.argv[2])
blame = {}
for name in ["k8slab"] + sys.argv[3:]:
    importlib.import_module(name)
    for h in heavy:
        if h in sys.modules and h not in blame:
            blame[h] = name
print(json.dumps(blame))
"""

GROUPS = _core_groups()


@pytest.mark.parametrize("group", ["k8slab"] + sorted(GROUPS))
def test_core_import_pulls_in_no_view_libraries(group):
    modules = GROUPS.get(group, [])
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(REPO_ROOT), json.dumps(HEAVY), *modules],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert proc.returncode == 0, f"importing {group} failed:\n{proc.stderr}"
    blame = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not blame, "core modules must not import " + ", ".join(
        f"{lib} (first seen after importing {mod})" for lib, mod in blame.items())


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_core_module_never_imports_view_libraries(path):
    """Not even lazily inside a function: ipywidgets, matplotlib and graphviz belong to viz/widgets."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in NEVER_IN_CORE]
    assert not found, f"{path.relative_to(REPO_ROOT)} imports " + "; ".join(found)


MODULE_FILES = [p for p in _python_files(PACKAGE) if p.name != "__init__.py"] if PACKAGE.is_dir() else []


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_module_docstring_opens_with_mirrors(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    doc = ast.get_docstring(tree, clean=False)
    assert doc is not None, f"{path.relative_to(REPO_ROOT)} has no module docstring"
    assert doc.lstrip().startswith("Mirrors:"), (
        f"{path.relative_to(REPO_ROOT)}: docstring must open with 'Mirrors: <upstream path>', "
        f"got {doc.strip().splitlines()[0]!r}")
