#!/usr/bin/env bash
# Load test of `trine serve` on loopback (run by `make bench`): 10,000 hybrid searches from 16
# concurrent keep-alive clients over the SciFact test queries; records throughput, p50/p99,
# errors, the server's memory before and after, and that it exits cleanly on SIGTERM. With
# WRITES=1 the same searches run while a client upserts 1,000 documents and deletes 500 of them
# through the API (the server gets a write token; the index is a copy, so the original stays).
# DTYPE=bf16|int8 serves with that encoder number format; MAX_BATCH_TEXTS=N turns on dynamic
# batching.
#   usage: scripts/bench-serve.sh INDEX QUERIES.jsonl OUT.json
set -euo pipefail
idx=$1 queries=$2 out=$3
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
port=${PORT:-7791}
# The same features as the release binary, so the build reuses its artefacts.
MKLROOT=${MKLROOT:-$PWD/.mkl} cargo build --release --locked --workspace ${FEATURES:---features trine/mkl} --example load
write_flags=()
if [ "${WRITES:-0}" = 1 ]; then
  copy=$(mktemp -d)/idx
  cp -r "$idx" "$copy"
  idx=$copy
  token=bench-$$
  write_flags=(--upserts "${UPSERTS:-1000}" --deletes "${DELETES:-500}" --token "$token")
  export TRINE_WRITE_TOKEN=$token
fi
batch_flags=()
[ -n "${MAX_BATCH_TEXTS:-}" ] && batch_flags=(--max-batch-texts "$MAX_BATCH_TEXTS")
"$trine" serve "$idx" --model "$model" --dtype "${DTYPE:-f32}" "${batch_flags[@]}" --addr "127.0.0.1:$port" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
rss() { awk '/VmRSS/ {print $2 / 1024}' "/proc/$pid/status"; }
# Warm-up: 200 requests, then memory is measured before and after the run proper.
target/release/examples/load --addr "127.0.0.1:$port" --queries "$queries" --requests 200 --clients 16 > /dev/null
before=$(rss)
target/release/examples/load --addr "127.0.0.1:$port" --queries "$queries" --requests "${REQUESTS:-10000}" \
  --clients 16 "${write_flags[@]}" > "$out.load"
after=$(rss)
# The encoder's batching: texts per batch (absent from servers before dynamic batching).
batches=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^trine_encoder_batch_texts_(sum|count)/ {print $2}' | paste -sd' ' || true)
kill -TERM $pid
status=0; wait $pid || status=$?
trap - EXIT
python3 - "$out.load" "$out" "$before" "$after" "$status" "$batches" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r.update({"server_rss_mib_before": float(sys.argv[3]), "server_rss_mib_after": float(sys.argv[4]),
          "exit_status_after_sigterm": int(sys.argv[5])})
parts = sys.argv[6].split()
if len(parts) == 2 and float(parts[1]) > 0:
    # Warm-up included: the histogram covers the server's whole life.
    r["encoder_batches"] = int(float(parts[1]))
    r["mean_texts_per_batch"] = float(parts[0]) / float(parts[1])
json.dump(r, open(sys.argv[2], "w"), indent=1)
print(json.dumps(r))
PY
rm -f "$out.load"
