"""A learner's first minutes, in a real browser: JupyterLab opens the tour notebook, runs every cell,
and the Stepper widget's Step button advances the cluster and redraws its graph.

JupyterLab runs from the test interpreter's environment on a free loopback port; Debian's Chromium
(/usr/bin/chromium, never a downloaded browser) is driven headless through Playwright.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "k8slab-browser-test"
TOUR = "00-tour.ipynb"

ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
STEP_LABEL = re.compile(r"^\s*Step\s*$")

# JupyterLab settings for a quiet, fully rendered notebook: no news/update notifications, every
# cell kept in the page (no virtual scrolling) so all prompts and outputs can be inspected, and no
# autosave, so the repository's notebook is never rewritten with the run's outputs.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium, or run `make test`)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def jupyter_lab(root_dir: Path, work: Path, env: dict[str, str]):
    """Run `jupyter lab` on 127.0.0.1 with a fixed token and private config/settings folders; yield
    its base URL once it answers; always stop it (and its kernels) afterwards."""
    port = _free_port()
    settings = work / "lab-settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(env)
    for var, sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
        env[var] = str(work / sub)
    cmd = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root_dir}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
        f"--FileCheckpoints.checkpoint_dir={work / 'checkpoints'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = work / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=root_dir, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within 90 s:\n{_tail(log_path)}")
            time.sleep(0.5)
        yield base, log_path
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group (server and kernels), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _dismiss_dialogs(page) -> None:
    """Accept a kernel choice (the notebook's own kernel is preselected); close any other dialog."""
    for _ in range(5):
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        kernel_choice = "Kernel" in dialog.first.inner_text()
        button = ".jp-Dialog-button.jp-mod-accept" if kernel_choice else ".jp-Dialog-button.jp-mod-reject"
        try:
            dialog.first.locator(button).first.click(timeout=5_000)
        except Exception:  # the dialog closed by itself meanwhile
            pass
        page.wait_for_timeout(300)


def _wait_until(page, predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        _dismiss_dialogs(page)
        page.wait_for_timeout(250)


def _kernel_idle(page) -> bool:
    """A kernel is attached to the open notebook and idle (the indicator says idle with no kernel)."""
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden) "
    status = page.locator(panel + ".jp-Notebook-ExecutionIndicator")
    name = page.locator(panel + ".jp-Toolbar-kernelName")
    return (status.count() > 0 and status.first.get_attribute("data-status") == "idle"
            and name.count() > 0 and name.first.inner_text().strip() not in ("", "No Kernel"))


def _all_cells_ran(page) -> bool:
    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")
    texts = prompts.all_inner_texts()
    return bool(texts) and all(re.fullmatch(r"\s*\[\d+\]:\s*", t) for t in texts)


def _assert_no_errors(page, when: str) -> None:
    errors = [t for t in page.locator(ERROR_OUTPUT).all_inner_texts() if "Traceback" in t]
    assert not errors, f"error output {when}:\n" + "\n---\n".join(errors)
    broken = page.locator(".jupyter-widgets", has_text="Error displaying widget")
    assert broken.count() == 0, f"a widget failed to render {when}: {broken.first.inner_text()}"


def _no_errors_yet(page) -> bool:
    _assert_no_errors(page, "while running all cells")
    return True


_GRAPH_JS = """el => {
  const parts = [];
  el.querySelectorAll('svg').forEach(s => parts.push(s.outerHTML));
  el.querySelectorAll('img[src^="data:image/svg+xml"]').forEach(i => parts.push(i.src));
  return parts.join('\\n');
}"""


def run_stepper_check(root_dir: Path, notebook: str, work: Path, env: dict[str, str]) -> dict:
    """Open `notebook` (relative to root_dir) in JupyterLab, run all cells, click the first Stepper's
    Step button and check that its graph changes. Returns timings in seconds."""
    from playwright.sync_api import sync_playwright

    timings = {}
    t0 = time.monotonic()
    with jupyter_lab(root_dir, work, env) as (base, log_path):
        timings["server"] = time.monotonic() - t0
        console: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
            page.on("console", lambda m: m.type == "error" and console.append(f"console: {m.text}"))
            try:
                page.goto(f"{base}/lab/tree/{notebook}?token={TOKEN}")
                page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="visible", timeout=90_000)
                _wait_until(page, lambda: _kernel_idle(page), 90, "the kernel to be idle")
                timings["open"] = time.monotonic() - t0

                _dismiss_dialogs(page)
                page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook").first.click()
                page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
                page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
                page.wait_for_timeout(500)
                _wait_until(page, lambda: _no_errors_yet(page) and _all_cells_ran(page)
                            and _kernel_idle(page), 300, "all cells to finish")
                timings["run_all"] = time.monotonic() - t0
                _assert_no_errors(page, "after running all cells")

                step = page.locator("button.jupyter-button", has_text=STEP_LABEL)
                step.first.wait_for(state="visible", timeout=60_000)
                widget = page.locator(".jp-OutputArea-output").filter(
                    has=page.locator("button.jupyter-button", has_text=STEP_LABEL)).first
                _wait_until(page, lambda: widget.evaluate(_GRAPH_JS) != "", 60,
                            "the Stepper to draw its graph (an <svg>)")
                before = widget.evaluate(_GRAPH_JS)

                _dismiss_dialogs(page)
                step.first.click()
                _wait_until(page, lambda: widget.evaluate(_GRAPH_JS) not in ("", before), 60,
                            "the graph to change after clicking Step")
                page.wait_for_timeout(300)
                _wait_until(page, lambda: _kernel_idle(page), 60, "the kernel to be idle after Step")
                _assert_no_errors(page, "after clicking Step")
                timings["step"] = time.monotonic() - t0
            except Exception as err:
                shot = work / "failure.png"
                try:
                    page.screenshot(path=str(shot), full_page=True)
                except Exception:
                    pass
                raise AssertionError(
                    f"{err}\nscreenshot: {shot}\nbrowser errors:\n" + "\n".join(console[-20:])
                    + f"\njupyter lab log:\n{_tail(log_path)}") from None
            finally:
                browser.close()
    return timings


def test_tour_stepper_in_jupyterlab(tmp_path: Path, venv_env: dict[str, str]):
    _require_chromium()
    root = REPO_ROOT / "notebooks"
    assert (root / TOUR).is_file(), f"notebooks/{TOUR} is missing"
    run_stepper_check(root, TOUR, tmp_path, venv_env)
