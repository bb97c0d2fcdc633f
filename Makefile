# zhmc.eda: set-up, build, test and demo. `make test` and `make demo` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := .build
DIST := $(BUILD)/dist
COLLECTIONS := $(BUILD)/collections
VERSION := $(shell sed -n 's/^version: *//p' galaxy.yml)
TARBALL := $(DIST)/zhmc-eda-$(VERSION).tar.gz
SOURCES := $(shell git ls-files -co --exclude-standard 2>/dev/null | grep -vE '^(\.venv|\.build)/')
PYTEST_ARGS ?=

export ZHMC_EDA_COLLECTIONS_PATH := $(abspath $(COLLECTIONS))
export ANSIBLE_COLLECTIONS_PATH := $(abspath $(COLLECTIONS))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: help venv build install test test-unit test-integration demo bench clean

help:
	@echo "make test   - create .venv, build and install the collection, run all tests"
	@echo "make demo   - run hmcsim + ansible-rulebook with the example rulebook"
	@echo "make bench  - run the benchmarks (figures, not pass/fail)"
	@echo "make clean  - remove .venv and .build"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt tests/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python >= 3.10 is needed (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r tests/requirements.txt
	touch $@

build: $(TARBALL)

$(TARBALL): venv $(SOURCES)
	mkdir -p $(DIST)
	$(VENV)/bin/ansible-galaxy collection build --force --output-path $(DIST) .

install: $(COLLECTIONS)/.installed

$(COLLECTIONS)/.installed: $(TARBALL)
	rm -rf $(COLLECTIONS)
	$(VENV)/bin/ansible-galaxy collection install --force -p $(COLLECTIONS) $(TARBALL)
	touch $@

test: install
	$(PY) -m pytest $(PYTEST_ARGS) tests

test-unit: install
	$(PY) -m pytest $(PYTEST_ARGS) tests/unit

demo: install
	@echo "make demo: not yet - the source plugin (issue 5) has not landed."

bench: install
	@echo "make bench: not yet - benchmarks land with the reliability issue."

clean:
	rm -rf $(VENV) $(VENV)-* $(BUILD)
