# Two entry points: `make serve` (install, index the seeds, serve) and `make test` (the suite CI runs).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install serve test lint chromium clean

# torch first, pinned to the CPU build: left to the resolver, sentence-transformers would pull a
# multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,scale]' torch==2.13.0
	touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(BIN)/qa serve

# The browser test drives Debian's Chromium (Playwright's own browser download is not possible here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check qa tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

test: $(STAMP) chromium lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) index/*.sqlite3 index/*.faiss index/manifest.json index/bm25-* index/.bm25-* .pytest_cache .mypy_cache
