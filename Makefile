# The two commands a new machine needs:  make demo  and  make test
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test install install-locked lock lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## demo: install, serve the bundled demo site on 127.0.0.1, crawl, analyse, store in ./newsmon.db, alert
demo: $(STAMP)
	$(BIN)/newsmon demo

## test: install and run the whole test suite (needs PostgreSQL at 127.0.0.1:5432, see .ci/run)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## install-locked: the same environment from requirements.lock (every package pinned by sha256)
install-locked:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: regenerate requirements.lock from pyproject.toml (needs pip-tools)
lock:
	pip-compile --quiet --generate-hashes --extra test --strip-extras --output-file requirements.lock pyproject.toml

lint: $(STAMP)
	$(BIN)/python -m ruff check newsmon tests bench

clean:
	rm -rf $(VENV) newsmon.db newsmon.db-* newsmon.db.lock
