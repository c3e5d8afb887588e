"""Shared pytest fixtures for the k8slab test suite (kept light: no heavy imports here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's top folder (the one holding pyproject.toml)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def notebooks_dir(repo_root: Path) -> Path:
    return repo_root / "notebooks"


@pytest.fixture(scope="session")
def venv_env() -> dict[str, str]:
    """An environment for child processes (kernels, jupyter) that resolves `python` and `jupyter`
    to the interpreter running the tests, and prefers the venv's kernel specs over a user's."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["JUPYTER_PREFER_ENV_PATH"] = "1"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env
