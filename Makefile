# One target per habit. `make run` and `make test` start from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= config/gateway.yaml

.PHONY: toolchain agents bytecode fidelity run test bench profile reliability generate schemas lint typecheck fmt clean
AGENTS := tests/agents/node_modules/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Compiles the gateway's own modules to bytecode, as `pip install` does for a deployment: an
## editable install under PYTHONDONTWRITEBYTECODE (set on this machine) would compile
## them at every start (0.15 s of cold start and 2.5 MB of idle memory, make bench's harness).
## Only changed files are compiled again; a file edited since is compiled in memory as before.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q service/llm_gateway

## Regenerates the stubs, the descriptor set and the packaged Envoy config from protos/ and envoy/.
generate: $(STAMP)
	$(BIN)/python scripts/generate.py --out service

## What building the local model server (llama.cpp's llama-server) needs, from Debian if missing.
toolchain:
	command -v cmake >/dev/null && command -v ninja >/dev/null && command -v c++ >/dev/null || \
		(apt-get update -q && apt-get install -y -q cmake ninja-build g++)

## The coding-agent CLIs the suite drives (Claude Code, the Gemini CLI) and the Node.js 22
## they need, all pinned in tests/agents/package-lock.json, from npm.
agents: $(AGENTS)
$(AGENTS): tests/agents/package-lock.json
	cd tests/agents && npm ci --no-audit --no-fund --loglevel=error
	touch $(AGENTS)

## Writes docs/fidelity.md anew from what the stack does (tests/test_fidelity.py checks it).
fidelity: $(STAMP)
	FIDELITY_WRITE=1 $(BIN)/pytest -q tests/test_fidelity.py

## Starts the gateway and its Envoy sidecar in the foreground with config/gateway.yaml (the
## first run builds the local model server: about 4 minutes on 2 cores, shown as it goes).
run: generate toolchain bytecode
	$(BIN)/llm-gateway up --config $(CONFIG)

## Runs the whole suite (lint and type checks included); the real-upstream tests run against
## the local llama-server, built first if the cache (~/.cache/llm-gateway) has none.
test: $(STAMP) toolchain $(AGENTS) bytecode
	command -v kubectl >/dev/null || (apt-get update -q && apt-get install -y -q kubectl)
	$(BIN)/ruff check service tests scripts bench reliability
	$(BIN)/mypy
	$(BIN)/llm-gateway local-model build
	$(BIN)/pytest -q

## Runs the benchmark (about 22 minutes) and writes docs/benchmarks.md and its plots; with
## AGAINST=<git ref>, the A/B of this tree against that ref instead (bench/ab.py).
bench: $(STAMP) bytecode
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	command -v valgrind >/dev/null || (apt-get update -q && apt-get install -y -q valgrind)
ifdef AGAINST
	$(BIN)/python -m bench.ab --against $(AGAINST)
else
	$(BIN)/python -m bench.run
endif

## Profiles a request and a streamed token by stage (py-spy): writes docs/profile.md and
## docs/profile-*.svg (about 2 minutes).
profile: $(STAMP) bytecode
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python -m bench.profile --out docs

## Runs the reliability suite (about 20 minutes) and writes docs/reliability.md.
reliability: $(STAMP) bytecode
	$(BIN)/pip install --quiet -e '.[dev,reliability]'
	$(BIN)/python -m reliability.run

## Regenerates the OpenAI request schemas and the test fixture from ../shared/openai-openapi.
schemas: $(STAMP)
	$(BIN)/python scripts/extract_openai_schemas.py ../shared/openai-openapi/openapi.yaml

lint: $(STAMP)
	$(BIN)/ruff check service tests scripts bench reliability
	$(BIN)/ruff format --check service tests scripts bench reliability

typecheck: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format service tests scripts bench reliability
	$(BIN)/ruff check --fix service tests scripts bench reliability

clean:
	rm -rf $(VENV) build *.egg-info service/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
		tests/agents/node_modules
