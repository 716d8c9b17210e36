# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv if missing and (re)installs the project only when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo lint format test test-fast ui bench bench-scale sandbox fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "make install: creating $(VENV)/ with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "make install: updating pip"
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "make install: installing hexo-pipeline with Dagster, dbt, DuckDB and the sandbox into $(VENV)/ (first time: a few minutes)"
	@$(BIN)/python -m pip install -q -e ".[dev,sandbox]"
	@touch $(STAMP)
	@echo "make install: done (reinstalls only when pyproject.toml changes)"

demo: install
	$(BIN)/hexo-pipeline demo

# ruff (lint + format check) for Python, sqlfluff (jinja templater, no database) for the dbt SQL.
lint: install
	$(BIN)/ruff check hexo_pipeline hexo_sandbox tests benchmarks
	$(BIN)/ruff format --check hexo_pipeline hexo_sandbox tests benchmarks
	$(BIN)/sqlfluff lint --processes 2 dbt_project/models dbt_project/macros dbt_project/tests

format: install
	$(BIN)/ruff check --fix hexo_pipeline hexo_sandbox tests benchmarks
	$(BIN)/ruff format hexo_pipeline hexo_sandbox tests benchmarks

# Four xdist workers on two cores: the end-to-end tests spend much of their time waiting (servers, Dagster's
# daemon ticks, the API client's backoff, child processes), and the extra workers fill those gaps. `loadfile`
# hands out one test file at a time to the worker that is free, files with slow tests first (tests/conftest.py),
# so a module-scoped fixture is built once. Every test stays under 4 GB (tests/conftest.py) and DuckDB
# is capped at 2 GB per build.
test: lint
	$(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder

test-fast: install
	$(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder -m "not slow"

ui: install
	$(BIN)/hexo-pipeline ui

sandbox: install
	$(BIN)/hexo-sandbox serve

bench: install
	$(BIN)/python benchmarks/run.py

# The warehouse at study scale (docs/architecture.md): SUBJECTS x DAYS of summaries, full / no-change /
# daily / late builds, BI latency, against a hand-written DuckDB query. 500 x 730 is the design point.
SUBJECTS ?= 100
DAYS ?= 180
bench-scale: install
	$(BIN)/python benchmarks/warehouse_scale.py --subjects $(SUBJECTS) --days $(DAYS)

# Long fuzz run of the decoders (FIT, TCX, convert, FIT monitoring, Hexoskin export zip and members): FUZZ_N
# mutated files per entry point, 3 GiB address space and 20 s per case; new crashes are recorded in
# tests/fuzz_corpus/ (figures of the last full run in its README.md).
FUZZ_N ?= 3000
FUZZ_SEED ?= 1
fuzz: install
	$(BIN)/python tests/fuzz_long.py -n $(FUZZ_N) --seed $(FUZZ_SEED) --memory-mb 3072 --timeout-s 20 --save

clean:
	rm -rf $(VENV) .pytest_cache
