# Two commands set everything up on a fresh machine with Python 3.11:
#   make decks   virtualenv, install, build notes/ into decks/
#   make test    install the test extras, run the whole suite (what CI runs)
# Two more run what is too slow for every change (not part of CI):
#   make fuzz    atheris on the build for FUZZ_TIME seconds, then the big-input benchmark
#   make soak    the rebuild-and-reimport soak test at SOAK_SCALE (questions x rebuilds)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: decks test lint install clean fuzz soak bench

FUZZ_TIME ?= 60
BENCH_SIZES ?= 1000,10000,50000
BENCH_PROFILE ?= 10000
BENCH_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOAK_SCALE ?= 50000x200
FUZZ_DIR := $(VENV)/fuzz

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
	$(BIN)/ruff check dlcards tests bench fuzz
	$(BIN)/mypy

# The preview tests drive a real headless Chromium (Debian's package).
$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

# The card screenshots typeset math with the MathJax 3 that Anki's own reviewer runs:
# the web files of the `aqt` wheel matching the installed `anki` (aqt is not installed).
ANKI_WEB := $(VENV)/anki-web
$(ANKI_WEB)/VERSION: $(VENV)/.installed-test
	$(BIN)/python tests/screens.py install-anki-web $(ANKI_WEB)

test: $(VENV)/.installed-test lint $(ANKI_WEB)/VERSION | $(CHROMIUM)
	$(BIN)/python -m pytest

# atheris ships wheels with libFuzzer built in; where none fits (no wheel for this
# Python or platform, and no clang to build one) the hypothesis fuzz tests run instead.
fuzz: $(VENV)/.installed-test
	@if $(PIP) install atheris; then \
		mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/crashes && \
		$(BIN)/python fuzz/fuzz_build.py $(FUZZ_DIR)/corpus fuzz/seeds -dict=fuzz/markdown.dict \
			-max_total_time=$(FUZZ_TIME) -timeout=60 -rss_limit_mb=8192 -artifact_prefix=$(FUZZ_DIR)/crashes/; \
	else \
		echo "atheris did not install here: running the hypothesis fuzz tests longer instead"; \
		FUZZ_EXAMPLES=5000 $(BIN)/python -m pytest -p no:cacheprovider tests/test_fuzz.py; \
	fi
	$(BIN)/python fuzz/bench_big.py

soak: $(VENV)/.installed-test
	SOAK_SCALE=$(SOAK_SCALE) $(BIN)/python -m pytest -m soak -p no:cacheprovider -s tests/test_soak.py

# Speed: synthetic vaults, every build case as a ratio to the no-Markdown floor, the
# packages' size at each deflate level, and the cProfile top lines of BENCH_PROFILE's vault.
bench: $(VENV)/.installed
	$(BIN)/python bench/bench.py --sizes $(BENCH_SIZES) $(if $(BENCH_PROFILE),--profile $(BENCH_PROFILE)) $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
