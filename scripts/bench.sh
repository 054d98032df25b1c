#!/usr/bin/env bash
# Benchmarks (run by `make bench`): trine and its peers on the same job, side by side.
# Results: eval/results/*.json and eval/results/SUMMARY.md.
#   BENCH_DOCS=N   embed only the first N SciFact documents (default: all 5,183)
#   BENCH_PEERS=0  skip the sentence-transformers runs (they need eval/.venv, made here)
set -euo pipefail
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
scifact=$(scripts/scifact-path.sh "${TRINE_DATA_ROOT:-../shared/corpora}")
out=eval/results
mkdir -p "$out"
limit=()
[ -n "${BENCH_DOCS:-}" ] && limit=(--limit "$BENCH_DOCS")
threads=$(nproc)

echo "== embedding throughput: trine (f32, batch 32, max 256 tokens, $threads threads)"
"$trine" --threads "$threads" embed --model "$model" --input "$scifact" --output "$(mktemp -d)/emb.parquet" \
  --batch-size 32 "${limit[@]}" --report "$out/embed-trine.json"

if [ "${BENCH_PEERS:-1}" = 1 ]; then
  if [ ! -x eval/.venv/bin/python ]; then
    echo "== creating eval/.venv with sentence-transformers (peer benchmark)"
    python3 -m venv eval/.venv
    eval/.venv/bin/pip install -q -r eval/peers/requirements.txt
  fi
  for dtype in f32 bf16; do
    echo "== embedding throughput: sentence-transformers ($dtype)"
    eval/.venv/bin/python eval/peers/st_embed.py "$model" "$scifact/corpus.jsonl" \
      "$out/embed-st-$dtype.json" --dtype "$dtype" --threads "$threads" ${BENCH_DOCS:+--limit $BENCH_DOCS}
  done
fi

python3 scripts/bench_summary.py "$out" > "$out/SUMMARY.md"
cat "$out/SUMMARY.md"
