# Pulse: every target sets itself up (creates the venv on first use).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv test lint format typecheck validate scan pytest unit integration e2e up build sizes bench bench-api bench-activation bench-experiments bench-console bench-auth bench-scoring bench-catalog bench-training events openapi train retrain models promote rollback movielens synthetic evaluate demo clean dead-letters replay-dead-letters backfill resegment

help:
	@echo "make demo   - the whole product on MovieLens-100K on the local stack (SERVE=1 keeps it running)"
	@echo "make test   - lint, type-check, template checks and the whole test suite"
	@echo "make up     - run the local stack (moto on :5000, API on :3000) until Ctrl-C"
	@echo "make build  - sam build (needs python3.12 on PATH; see scripts/find_python.sh)"
	@echo "make sizes  - unzipped size of each function with its layer"
	@echo "make bench  - profile updater benchmark; make bench-api [SIZES=10000,100000,1000000] - scoring, cold start, memory"
	@echo "make bench-scoring / bench-auth / bench-catalog / bench-training - scoring at scale, authorizer,"
	@echo "  live catalogue, the retraining ceiling"
	@echo "operator commands: .venv/bin/pulse --help (make train/retrain/models/promote/rollback/backfill/resegment/"
	@echo "  dead-letters/replay-dead-letters are aliases; STACK=<name> [REGION=] [PROFILE=] targets a deployed stack)"

$(VENV)/.installed: requirements.txt layers/core/requirements.txt pyproject.toml
	test -x $(PY) || $$(scripts/find_python.sh) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .  # the `pulse` command; no PYTHONPATH needed
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv
	$(BIN)/mypy --strict layers/core/pulse
	$(BIN)/mypy layers/core/pulse functions/profile_updater functions/api infrastructure scripts training
	$(BIN)/mypy functions/authorizer
	$(BIN)/mypy functions/catalog
	$(BIN)/mypy functions/eraser
	$(BIN)/mypy functions/collector
	$(BIN)/mypy tests
	$(BIN)/mypy functions/segment_refresher
	$(BIN)/mypy functions/trainer

validate: venv
	$(BIN)/sam validate --lint --region us-east-1

scan: venv
	$(BIN)/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

# coverage of the code the tests run in this process (the local stack's function workers are child
# processes and count only through the in-process tests); the floor is the measured value
pytest: venv
	$(BIN)/pytest --cov --cov-report=term:skip-covered

unit: venv
	$(BIN)/pytest -m unit

integration: venv
	$(BIN)/pytest -m integration

e2e: venv
	$(BIN)/pytest -m e2e

test: lint typecheck validate scan pytest

# The operator targets are thin aliases of the `pulse` command (`pulse COMMAND --help`); each works
# against the local stack, or a deployed one with STACK=<name> [REGION=] [PROFILE=].
PULSE := $(BIN)/pulse
WHERE = $(if $(STACK),--stack "$(STACK)") $(if $(REGION),--region "$(REGION)") $(if $(PROFILE),--profile "$(PROFILE)")

up: venv
	$(PULSE) up $(if $(AWS_PORT),--aws-port $(AWS_PORT)) $(if $(API_PORT),--api-port $(API_PORT)) $(if $(VERBOSE),--verbose)

events: venv
	$(PY) -m scripts.make_sample_events

build: venv
	PATH="$$(dirname $$(scripts/find_python.sh)):$$PATH" $(BIN)/sam build --region us-east-1

sizes: build
	$(PY) -m scripts.function_sizes

bench: venv
	$(PY) -m scripts.bench_updater

bench-api: venv
	$(PY) -m scripts.bench_api $(if $(SIZES),--sizes $(SIZES))

bench-activation: venv
	$(PY) -m scripts.bench_activation

bench-experiments: venv
	$(PY) -m scripts.bench_experiments

bench-console: venv
	$(PY) -m scripts.bench_console 2>/dev/null

bench-auth: venv
	$(PY) -m scripts.bench_auth

bench-scoring: venv
	$(PY) -m scripts.bench_scoring

bench-catalog: venv
	$(PY) -m scripts.bench_catalog

# the retraining ceiling: make bench-training [SIZES=1000000,3000000,10000000]
bench-training: venv
	$(PY) -m scripts.bench_training $(if $(SIZES),--sizes $(SIZES))

demo: venv
	$(PULSE) demo $(if $(SERVE),--serve) $(if $(SAMPLE),--sample $(SAMPLE))

evaluate: venv
	$(PULSE) evaluate --events "$$($(PULSE) movielens)" --out reports/evaluation

# a synthetic e-commerce log for scale and load tests: make synthetic EVENTS_N=1000000 USERS=100000 ITEMS=10000
synthetic: venv
	$(PULSE) synthetic --events $(or $(EVENTS_N),200000) --users $(or $(USERS),10000) --items $(or $(ITEMS),5000)

movielens: venv
	@$(PULSE) movielens

train: venv
	@test -n "$(EVENTS)" || { echo "usage: make train EVENTS=<log.jsonl[.gz]|s3://...> [BUCKET=<name>] [PROMOTE=1] [STACK=<name>]"; exit 2; }
	$(PULSE) train --events "$(EVENTS)" $(if $(BUCKET),--bucket "$(BUCKET)") $(if $(PROMOTE),--promote) $(if $(FORCE),--force) $(WHERE)

retrain: venv
	$(PULSE) retrain $(if $(WINDOW_DAYS),--window-days $(WINDOW_DAYS)) $(WHERE)

models: venv
	$(PULSE) models $(WHERE)

promote: venv
	$(PULSE) promote "$(VERSION)" $(if $(FORCE),--force) $(WHERE)

rollback: venv
	$(PULSE) rollback $(WHERE)

backfill: venv
	@test -n "$(EVENTS)" || { echo "usage: make backfill EVENTS=<log.jsonl[.gz]|dir|s3://...> [RATE=1000] [START_LINE=n]"; exit 2; }
	$(PULSE) backfill --events "$(EVENTS)" $(if $(RATE),--rate $(RATE)) $(if $(START_LINE),--start-line $(START_LINE)) $(if $(REJECTS),--rejects "$(REJECTS)") $(WHERE)

resegment: venv
	$(PULSE) resegment $(if $(RECOUNT_ONLY),--recount-only) $(if $(RESUME),--resume) $(if $(WORKERS),--workers $(WORKERS)) $(WHERE)

dead-letters: venv
	$(PULSE) dead-letters $(WHERE)

replay-dead-letters: venv
	$(PULSE) replay-dead-letters $(if $(REASON),--reason "$(REASON)") $(if $(DRY_RUN),--dry-run) $(WHERE)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

openapi: venv
	$(PY) -m scripts.openapi
