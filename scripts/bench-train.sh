#!/usr/bin/env bash
# Fine-tuning benchmark on SciFact: BM25-mined triplets from the train split, one epoch, batch 16,
# lr 2e-5; 100 train queries held out as the dev set (checkpoint choice and fusion tuning); test
# figures for dense, hybrid RRF and hybrid convex (α tuned on the dev queries). Also times
# sentence-transformers on the same triplets (with "full", trine's InfoNCE on its exact terms too).
# Writes eval/results/train-*.json.
#
# Env: BENCH_TRAIN_LOSSES (default: every row of eval/results/TRAIN.md; `NAME-2ep` runs
# NAME for 2 epochs at lr 5e-5), BENCH_TRAIN_DIR (models,
# default /tmp/trine-bench-train), BENCH_TRAIN_PEER_STEPS (sentence-transformers steps timed;
# "full" for a whole epoch and its test figures; 0 to skip; default 8), BENCH_TRAIN_SEED (trine's
# --seed, which also picks the dev queries; default 42; other seeds name rows NAME-seedN).
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
model=models/all-MiniLM-L6-v2
res=eval/results
work=${BENCH_TRAIN_DIR:-/tmp/trine-bench-train}
losses=${BENCH_TRAIN_LOSSES:-"infonce-2ep infonce batch-all batch-hard semi-hard semi-hard-2ep proxy-nca proxy-anchor"}
peer_steps=${BENCH_TRAIN_PEER_STEPS:-8}
seed=${BENCH_TRAIN_SEED:-42}
scifact=$(scripts/scifact-path.sh)
mkdir -p "$work" "$res"

echo "== mining BM25 hard negatives (SciFact train)"
"$trine" mine --data "$scifact" --split train --retriever bm25 --negatives 1 \
    --out "$work/bm25.parquet" | tee "$res/train-mine.txt"

# Test figures of a model folder: dense, hybrid RRF, hybrid convex with α tuned on dev queries.
evaluate() {
    local m=$1 name=$2 dev_qrels=$3
    local emb="$work/$name.emb.parquet" idx="$work/$name.idx" devdata="$work/$name.devdata"
    "$trine" embed --model "$m" --input "$scifact" --output "$emb"
    "$trine" index build --force --model "$m" --corpus "$scifact" --embeddings "$emb" --out "$idx"
    rm -rf "$devdata" && mkdir -p "$devdata/qrels"
    ln -s "$(realpath "$scifact")/corpus.jsonl" "$devdata/corpus.jsonl"
    ln -s "$(realpath "$scifact")/queries.jsonl" "$devdata/queries.jsonl"
    cp "$dev_qrels" "$devdata/qrels/dev.tsv"
    "$trine" tune-fusion --model "$m" --data "$devdata" --split dev --index "$idx" | tail -3
    for mode in dense rrf tuned; do
        case $mode in
            dense) flags=(--retriever dense) ;;
            rrf) flags=(--retriever hybrid --fusion rrf) ;;
            tuned) flags=(--retriever hybrid) ;;
        esac
        "$trine" eval --data "$scifact" --split test --model "$m" --index "$idx" "${flags[@]}" \
            --json --out-dir "$work/runs-$name" > "$work/$name.$mode.json"
    done
    python3 - "$work" "$name" "$res/train-$name.json" "$idx" <<'PY'
import json, sys
work, name, out, idx = sys.argv[1:]
r = {m: json.load(open(f"{work}/{name}.{m}.json"))["ndcg@10"] for m in ["dense", "rrf", "tuned"]}
fusion = json.load(open(f"{idx}/" + open(f"{idx}/CURRENT").read().strip() + "/manifest.json"))["fusion"]
summary = {}
try:
    summary = json.load(open(f"{work}/{name}/train-summary.json"))
except FileNotFoundError:
    pass
import subprocess
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
json.dump({"name": name, "test_ndcg@10": r, "tuned_fusion": fusion, "train": summary, "commit": commit}, open(out, "w"), indent=2)
print(name, r, fusion)
PY
}

dev_qrels=""
for spec in $losses; do
    loss=${spec%-2ep} lr=2e-5 epochs=1 every=29
    if [ "$loss" != "$spec" ]; then lr=5e-5 epochs=2 every=26; fi
    name=$spec
    [ "$seed" = 42 ] || name="$spec-seed$seed"
    echo "== trine train --loss $loss --lr $lr --epochs $epochs --seed $seed"
    extra=()
    case $loss in
        semi-hard|batch-hard|batch-all|triplet) extra=(--distance cosine --margin 0.1) ;;
    esac
    "$trine" train --model "$model" --triplets "$work/bm25.parquet" --loss "$loss" "${extra[@]}" \
        --batch-size 16 --lr "$lr" --epochs "$epochs" --seed "$seed" \
        --eval-data "$scifact" --eval-split train --dev-queries 100 --dev-docs 1000 \
        --eval-every "$every" --overwrite --out "$work/$name"
    dev_qrels="$work/$name/dev-qrels.tsv"
    evaluate "$work/$name" "$name" "$dev_qrels"
done

if [ "$seed" = 42 ] && [ -n "$dev_qrels" ] && [ ! -f "$res/train-zero-shot.json" ]; then
    echo "== zero-shot all-MiniLM-L6-v2 (same dev queries for fusion tuning)"
    evaluate "$model" zero-shot "$dev_qrels"
fi

if [ "$peer_steps" = 0 ]; then python3 scripts/train_summary.py "$res"; exit 0; fi
if [ "$peer_steps" = full ]; then
    # The peer's terms exactly: all 919 triplets, one epoch, lr 2e-5, no dev hold-out, last
    # weights; so time per step and test figures compare side by side.
    echo "== trine train --loss infonce on the peer's terms"
    "$trine" train --model "$model" --triplets "$work/bm25.parquet" --loss infonce \
        --batch-size 16 --lr 2e-5 --epochs 1 --seed 42 --checkpoint-every 0 --overwrite \
        --out "$work/infonce-all"
    [ -z "$dev_qrels" ] || evaluate "$work/infonce-all" infonce-all "$dev_qrels"
fi
echo "== sentence-transformers on the same triplets"
[ -x eval/.venv/bin/python ] || { python3 -m venv eval/.venv && eval/.venv/bin/pip install -q -r eval/peers/requirements.txt; }
steps=()
[ "$peer_steps" = full ] || steps=(--max-steps "$peer_steps")
for l in mnrl; do
    eval/.venv/bin/python eval/peers/st_train.py "$model" "$work/bm25.parquet" "$work/st-$l" \
        "$res/train-st-$l.json" --loss "$l" "${steps[@]}"
    if [ "$peer_steps" = full ] && [ -n "$dev_qrels" ]; then
        evaluate "$work/st-$l" "st-$l-full" "$dev_qrels"
    fi
done
python3 scripts/train_summary.py "$res"
