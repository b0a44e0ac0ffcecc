# SuperSVG: run `make help` for the list of targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.setup-stamp
PROTO_STAMP := libs/api/src/supersvg/api/v1/__init__.py
COMPONENTS := libs/common libs/api libs/client libs/datasets libs/cloud diffvg services/vectorizer services/worker services/gateway services/scheduler operator
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

# Every component's source root (the generated supersvg.api.v1 is excluded in pyproject.toml),
# and tools/ (the launcher and the test support that tests and benchmarks share).
MYPY_SRC := libs/common/src libs/api/src libs/client/src libs/datasets/src libs/cloud/src diffvg/src \
	services/*/src operator/src tools

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

# Images built for one platform only (push): the CUDA worker (NVIDIA's CUDA runtime and
# PyTorch's CUDA wheels, used for linux/amd64). Every other image is multi-arch.
SINGLE_ARCH_IMAGES := supersvg-vectorizer
PLATFORMS ?= linux/amd64,linux/arm64
# The images a cluster pulls (the compose-only images added below stay local).
PUSH_IMAGES = $(filter-out $(LOCAL_ONLY_IMAGES),$(IMAGES))
# DRY_RUN=1 prints the engine commands and runs nothing (no engine needed).
IMAGE_ARGS = --registry "$(IMAGE_REGISTRY)" --tag "$(IMAGE_TAG)" --docker "$(DOCKER)" \
	$(if $(filter 1,$(DRY_RUN)),--dry-run)

.PHONY: images
images: ## Build every image for this machine's platform (container engine; IMAGE_REGISTRY, IMAGE_TAG, DRY_RUN=1)
	@$(PYTHON) tools/images.py build $(IMAGE_ARGS) $(IMAGES)

.PHONY: push
push: ## Build the cluster's images multi-arch with buildx and push them: make push IMAGE_REGISTRY=... (DRY_RUN=1)
	@$(PYTHON) tools/images.py push $(IMAGE_ARGS) --platforms "$(PLATFORMS)" \
		--single-arch "$(SINGLE_ARCH_IMAGES)" $(PUSH_IMAGES)

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

.PHONY: bench-deps
bench-deps: ## System tools the benchmarks compare with: potrace (Debian package, apt-get)
	@if command -v potrace >/dev/null 2>&1; then echo "potrace: $$(potrace --version | head -1)"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			--no-install-recommends potrace; \
	fi

.PHONY: bench-vectorize
bench-vectorize: setup bench-deps ## Vectorizer against VTracer, potrace and the previous code (--quick: BENCH_ARGS=--quick)
	$(PY) benchmarks/vectorize_bench.py --out benchmarks/results $(BENCH_ARGS)

.PHONY: bench-train
bench-train: setup ## Training steps/s and peak memory (benchmarks/results/train_*.json)
	$(PY) benchmarks/train_bench.py --out benchmarks/results

.PHONY: gpu-check
gpu-check: setup ## CUDA paths (tests, renderer, vectorizer, training) beside CPU; skips without CUDA
	$(PY) benchmarks/gpu_check.py --out benchmarks/results

.PHONY: bench-api
bench-api: setup ## REST API latency under load on loopback
	$(PY) benchmarks/api_bench.py --out benchmarks/results

.PHONY: clean
clean: ## Remove the virtualenv, generated code and caches
	rm -rf $(VENV) libs/api/src/supersvg/api/v1 .pytest_cache .mypy_cache .ruff_cache

# ----------------------------------------------------------- containers on one machine
# compose.yaml: the service stack and the `train` profile (docs/containers.md). The GPU
# override joins when nvidia-smi lists a GPU; GPU=1 / GPU=0 forces it on or off.
DOCKERFILES += deploy/compose/Dockerfile.scheduler
IMAGES += supersvg-scheduler-local=deploy/compose/Dockerfile.scheduler
LOCAL_ONLY_IMAGES := supersvg-scheduler-local=deploy/compose/Dockerfile.scheduler
COMPOSE ?= $(DOCKER) compose
GPU ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
COMPOSE_FILES := -f compose.yaml $(if $(filter 1,$(GPU)),-f compose.gpu.yaml)
DATA_PATH ?= $(CURDIR)/data
WORKSPACE_PATH ?= $(CURDIR)/workspace
DATASET ?= test
EPOCHS ?= 100
BATCH ?= 32
LR ?= 0.001
# `make docker-test` uses batch 16 unless BATCH is given on the command line.
TEST_BATCH := $(if $(filter command line,$(origin BATCH)),$(BATCH),16)
TRAIN_COMPOSE = DATA_PATH=$(DATA_PATH) WORKSPACE_PATH=$(WORKSPACE_PATH) DATASET=$(DATASET) \
	EPOCHS=$(EPOCHS) BATCH_SIZE=$(BATCH) LR=$(LR) HOST_UID=$$(id -u) HOST_GID=$$(id -g) \
	$(COMPOSE) $(COMPOSE_FILES) --profile train

.PHONY: docker-dirs docker-build docker-up docker-down docker-shell docker-test docker-train \
	docker-daemon docker-logs docker-stop docker-download
docker-dirs:
	mkdir -p $(DATA_PATH) $(WORKSPACE_PATH)/output $(WORKSPACE_PATH)/logs \
		$(WORKSPACE_PATH)/checkpoints

docker-build: ## Build the compose images: service stack and trainer (CUDA with a GPU)
	$(TRAIN_COMPOSE) build

docker-up: ## Service stack in containers: gateway :8080, scheduler + workers, PostgreSQL, MinIO
	$(COMPOSE) $(COMPOSE_FILES) up -d

docker-down: ## Stop and remove the service stack's containers (volumes are kept)
	$(COMPOSE) $(COMPOSE_FILES) down

docker-shell: docker-dirs ## A shell in the trainer image with /data and /workspace bound
	$(TRAIN_COMPOSE) run --rm --entrypoint bash train

docker-test: docker-dirs ## Quick training test: 1 epoch, batch 16 (DATASET, BATCH)
	$(TRAIN_COMPOSE) run --rm -e EPOCHS=1 -e BATCH_SIZE=$(TEST_BATCH) -e RUN_NAME=quick-test train

docker-train: docker-dirs ## Train in the foreground: make docker-train EPOCHS=100 BATCH=32 LR=0.001
	$(TRAIN_COMPOSE) run --rm train

docker-daemon: docker-dirs ## Train in the background (restarts and resumes after a crash)
	$(TRAIN_COMPOSE) up -d train

docker-logs: ## Follow the background training's output
	$(TRAIN_COMPOSE) logs -f train

docker-stop: ## Stop the background training (last.pt stays; docker-daemon resumes it)
	$(TRAIN_COMPOSE) stop train

docker-download: docker-dirs ## Dataset into DATA_PATH with the trainer image (DATASET=test|quickdraw|icons|all)
	$(TRAIN_COMPOSE) run --rm --entrypoint supersvg-datasets train download $(DATASET) /data

.PHONY: bench-budget
bench-budget: setup ## Training time and cost budgets from the measured throughput (docs/hardware.md)
	$(PY) benchmarks/training_budget.py --out benchmarks/results
