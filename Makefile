# Two commands set everything up on a fresh machine with Python 3.11:
#   make decks   virtualenv, install, build notes/ into decks/
#   make test    install the test extras, run the whole suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: decks test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

decks: $(VENV)/.installed
	$(BIN)/dlcards build --notes notes --decks decks

lint: $(VENV)/.installed-test
	$(BIN)/ruff check dlcards tests
	$(BIN)/mypy

test: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
