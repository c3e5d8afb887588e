"""Every notebook (and every solution notebook) runs top to bottom without an error.

Each notebook is executed with nbclient on the `python3` kernel of the interpreter running the
tests (the venv's), with the notebook's own folder as working directory, as a learner would.
Cells tagged `raises-exception` may show an error on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIRS = [REPO_ROOT / "notebooks", REPO_ROOT / "notebooks" / "solutions"]
CELL_TIMEOUT_S = 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")

NOTEBOOKS = sorted(p for d in NOTEBOOK_DIRS if d.is_dir() for p in d.glob("*.ipynb"))

pytestmark = pytest.mark.notebooks


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO_ROOT / "notebooks")))
def test_notebook_runs_without_error(path: Path, venv_env: dict[str, str], monkeypatch):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    # The kernel inherits this environment: `python` is the venv's, and the venv's kernel spec wins.
    for key in ("PATH", "JUPYTER_PREFER_ENV_PATH", "PYDEVD_DISABLE_FILE_VALIDATION"):
        monkeypatch.setenv(key, venv_env[key])

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(path.parent)}},
    )
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        # The message carries the failing cell's source and the error with its traceback.
        failure = ANSI.sub("", str(err))
    if failure:
        pytest.fail(f"{path.relative_to(REPO_ROOT)}:\n{failure}", pytrace=False)
    if path.parent.name == "solutions":
        # A solution's check must say Correct: an answer that only runs without error is not a solution.
        not_yet = [line for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
                   for text in (out.get("text", ""), out.get("data", {}).get("text/plain", ""))
                   for line in str(text).splitlines() if re.search(r"\[\d\d\.\d+\] Not yet", line)]
        assert not not_yet, f"{path.relative_to(REPO_ROOT)}: {not_yet}"
