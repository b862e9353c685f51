# One target per job. `make run` and `make test` are the two commands in README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export MADOGUCHI_DATA_DIR ?= var

.PHONY: run test test-sqlite test-postgres bench venv venv-dev messages clean audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"

# Runtime dependencies, pinned by pyproject.toml and constraints.txt.
# System packages the product needs at run time (WeasyPrint's libraries, Japanese fonts).
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt scripts/apt-packages-runtime.txt
	scripts/install-system-packages --runtime
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

# Test dependencies on top (pyscard builds against Debian's PC/SC headers, so the
# system packages come first).
$(VENV)/.installed-dev: $(VENV)/.installed scripts/apt-packages.txt scripts/apt-packages-runtime.txt
	scripts/install-system-packages
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/madoguchi run

test: $(VENV)/.installed-dev
	scripts/test

bench: $(VENV)/.installed-dev
	scripts/bench

# Known vulnerabilities of the pinned dependencies (docs/operations.md); needs network
# access to pypi.org and api.osv.dev, so an operator's step, not part of `make test`.
audit:
	scripts/audit

messages: $(VENV)/.installed
	cd madoguchi && ../$(BIN)/madoguchi makemessages --locale en --no-obsolete --no-location --ignore "static/*"
	cd madoguchi && ../$(BIN)/madoguchi compilemessages --locale en

clean:
	rm -rf $(VENV) .venv-audit node_modules test-artifacts
