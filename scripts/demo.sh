#!/usr/bin/env bash
# The main job end to end on the default model and corpus (run by `make demo`): embed, evaluate,
# index, search, cluster, and fine-tune.
set -euo pipefail
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
scifact=$(scripts/scifact-path.sh "${TRINE_DATA_ROOT:-../shared/corpora}")
emb=data/scifact.all-MiniLM-L6-v2.parquet
idx=data/scifact.idx
mkdir -p data

echo "== 1. Embed the SciFact corpus ($scifact) with $model"
if [ -f "$emb" ]; then
  echo "   $emb exists; its model fingerprint is checked before reuse (delete it to re-embed)"
else
  "$trine" embed --model "$model" --input "$scifact" --output "$emb"
fi

echo
echo "== 2. Dense retrieval on the SciFact test split, with example queries"
"$trine" eval --model "$model" --data "$scifact" --split test --retriever dense \
  --doc-embeddings "$emb" --examples 3

echo
echo "== 3. Build a hybrid index (tantivy BM25 + vectors) from the same embeddings"
"$trine" index build --force --model "$model" --corpus "$scifact" --embeddings "$emb" --out "$idx"
"$trine" index info "$idx"

echo
echo "== 4. Tune the fusion on the train split (never on test), store it in the index"
"$trine" tune-fusion --model "$model" --data "$scifact" --split train --index "$idx"

echo
echo "== 5. Lexical, dense and hybrid retrieval on the test split"
for mode in lexical dense hybrid; do
  printf '%-8s ' "$mode"
  "$trine" eval --model "$model" --data "$scifact" --split test --retriever "$mode" --index "$idx" --json
done

echo
echo "== 6. A hybrid search"
"$trine" search "$idx" "vitamin D deficiency and the risk of tuberculosis" --mode hybrid --k 5

echo
echo "== 7. Topics in the index (spherical k-means, k = 12, and 4 broader groups): keywords, a"
echo "   t-SNE map, then a search filtered to the top hit's topic with topic counts beside it"
"$trine" index cluster "$idx" --k 12 --levels 4
q="vitamin D deficiency and the risk of tuberculosis"
topic=$("$trine" search "$idx" "$q" --json --k 1 --model "$model" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["topic"])')
"$trine" search "$idx" "$q" --mode hybrid --k 5 --topic "$topic" --facets
echo "   map: $idx/$(cat "$idx/CURRENT")/topics-map.png (also served at /topics/map.png)"

echo
echo "== 8. Fine-tune: a short run of the recommended recipe on the SciFact train split"
echo "   (100 train queries held out as dev; the full recipe runs 120 steps of 64: \`make bench\`)"
"$trine" finetune --data "$scifact" --model "$model" --out data/scifact-ft --overwrite \
  --max-steps 12 --batch-size 32 --eval-every 4 --report-dtype bf16
echo "   model card: data/scifact-ft/README.md; curves: data/scifact-ft/curves.svg"

echo
echo "== Next: serve the index with its search page and API"
echo "   $trine serve $idx    # then open http://127.0.0.1:7700/ (topic facets beside the results)"
