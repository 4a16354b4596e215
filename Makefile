# Two commands on a fresh machine:
#   make run    create .venv if missing, install, open the GUI on the bundled sample project
#   make test   same set-up, then the checks (make lint), then the whole test suite with offscreen Qt
#   make lint   ruff, import-linter (the layer rules of DESIGN.md section 1) and mypy; any finding fails
# A second run reinstalls nothing: the install is redone only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint setup bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=23.1"
	$(PY) -m pip install --quiet -e '.[test]'
	# SAM 2.1 (extra `sam`): its sdist builds against the torch already here; isolation would fetch a
	# second torch, and the optional CUDA extension is not built.
	SAM2_BUILD_CUDA=0 $(PY) -m pip install --quiet --no-build-isolation 'sam2==1.1.0' 'hydra-core>=1.3.2' 'iopath>=0.1.10'
	# EfficientViT-SAM (extra `sam`, the light SAM): pure Python; --no-deps keeps the torch already here.
	$(PY) -m pip install --quiet --no-deps 'efficientsam==1.0.0'
	# The saliency oracle of the tests: it pins numpy<2.3.5 and opencv<5, so without its pins (its
	# imports, scikit-image and scikit-learn, come with the test extra).
	$(PY) -m pip install --quiet --no-deps 'pysodmetrics==1.6.2'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py

# Every check runs (so one run shows every finding); the target fails if any of them found something.
lint: $(STAMP)
	@status=0; \
	echo "== ruff check"; $(VENV)/bin/ruff check . || status=1; \
	echo "== lint-imports"; $(VENV)/bin/lint-imports --no-cache || status=1; \
	echo "== mypy"; $(VENV)/bin/mypy || status=1; \
	exit $$status

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache .import_linter_cache
