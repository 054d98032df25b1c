#!/usr/bin/env bash
# Training on every family that has a training path (part of `make bench`): each tiny fixture
# folder (made by sentence-transformers) is trained with `trine train` for 40 InfoNCE steps on
# SciFact train triplets, and the folder trine writes is loaded back in sentence-transformers,
# which must embed as trine does (eval/peers/st_reload.py). Writes eval/results/FAMILY-TRAINING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
py=${PYTHON:-eval/.venv/bin/python}
res=eval/results
work=${BENCH_FAMILY_DIR:-/tmp/trine-bench-family-training}
root=${TRINE_DATA_ROOT:-../shared/corpora}
scifact=$(scripts/scifact-path.sh "$root")
fixtures=crates/trine-encoder/tests/fixtures
rm -rf "$work" && mkdir -p "$work" "$res"
"$trine" mine --data "$scifact" --split train --retriever bm25 --negatives 1 --skip-top 3 \
    --model models/all-MiniLM-L6-v2 --out "$work/triplets.parquet" > /dev/null
texts=("Vitamin D deficiency raises the risk of fractures." "" "维生素D缺乏 🧬 骨折"
       "$(printf 'long %.0s' $(seq 1 80))")
{
    echo "# Training each family, reloaded in sentence-transformers"
    echo
    echo "\`scripts/bench-family-training.sh\` (commit $(git rev-parse --short HEAD)): each fixture trained with"
    echo "\`trine train --loss infonce --max-steps 40 --batch-size 16 --lr 1e-3\` on SciFact train triplets,"
    echo "then embedded by \`trine encode\` and by sentence-transformers from the folder trine wrote."
    echo
    echo "| fixture | family | loss, first 5 steps | loss, last 5 steps | worst cosine (ST vs trine) | max abs diff |"
    echo "|---|---|---|---|---|---|"
} > "$res/FAMILY-TRAINING.md"
for fx in bert-cls-normalize distilbert-mean xlm-roberta-mean-prompts xlm-roberta-mean-sqrt-len modernbert-mean \
    qwen3-lasttoken-prompts; do
    out="$work/$fx"
    "$trine" train --model "$fixtures/$fx" --triplets "$work/triplets.parquet" --out "$out" \
        --loss infonce --max-steps 40 --batch-size 16 --lr 1e-3 --seed 42 > "$work/$fx.log"
    "$trine" encode --model "$out" "${texts[@]}" > "$work/$fx-trine.jsonl"
    "$py" eval/peers/st_reload.py "$out" "$work/$fx-trine.jsonl" "$work/$fx-reload.json"
    python3 - "$fx" "$out" "$work/$fx-reload.json" >> "$res/FAMILY-TRAINING.md" <<'PY'
import json, sys
fx, out, reload = sys.argv[1:4]
family = json.load(open(f"{out}/config.json")).get("model_type", "bert")
losses = [float(l.split(",")[2]) for l in open(f"{out}/train-log.csv").read().splitlines()[1:]]
r = json.load(open(reload))
print(f"| {fx} | {family} | {sum(losses[:5]) / 5:.4f} | {sum(losses[-5:]) / 5:.4f} "
      f"| {r['worst_cosine']:.8f} | {r['max_abs_diff']:.2e} |")
PY
done
cat "$res/FAMILY-TRAINING.md"
