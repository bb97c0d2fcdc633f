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
# The tarball under test, for tests/packaging (manifest, sanity, decision environment).
export ZHMC_EDA_TARBALL := $(abspath $(TARBALL))

.PHONY: help venv build install test test-unit test-integration demo bench clean activemq-deps hmcsim

help:
	@echo "make test   - create .venv, build and install the collection, run all tests"
	@echo "make demo   - run hmcsim + ansible-rulebook with the example rulebook"
	@echo "make bench  - run the benchmarks (figures, not pass/fail)"
	@echo "make hmcsim - run the HMC simulator in the foreground (state in .build/hmcsim; Ctrl-C stops it)"
	@echo "make tools-venv - zhmcclient + zhmccli in .venv-zhmctools (for the tests of users' tools against hmcsim)"
	@echo "make clean  - remove .venv and .build"
	@echo "make test-rulebook-lines - the end-to-end tests on the older ansible-rulebook lines (part of make test)"
	@echo "make lint   - ruff, ansible-lint (production profile), ansible-test sanity, galaxy-importer (also part of make test)"
	@echo "make manifest / sanity-ignores / changelog / source-docs - regenerate .config/manifest.txt, tests/sanity/ignore-*.txt, CHANGELOG.md, the source's DOCUMENTATION and JSON schema"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt tests/requirements.txt tests/requirements-e2e.txt
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

test: install activemq-deps tools-venv
	$(PY) -m pytest $(PYTEST_ARGS) tests
	$(MAKE) --no-print-directory test-stomp8
	$(MAKE) --no-print-directory test-rulebook-lines

# Tools users already have (zhmcclient, zhmccli), unmodified, in a venv of their own (with the
# stomp.py zhmcclient pins), for tests/integration/test_users_tools.py against hmcsim.
VENV_TOOLS := $(VENV)-zhmctools
export ZHMC_EDA_TOOLS_VENV := $(abspath $(VENV_TOOLS))
ZHMCCLIENT_VERSION := 1.26.0
ZHMCCLI_VERSION := 1.15.0

.PHONY: tools-venv
tools-venv: $(VENV_TOOLS)/.installed

$(VENV_TOOLS)/.installed: Makefile
	test -x $(VENV_TOOLS)/bin/python || $(PYTHON) -m venv $(VENV_TOOLS)
	$(VENV_TOOLS)/bin/python -m pip install -q --upgrade pip
	$(VENV_TOOLS)/bin/python -m pip install -q 'zhmcclient==$(ZHMCCLIENT_VERSION)' 'zhmccli==$(ZHMCCLI_VERSION)'
	$(VENV_TOOLS)/bin/python -c 'import zhmcclient, sys; sys.exit(zhmcclient.__version__ != "$(ZHMCCLIENT_VERSION)")'
	touch $@

# The receiver tests once more with stomp.py 8 (.venv has stomp.py 9): a venv of its own,
# the same requirements, then stomp-py pinned (pip's wheel cache makes this quick).
VENV_STOMP8 := $(VENV)-stomp8
STOMP8_VERSION := 8.2.0
RECEIVER_TESTS := $(wildcard tests/unit/test_receiver*.py) tests/unit/test_tls.py \
	$(wildcard tests/integration/test_receiver_activemq.py)

$(VENV_STOMP8)/.installed: requirements.txt tests/requirements.txt tests/requirements-e2e.txt
	test -x $(VENV_STOMP8)/bin/python || $(PYTHON) -m venv $(VENV_STOMP8)
	$(VENV_STOMP8)/bin/python -m pip install -q --upgrade pip
	$(VENV_STOMP8)/bin/python -m pip install -q -r tests/requirements.txt
	$(VENV_STOMP8)/bin/python -m pip install -q 'stomp-py==$(STOMP8_VERSION)'
	$(VENV_STOMP8)/bin/python -c 'import stomp, sys; sys.exit(stomp.__version__ != "$(STOMP8_VERSION)")'
	touch $@

.PHONY: test-stomp8
test-stomp8: install activemq-deps $(VENV_STOMP8)/.installed
	$(VENV_STOMP8)/bin/python -m pytest $(PYTEST_ARGS) $(RECEIVER_TESTS)

