# k8slab: set up, open the notebooks in JupyterLab, run the tests, run the benchmarks.
#
#   make lab     set up .venv (k8slab + JupyterLab + Graphviz) and open JupyterLab on notebooks/
#   make test    set up .venv (k8slab + test tools + Graphviz + Chromium) and run every test
#   make bench   run every bench/bench_*.py script
#
# Set-up is idempotent: the Python part is redone only when pyproject.toml changes (a stamp file in
# .venv is keyed on its contents); system packages are installed only when missing.
# Variables: PYTHON (interpreter for the venv, default python3), PYTEST_ARGS (default: two workers
# with -n auto, 600 s per test), ARGS (extra pytest arguments, e.g. ARGS="tests/test_purity.py").

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HASH := $(shell cksum < pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?= -n auto --timeout=600
ARGS ?=
ALLOW_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

# A shell function that installs Debian packages with apt-get, as root or through sudo.
# Without root, sudo or apt-get it prints what to install by hand and returns 0 (the step is skipped);
# if apt-get itself fails it returns non-zero.
SYSINSTALL = sysinstall() { \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "k8slab: no apt-get on this machine; please install $$* yourself. Skipping." >&2; return 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	else echo "k8slab: not root and no sudo; please install $$* yourself (apt-get install $$*). Skipping." >&2; return 0; fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q \
	&& $$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "$$@"; \
	};

.PHONY: help lab test bench setup-lab setup-test dot chromium

help:
	@sed -n '3,5p' Makefile | sed 's/^# *//'

lab: setup-lab dot
	$(VENV)/bin/jupyter lab notebooks/ --ip=127.0.0.1 $(ALLOW_ROOT)

test: setup-test dot chromium
	$(PY) -m pytest $(PYTEST_ARGS) $(ARGS)

bench: setup-test
	$(PY) bench/run_all.py

setup-lab: $(VENV)/.k8slab-lab-$(HASH)
setup-test: $(VENV)/.k8slab-test-$(HASH)

# The virtualenv. Debian's python3 needs the python3-venv package for `-m venv`.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
		echo "k8slab: needs Python >= 3.10 as '$(PYTHON)'; try: make PYTHON=python3.11 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { $(SYSINSTALL) sysinstall python3-venv && $(PYTHON) -m venv --clear $(VENV); }

# k8slab (editable) with one set of extras, and a Jupyter kernel spec inside the venv whose
# command is the venv's own python (nothing is registered outside .venv).
$(VENV)/.k8slab-%-$(HASH): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[$*]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name 'Python 3 (ipykernel)' >/dev/null
	@rm -f $(VENV)/.k8slab-$*-*
	@touch $@

# Graphviz's `dot` program, which the graphviz Python package calls to lay out graphs.
dot:
	@command -v dot >/dev/null 2>&1 || { \
		echo "k8slab: installing Graphviz (the 'dot' program)"; \
		if [ "$$(uname)" = Darwin ] && command -v brew >/dev/null 2>&1; then brew install graphviz; \
		else $(SYSINSTALL) sysinstall graphviz; fi; }

# Debian's Chromium, driven by tests/test_browser.py (never a browser download of its own).
chromium:
	@[ -x /usr/bin/chromium ] || { \
		echo "k8slab: installing Debian's chromium for the browser test"; \
		$(SYSINSTALL) sysinstall --no-install-recommends chromium fonts-liberation; }
