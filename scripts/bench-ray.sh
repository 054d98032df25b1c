#!/usr/bin/env bash
# Ray (part of `make bench`): SciFact embedded by `trine.ray.embed` on a local two-node Ray cluster
# (2 actors x 1 thread) against `trine embed`, 4 shards built as Ray tasks and searched in process
# and on Ray Serve against one index (scripts/bench_ray.py). Needs the wheel installed in .venv-py
# (`make test-py` does it). Writes eval/results/ray.json.
set -euo pipefail
cd "$(dirname "$0")/.."
trine=$(realpath "${TRINE:-target/release/trine}")
model=${MODEL:-models/all-MiniLM-L6-v2}
scifact=$(scripts/scifact-path.sh "${TRINE_DATA_ROOT:-../shared/corpora}")
work=${BENCH_RAY_DIR:-/tmp/trine-bench-ray}
.venv-py/bin/python scripts/bench_ray.py "$trine" "$model" "$scifact" "$work" eval/results/ray.json
python3 - eval/results/ray.json "$(git rev-parse --short HEAD)" "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["commit"], r["cpu"] = sys.argv[2], sys.argv[3]
json.dump(r, open(sys.argv[1], "w"), indent=2)
PY
