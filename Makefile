# automl — everything a fresh machine needs is behind these targets.
# Only Python 3.11 and make are assumed; `make demo` and `make test` install first.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_PROJECT ?= automl-project

# sample table → its target column
DEMO_TABLES := breast_cancer:diagnosis wine:cultivar diabetes:progression customers_messy:churned

.PHONY: install demo test test-fast lint format bench bench-quick bench-predict bench-search bench-splits bench-distributed bench-busy bench-budget sample-data clean help

help:
	@echo "make demo         install, then profile + prep every table in sample_data/, search, evaluate and predict with one (into ./$(DEMO_PROJECT))"
	@echo "make test         install, then run the whole test suite (slow tests included)"
	@echo "make lint         ruff + mypy"
	@echo "make bench        all benchmarks (about an hour: AutoML head to head), into benchmarks/results/"
	@echo "make bench-quick  start-up and profile benchmarks only (minutes)"
	@echo "make bench-predict predict throughput, 1-row latency, memory on 5M rows (minutes)"
	@echo "make bench-search automl vs FLAML, AutoGluon, default LightGBM (BUDGET=60 TABLES=a,b SYSTEMS=x,y)"
	@echo "make bench-splits the same over other 75/25 splits (TABLES=titanic SEEDS=1,2,3,4,5)"
	@echo "make bench-distributed trials/min of a shared study: SQLite, PostgreSQL with 1 and 2 processes (BUDGET=60 TABLES=titanic MODELS=lgbm,xgb,linear)"
	@echo "make bench-budget the time budget on 300,000- and 1,000,000-row tables, 10 s to 120 s (about 10 minutes)"
	@echo "make bench-busy   the search beside another busy process: 2 threads vs the free cores (BUDGET=60 TABLES=hpc,titanic,credit)"
	@echo "make sample-data  regenerate sample_data/ from seeded, package-shipped sources"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	@for pair in $(DEMO_TABLES); do \
		table=$${pair%%:*}; target=$${pair##*:}; \
		echo "== automl profile sample_data/$$table.csv --target $$target"; \
		$(BIN)/automl --project $(DEMO_PROJECT) profile sample_data/$$table.csv --target $$target || exit $$?; \
		echo "== automl prep sample_data/$$table.csv --target $$target"; \
		$(BIN)/automl --project $(DEMO_PROJECT) prep sample_data/$$table.csv --target $$target || exit $$?; \
	done
	@echo "== the messy table's warnings as a script reads them: automl --json profile ..."
	@$(BIN)/automl --project $(DEMO_PROJECT) --json --quiet profile sample_data/customers_messy.csv --target churned \
		| $(BIN)/python -c "import json,sys; d=json.load(sys.stdin); [print(f\"  {w['code']:<17} {w['column'] or ''}\") for w in d['warnings']]; print('  report:', d['report'])"
	@echo "== automl search sample_data/customers_messy.csv --target churned --time-budget 30"
	@$(BIN)/automl --project $(DEMO_PROJECT) search sample_data/customers_messy.csv --target churned --time-budget 30
	@echo "== automl evaluate --group plan --fail-under auc=0.6 (cross-validated figures, fairness by plan)"
	@$(BIN)/automl --project $(DEMO_PROJECT) evaluate --group plan --fail-under auc=0.6
	@echo "== automl predict sample_data/customers_messy.csv --proba -o $(DEMO_PROJECT)/predictions.csv"
	@$(BIN)/automl --project $(DEMO_PROJECT) predict sample_data/customers_messy.csv --proba -o $(DEMO_PROJECT)/predictions.csv
	@head -n 4 $(DEMO_PROJECT)/predictions.csv
	@echo "== what the project holds: automl runs list"
	@$(BIN)/automl --project $(DEMO_PROJECT) runs list

# three test processes on the 2 cores: about a fifth of the suite's time is spent waiting
# (child processes starting, fsync, locks, servers), which a third process fills; each
# file's tests stay in one process, with their fixtures
test: install
	$(BIN)/python -m pytest -q -n 3 --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -q -n 3 --dist loadfile -m "not slow"

lint: install
	$(BIN)/ruff check src tests scripts benchmarks
	$(BIN)/ruff format --check src tests scripts benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests scripts benchmarks
	$(BIN)/ruff format src tests scripts benchmarks

BUDGET ?= 60
bench: install
	$(BIN)/python benchmarks/run.py --budget $(BUDGET)

bench-quick: install
	$(BIN)/python benchmarks/run.py --only startup,profile

bench-predict: install
	$(BIN)/python benchmarks/run.py --only predict

bench-search: install
	$(BIN)/python benchmarks/run.py --only search --budget $(BUDGET) \
		$(if $(TABLES),--tables $(TABLES)) $(if $(SYSTEMS),--systems $(SYSTEMS))

bench-splits: install
	$(BIN)/python benchmarks/run.py --only splits --budget $(BUDGET) --tables $(or $(TABLES),titanic) \
		$(if $(SYSTEMS),--systems $(SYSTEMS)) $(if $(SEEDS),--split-seeds $(SEEDS))

bench-distributed: install
	$(BIN)/python benchmarks/run.py --only distributed --budget $(BUDGET) \
		$(if $(TABLES),--tables $(TABLES)) $(if $(MODELS),--models $(MODELS))

bench-budget: install
	$(BIN)/python benchmarks/run.py --only budget

bench-busy: install
	$(BIN)/python benchmarks/run.py --only busy --budget $(BUDGET) $(if $(TABLES),--tables $(TABLES))

sample-data: install
	$(BIN)/python scripts/make_sample_data.py --out sample_data

clean:
	rm -rf $(VENV) .bench-venvs .pytest_cache .mypy_cache .ruff_cache
