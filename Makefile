# The two commands a new machine needs:  make demo  and  make test
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test install lint clean

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

lint: $(STAMP)
	$(BIN)/python -m ruff check newsmon tests bench

clean:
	rm -rf $(VENV) newsmon.db newsmon.db-* newsmon.db.lock
