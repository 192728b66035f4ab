# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
# make run PORT=8080
PORT ?= 8000
# make test TEST_PROCESSES=0 runs the suite in one process
TEST_PROCESSES ?= 2
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'

run: install
	$(BIN)/handoff run --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) $(PYTEST_ARGS)

bench: install
	$(BIN)/handoff bench ingest

clean:
	rm -rf $(VENV) build *.egg-info
