PYTHON ?= python3
PYTEST_ARGS ?=
# What the tests need on top of `make install`; `make test` installs it when something is missing or out of range.
TEST_EXTRAS = sandbox,test

.PHONY: install test test-fast test-deps deps-check lint typecheck bench completions

# pip compiles a regular install's bytecode but not an editable one's; compile it here too, so a machine that sets
# PYTHONDONTWRITEBYTECODE does not recompile flyrun's modules on every start (about 60 ms of a local run).
install:
	$(PYTHON) -m pip install -q -e '.[sandbox]'
	$(PYTHON) -m compileall -q flyrun
	@if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi

# Quick when all is there (one import-metadata check, well under a second); pip only when something is not.
test-deps:
	@$(PYTHON) -m flyrun.depcheck --extras $(TEST_EXTRAS) --quiet || { \
		echo "make: installing what the tests need: pip install -e '.[$(TEST_EXTRAS)]'"; \
		$(PYTHON) -m pip install -q -e '.[$(TEST_EXTRAS)]' && $(PYTHON) -m flyrun.depcheck --extras $(TEST_EXTRAS) && \
		if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi; }

test: test-deps
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-fast: test-deps
	$(PYTHON) -m pytest -m 'not slow' $(PYTEST_ARGS)

deps-check:
	$(PYTHON) -m flyrun.depcheck --extras $(TEST_EXTRAS)

lint: test-deps
	$(PYTHON) -m ruff check flyrun tests bench examples

# mypy over flyrun/ (settings in pyproject.toml's [tool.mypy]).
typecheck: test-deps
	$(PYTHON) -m mypy

bench:
	$(PYTHON) bench/run.py

completions:
	for shell in bash zsh fish; do $(PYTHON) -m flyrun.cli.main completion $$shell > completions/flyrun.$$shell; done
