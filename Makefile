# casework — make with no target lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8866
HOST ?= 127.0.0.1
SEED ?= 1
DATASETS := gelsenkirchen pankow nrw_teilhabe
CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install data pipeline run serve lab notebooks axe test test-fast test-interpreters test-minimum lint format bench dictionary clean chromium

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed 's/^## /  /'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 ($(PYTHON)) is required"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

## install: create .venv and install casework with its test extras
install: $(STAMP)

## chromium: install Debian's chromium for browser tests when it is missing
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian chromium (browser tests)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

## data: generate the demo datasets (synthetic, with ground truth) into data/ if missing
data: $(STAMP)
	@for d in $(DATASETS); do \
	  if [ ! -f data/$$d/manifest.json ]; then $(VENV)/bin/casework synth $$d --seed $(SEED) --out data/$$d; fi; \
	done

## pipeline: run the analysis notebooks on the demo datasets (results for the dashboards)
pipeline: data
	$(VENV)/bin/casework pipeline $(addprefix data/,$(DATASETS))

## run: set everything up, build demo data and results, then serve the dashboards
run: pipeline serve

## serve: serve the dashboards with Voila on $(HOST):$(PORT) (PORT=, HOST= to change)
serve: $(STAMP)
	@echo "Dashboards: http://$(HOST):$(PORT)/   (JupyterLab for analysts: make lab)"
	$(VENV)/bin/casework serve --host $(HOST) --port $(PORT)

## lab: open JupyterLab on the notebooks (loopback only)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser notebooks/

## notebooks: sync each notebook with its .py source both ways (the newer file wins), then strip outputs
NOTEBOOKS_DIR ?= notebooks
notebooks: $(STAMP)
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS_DIR)/[0-9]*.py
	$(VENV)/bin/jupyter nbconvert --clear-output --inplace --log-level=WARN $(NOTEBOOKS_DIR)/[0-9]*.ipynb

## axe: install axe-core (npm registry) for the accessibility tests into artifacts/axe
AXE_VERSION ?= 4.14.1
axe:
	@test -f artifacts/axe/node_modules/axe-core/axe.min.js || \
	  npm install --no-save --no-audit --no-fund --prefix artifacts/axe axe-core@$(AXE_VERSION) >/dev/null

## test: install everything (venv, chromium, axe-core) and run the whole test suite
test: $(STAMP) chromium axe
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

## test-fast: the test suite without browser and notebook tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not notebook"

## test-interpreters: install and run the fast tests on every supported Python found (3.11, 3.12, 3.13)
test-interpreters:
	python3 tools/check_interpreters.py

## test-minimum: install every dependency at its declared lower bound (Python 3.11, fresh venv) and run the fast tests
test-minimum:
	python3 tools/check_minimum.py

## lint: ruff
lint: $(STAMP)
	$(VENV)/bin/ruff check .

## format: ruff format
format: $(STAMP)
	$(VENV)/bin/ruff format casework tests benchmarks

## bench: benchmarks at full sizes (ratios against floors and peers)
bench: $(STAMP)
	$(PY) -m pip install -q -e ".[test,bench]"
	$(PY) benchmarks/run_all.py

## dictionary: regenerate docs/data_dictionary.md from the schema
dictionary: $(STAMP)
	$(VENV)/bin/casework dictionary > docs/data_dictionary.md

## clean: remove generated demo data and caches (keeps .venv)
clean:
	rm -rf $(addprefix data/,$(DATASETS)) artifacts .pytest_cache
