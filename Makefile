# Pulse: every target sets itself up (creates the venv on first use).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export SAM_CLI_TELEMETRY := 0
export PYTHONPATH := $(CURDIR)/layers/core:$(CURDIR)

.PHONY: help venv test lint format typecheck validate scan pytest unit integration e2e up build sizes bench events openapi train promote rollback movielens clean dead-letters replay-dead-letters backfill resegment

help:
	@echo "make demo   - the whole product on MovieLens-100K on the local stack (SERVE=1 keeps it running)"
	@echo "make test   - lint, type-check, template checks and the whole test suite"
	@echo "make up     - run the local stack (moto on :5000, API on :3000) until Ctrl-C"
	@echo "make build  - sam build (needs python3.12 on PATH; see scripts/find_python.sh)"
	@echo "make sizes  - unzipped size of each function with its layer"
	@echo "make bench  - profile updater benchmark; make bench-api - scoring latency, cold start, memory"
	@echo "make train EVENTS=<log> [BUCKET=<name>] [PROMOTE=1] - train, evaluate, publish (local stack by default)"
	@echo "make promote VERSION=<v> [FORCE=1] / make rollback - serve a version / the previous one"
	@echo "make backfill EVENTS=<log> [RATE=1000] [START_LINE=n] - put a historical log on the stream (profiles from history)"
	@echo "make resegment [STACK=<name>] [WORKERS=4] [RESUME=1] [RECOUNT_ONLY=1] - re-evaluate every profile's segments now (after editing segments.json), then recount members"
	@echo "make dead-letters / make replay-dead-letters [REASON=<text>] [DRY_RUN=1] [STACK=<name>] - inspect / replay"

$(VENV)/.installed: requirements.txt layers/core/requirements.txt
	test -x $(PY) || $$(scripts/find_python.sh) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: venv
	$(BIN)/mypy layers/core/pulse functions/profile_updater functions/api infrastructure scripts training
	$(BIN)/mypy functions/collector
	$(BIN)/mypy functions/segment_refresher

validate: venv
	$(BIN)/sam validate --lint --region us-east-1

scan: venv
	$(BIN)/checkov -f template.yaml --framework cloudformation --quiet --compact --skip-download

pytest: venv
	$(BIN)/pytest

unit: venv
	$(BIN)/pytest -m unit

integration: venv
	$(BIN)/pytest -m integration

e2e: venv
	$(BIN)/pytest -m e2e

test: lint typecheck validate scan pytest

up: venv
	$(PY) -m infrastructure.local_stack

events: venv
	$(PY) -m scripts.make_sample_events

build: venv
	PATH="$$(dirname $$(scripts/find_python.sh)):$$PATH" $(BIN)/sam build --region us-east-1

sizes: build
	$(PY) -m scripts.function_sizes

bench: venv
	$(PY) -m scripts.bench_updater

bench-api: venv
	$(PY) -m scripts.bench_api

# The training job talks to whatever endpoint the standard AWS variables name; default: the local stack.
AWS_ENV = AWS_ENDPOINT_URL=$${AWS_ENDPOINT_URL-http://127.0.0.1:5000} \
	AWS_ACCESS_KEY_ID=$${AWS_ACCESS_KEY_ID-testing} AWS_SECRET_ACCESS_KEY=$${AWS_SECRET_ACCESS_KEY-testing} \
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION-us-east-1}
BUCKET ?= pulse-local-modelbucket

demo: venv
	$(PY) -m scripts.demo $(if $(SERVE),--serve) $(if $(SAMPLE),--sample $(SAMPLE))

evaluate: venv
	$(PY) -m training evaluate --events $$($(PY) -m training.movielens) --out reports/evaluation

# a synthetic e-commerce log for scale and load tests: make synthetic EVENTS_N=1000000 USERS=100000 ITEMS=10000
synthetic: venv
	$(PY) -m training.synthetic --out .cache/synthetic/events.jsonl.gz --events $(or $(EVENTS_N),200000) \
		--users $(or $(USERS),10000) --items $(or $(ITEMS),5000)

movielens: venv
	$(PY) -m training.movielens

train: venv
	@test -n "$(EVENTS)" || { echo "usage: make train EVENTS=<log.jsonl[.gz]|s3://...> [BUCKET=<name>] [PROMOTE=1]"; exit 2; }
	$(AWS_ENV) $(PY) -m training train --events "$(EVENTS)" --bucket "$(BUCKET)" $(if $(PROMOTE),--promote) $(if $(FORCE),--force)

promote: venv
	$(AWS_ENV) $(PY) -m training promote "$(VERSION)" --bucket "$(BUCKET)" $(if $(FORCE),--force)

rollback: venv
	$(AWS_ENV) $(PY) -m training rollback --bucket "$(BUCKET)"

backfill: venv
	@test -n "$(EVENTS)" || { echo "usage: make backfill EVENTS=<log.jsonl[.gz]|dir|s3://...> [RATE=1000] [START_LINE=n]"; exit 2; }
	$(AWS_ENV) $(PY) -m scripts.backfill --events "$(EVENTS)" $(if $(RATE),--rate $(RATE)) $(if $(START_LINE),--start-line $(START_LINE)) $(if $(REJECTS),--rejects "$(REJECTS)")

resegment: venv
	$(AWS_ENV) $(PY) -m scripts.resegment $(if $(STACK),--stack "$(STACK)") $(if $(RECOUNT_ONLY),--recount-only) $(if $(RESUME),--resume) $(if $(WORKERS),--workers $(WORKERS))

# the dead-letter queue: list it (changes nothing), or put its records back on the stream
DL_WHERE = $(if $(STACK),--stack "$(STACK)")
dead-letters: venv
	$(AWS_ENV) $(PY) -m scripts.dead_letters $(DL_WHERE) list

replay-dead-letters: venv
	$(AWS_ENV) $(PY) -m scripts.dead_letters $(DL_WHERE) replay $(if $(REASON),--reason "$(REASON)") $(if $(DRY_RUN),--dry-run)

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

openapi: venv
	$(PY) -m scripts.openapi
