PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install test test-fast lint bench completions

install:
	$(PYTHON) -m pip install -q -e '.[sandbox]'
	@if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi

test:
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-fast:
	$(PYTHON) -m pytest -m 'not slow' $(PYTEST_ARGS)

lint:
	$(PYTHON) -m ruff check flyrun tests bench examples

bench:
	$(PYTHON) bench/run.py

completions:
	for shell in bash zsh fish; do $(PYTHON) -m flyrun.cli.main completion $$shell > completions/flyrun.$$shell; done
