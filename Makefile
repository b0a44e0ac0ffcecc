# SuperSVG: run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.setup-stamp
PROTO_STAMP := libs/api/src/supersvg/api/v1/__init__.py
COMPONENTS := libs/common libs/api libs/client diffvg services/vectorizer services/worker services/gateway services/scheduler operator
PYTEST_ARGS ?=

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements/constraints.txt requirements/dev.in $(foreach c,$(COMPONENTS),$(c)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c requirements/constraints.txt torch==2.13.0
	# helm-sdkpy declares Python >= 3.12 but its ctypes binding works on 3.11.
	$(PY) -m pip install -q -c requirements/constraints.txt --ignore-requires-python helm-sdkpy
	$(PY) -m pip install -q -c requirements/constraints.txt -r requirements/dev.in \
		$(foreach c,$(COMPONENTS),-e $(c))
	touch $@

.PHONY: setup
setup: $(STAMP) proto ## Create .venv, install every component (editable) and dev tools, generate protos

$(PROTO_STAMP): $(wildcard protos/supersvg/api/v1/*.proto) | $(STAMP)
	rm -rf libs/api/src/supersvg/api/v1
	mkdir -p libs/api/src/supersvg/api/v1
	$(PY) -m grpc_tools.protoc -Iprotos --python_out=libs/api/src --pyi_out=libs/api/src \
		--grpc_python_out=libs/api/src protos/supersvg/api/v1/*.proto
	echo '"""Generated from protos/supersvg/api/v1 by `make proto`; do not edit."""' > $@

.PHONY: proto
proto: $(PROTO_STAMP) ## Generate gRPC code from protos/ into supersvg.api.v1

# Every component's source root (the generated supersvg.api.v1 is excluded in pyproject.toml).
MYPY_SRC := libs/common/src libs/api/src libs/client/src diffvg/src services/*/src operator/src

.PHONY: check
check: setup ## Static checks that `make test` runs first: ruff, mypy, import-linter contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_SRC)
	$(BIN)/lint-imports

.PHONY: lint
lint: check ## `check` plus hadolint on the Dockerfiles
	$(BIN)/hadolint $(DOCKERFILES)

# Container images: name, Dockerfile (built from the repository root as the context).
DOCKERFILES := services/gateway/Dockerfile services/scheduler/Dockerfile operator/Dockerfile \
	services/worker/Dockerfile services/worker/Dockerfile.cpu
IMAGES := supersvg-gateway=services/gateway/Dockerfile \
	supersvg-scheduler=services/scheduler/Dockerfile \
	supersvg-operator=operator/Dockerfile \
	supersvg-vectorizer=services/worker/Dockerfile \
	supersvg-vectorizer-cpu=services/worker/Dockerfile.cpu
DOCKER ?= docker
IMAGE_REGISTRY ?= ghcr.io/supersvg
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: images
images: ## Build every container image (needs a Docker engine; IMAGE_REGISTRY, IMAGE_TAG)
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "make images: '$(DOCKER)' is not installed;" \
		"building images needs a container engine (Docker, or DOCKER=podman)." >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "make images: no container engine answers" \
		"('$(DOCKER) info' failed); start the engine or build in CI." >&2; exit 1; }
	@set -e; for pair in $(IMAGES); do \
		name=$${pair%%=*}; file=$${pair#*=}; \
		echo "building $(IMAGE_REGISTRY)/$$name:$(IMAGE_TAG) from $$file"; \
		$(DOCKER) build -f $$file -t $(IMAGE_REGISTRY)/$$name:$(IMAGE_TAG) .; \
	done

.PHONY: chart-lint
chart-lint: setup ## Helm lint, render into a mock API, validate manifests and Dockerfiles
	$(BIN)/hadolint $(DOCKERFILES)
	$(BIN)/pytest -q tests/unit/chart tests/integration/chart $(PYTEST_ARGS)

.PHONY: fmt
fmt: setup ## Format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: test
test: check ## Static checks, then every test suite (unit, integration, e2e; GPU tests skip without CUDA)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: setup ## Unit tests only
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-reliability
test-reliability: setup ## Faults, load, fuzzing, security, observability (add --run-slow for the long runs)
	$(BIN)/pytest tests/reliability $(PYTEST_ARGS)

.PHONY: run
run: setup ## Start gateway + scheduler + local workers on 127.0.0.1 (embedded mode)
	$(PY) tools/run_embedded.py

.PHONY: bench
bench: bench-diffvg bench-vectorize bench-train ## All benchmarks; results go to benchmarks/results/

.PHONY: bench-diffvg
bench-diffvg: setup ## Renderer speed and memory (benchmarks/results/diffvg_cpu.json)
	$(PY) benchmarks/diffvg_bench.py --out benchmarks/results

.PHONY: bench-vectorize
bench-vectorize: setup ## Vectorizer quality and speed against VTracer
	$(PY) benchmarks/vectorize_bench.py --out benchmarks/results

.PHONY: bench-train
bench-train: setup ## Training steps/s and peak memory (benchmarks/results/train_*.json)
	$(PY) benchmarks/train_bench.py --out benchmarks/results

.PHONY: bench-api
bench-api: setup ## REST API latency under load on loopback
	$(PY) benchmarks/api_bench.py --out benchmarks/results

.PHONY: clean
clean: ## Remove the virtualenv, generated code and caches
	rm -rf $(VENV) libs/api/src/supersvg/api/v1 .pytest_cache .mypy_cache .ruff_cache
