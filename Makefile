# Lodestone developer commands. Progress goes to stderr; `eval "$(make -s up)"` configures a shell.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv up down status reset test check contract-check chart-check image compose-smoke demo bench chaos

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(PY):
	@py=""; for c in python3.11 python3.12 python3.13 python3; do \
	  if $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "Python 3.11+ is required (apt-get install python3 python3-venv)" >&2; exit 1; fi; \
	echo "creating $(VENV) with $$py" >&2; $$py -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@echo "installing the project into $(VENV)" >&2
	@$(PY) -m pip install -q --upgrade pip >&2
	@$(PY) -m pip install -q -e '.[dev]' >&2
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv (Python 3.11+) and install the project with its dev tools

up: $(STAMP)  ## start Kafka + PostgreSQL, create topics/roles/schemas, print export lines
	@$(PY) -m deploy.local up

down: $(STAMP)  ## stop Kafka + PostgreSQL (data kept)
	@$(PY) -m deploy.local down

status: $(STAMP)  ## show what is running
	@$(PY) -m deploy.local status

reset: $(STAMP)  ## stop and delete the local data in .local/ (the Kafka jar cache stays)
	@$(PY) -m deploy.local reset

test: $(STAMP)  ## the whole test suite on real Kafka + PostgreSQL (started if needed, stopped after)
	@$(PY) -m deploy.local run -- $(PY) -m pytest $(PYTEST_ARGS)

check: $(STAMP)  ## ruff lint, ruff format check, mypy strict, and the Helm chart's checks
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@$(MAKE) -s chart-check

chart-check:  ## Helm chart: lint --strict, kubeconform/kubernetes-validate strict, kube-score, unit tests
	@deploy/helm/check.sh

image: $(STAMP)  ## build the OCI image localhost/lodestone with podman, from a wheelhouse
	@PY=$(PY) deploy/container/image.sh

compose-smoke: $(STAMP)  ## compose stack under podman-compose: up, sample traffic, every check, down
	@PY=$(PY) deploy/compose/smoke.sh

contract-check:  ## validate schemas/asyncapi.yaml (AsyncAPI CLI) and schemas/examples/ (ajv)
	@deploy/contract/check.sh

demo: $(STAMP)  ## run the pipeline locally on real Kafka + PostgreSQL with sample traffic
	@exports="$$($(PY) -m deploy.local up)" && eval "$$exports" && $(PY) -m deploy.demo

bench-engine: $(STAMP)  ## decisions/s of the pure screening engine, catalogue at real size and 10x
	$(PY) -m benchmarks.engine.bench_engine 20000

bench-replay: $(STAMP)  ## replay decisions/s and what-if shipments/s of one core, on 100,000 decisions
	$(PY) -m benchmarks.replay.bench_replay 100000

bench-parties: $(STAMP)  ## controlled-party matching per event: bundled list and 20,000 synthetic listings
	$(PY) -m benchmarks.parties.bench_parties

bench-audit: $(STAMP)  ## audit records/s persisted (decode, chain, COPY) next to a raw COPY of the same rows
	@exports="$$($(PY) -m deploy.local up)" && eval "$$exports" && $(PY) -m tests.integration.audit.bench_audit 20000

AUDIT_SCALE ?= 200000
bench-audit-scale: $(STAMP)  ## auditor queries (API, CLI), verify, bytes/record at AUDIT_SCALE records
	@exports="$$($(PY) -m deploy.local up)" && eval "$$exports" && $(PY) -m tests.integration.audit.bench_audit_scale $(AUDIT_SCALE)

BENCH_ARGS ?=
bench: $(STAMP)  ## end-to-end load benchmark (throughput, latency at 200/1k/5k per s, audit) + baselines
	@$(PY) -m deploy.local run -- $(PY) -m benchmarks $(BENCH_ARGS)

CHAOS_ARGS ?=
chaos: $(STAMP)  ## reliability suite at full size: kill -9, broker restart, PostgreSQL outage, poison
	LODESTONE_CHAOS_SCALE=full $(PY) -m pytest tests/chaos -m chaos -v $(CHAOS_ARGS)
