#!/usr/bin/env bash
# Bounded fuzzing (part of `make bench`): the property-based fuzz targets of the readers and the
# search request path, PROPTEST_CASES inputs each (default 5000), and the bad-input and failpoint
# tables; executions and findings go to eval/results/robustness.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
cases=${PROPTEST_CASES:-5000}
out=eval/results/robustness.txt
features=${FEATURES:---features trine/mkl}
export MKLROOT=${MKLROOT:-$PWD/.mkl}
{
  echo "# Robustness runs (commit $(git rev-parse --short HEAD), PROPTEST_CASES=$cases)"
  PROPTEST_CASES=$cases cargo test --release --locked -p trine-corpus --test fuzz -- --nocapture 2>&1 | grep -E "^fuzz|test result"
  PROPTEST_CASES=$cases cargo test --release --locked -p trine-index --test fuzz -- --nocapture 2>&1 | grep -E "^fuzz|test result"
  cargo test --release --locked -p trine $features --test bad_input -- --nocapture 2>&1 | grep -E "^bad-input|test result"
  cargo test --release --locked -p trine-index --test failpoints -- --nocapture 2>&1 | grep -E "^failpoint|test result"
  cargo test --release --locked --workspace --features trine/mkl --test checkpoint_failpoints -- --nocapture 2>&1 | grep -E "^failpoint|test result"
} | tee "$out"
