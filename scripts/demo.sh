#!/usr/bin/env bash
# The main job end to end on the default model and corpus (run by `make demo`).
set -euo pipefail
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
scifact=$(scripts/scifact-path.sh "${TRINE_DATA_ROOT:-../shared/corpora}")
emb=data/scifact.all-MiniLM-L6-v2.parquet
mkdir -p data

echo "== 1. Embed the SciFact corpus ($scifact) with $model"
if [ -f "$emb" ]; then
  echo "   $emb exists; 'trine eval' checks its model fingerprint and reuses it (delete it to re-embed)"
else
  "$trine" embed --model "$model" --input "$scifact" --output "$emb"
fi

echo
echo "== 2. Dense retrieval on the SciFact test split, with example queries"
"$trine" eval --model "$model" --data "$scifact" --split test --retriever dense \
  --doc-embeddings "$emb" --examples 3