# The end-to-end tests marked `rulebook_lines` (ansible-rulebook with the installed tarball
# against hmcsim and ActiveMQ) once more on the older supported ansible-rulebook lines, each in
# a venv of its own with the ansible-core of its time; .venv runs the whole suite on the 1.3
# line (tests/requirements.txt). The newest patch release of each line, as of 2026-12:
#   1.1 (AAP 2.5 decision environments) with ansible-core 2.16, the oldest we support;
#   1.2 (AAP 2.6) with ansible-core 2.18.
# 1.1.x and 1.2.x accept any pyparsing < 4, but pyparsing 3.3.3 breaks their condition parser
# (`is search(...)` stops the rules engine with a ClassCastException); 1.3.2 excludes it too.
RULEBOOK_LINES := 1.1 1.2
RULEBOOK_1.1 := ansible-rulebook==1.1.7 ansible-core==2.16.*
RULEBOOK_1.2 := ansible-rulebook==1.2.3 ansible-core==2.18.*
RULEBOOK_PINS := pyparsing!=3.3.3
RULEBOOK_VENVS := $(foreach line,$(RULEBOOK_LINES),$(VENV)-rulebook-$(line))

# The stamp depends on the Makefile too: a new pin above rebuilds the venv.
$(VENV)-rulebook-%/.installed: requirements.txt tests/requirements-e2e.txt Makefile
	test -x $(@D)/bin/python || $(PYTHON) -m venv $(@D)
	$(@D)/bin/python -m pip install -q --upgrade pip
	$(@D)/bin/python -m pip install -q -r tests/requirements-e2e.txt $(foreach req,$(RULEBOOK_$*) $(RULEBOOK_PINS),'$(req)')
	touch $@

.PHONY: test-rulebook-lines
test-rulebook-lines: install activemq-deps $(addsuffix /.installed,$(RULEBOOK_VENVS))
	@set -e; for venv in $(RULEBOOK_VENVS); do \
	  echo "== $$($$venv/bin/ansible-rulebook --version | head -1), ansible-core $$($$venv/bin/python -c 'import ansible; print(ansible.__version__)')"; \
	  $$venv/bin/python -m pytest $(PYTEST_ARGS) -m rulebook_lines tests/integration; \
	done

test-unit: install
	$(PY) -m pytest $(PYTEST_ARGS) tests/unit

demo: install
	$(PY) demo/run_demo.py

bench: install activemq-deps
	$(PY) -m pip install -q -r benchmarks/requirements.txt
	test -x $(VENV)-zhmcclient/bin/python || $(PYTHON) -m venv $(VENV)-zhmcclient
	$(VENV)-zhmcclient/bin/python -m pip install -q "zhmcclient==1.26.*"
	$(PY) -m benchmarks.run_all $(BENCH_ARGS)

# ActiveMQ + a JRE for the tests that use a real broker: installed when missing (as root);
# otherwise the exact apt-get command is printed; a failure with CI set, a warning without.
activemq-deps: venv
	$(PY) -m tests.support.fixtures_activemq

# Packaging checks (tests/packaging, also collected by `make test`): ruff, ansible-lint (run
# plainly in a fresh copy of the checkout), ansible-test sanity and galaxy-importer on the
# built tarball. The other targets regenerate committed files
# those checks compare against; run them after adding or removing shipped files.
.PHONY: lint manifest sanity-ignores changelog source-docs
lint: install
	$(PY) -m pytest $(PYTEST_ARGS) tests/packaging/test_lint.py tests/packaging/test_sanity.py tests/packaging/test_galaxy_importer.py

sanity-ignores: venv
	$(PY) -m tests.packaging.sanity_ignores

manifest: sanity-ignores
	$(MAKE) build
	mkdir -p .config
	$(PY) -m tests.packaging.collection_files $(TARBALL) > .config/manifest.txt.new
	mv .config/manifest.txt.new .config/manifest.txt

changelog: venv
	$(PY) -m tests.packaging.changelog_preview

# The source plugin's DOCUMENTATION and schemas/notifications.json, from its option table.
source-docs: venv
	$(PY) -m tests.packaging.source_docs

clean:
	rm -rf $(VENV) $(VENV)-* $(BUILD)

hmcsim: venv
	$(PY) -m hmcsim --state-dir $(BUILD)/hmcsim
