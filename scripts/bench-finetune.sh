#!/usr/bin/env bash
# Fine-tuning benchmark (part of `make bench`): `trine finetune` with its recommended recipe on
# corpora it was not tuned on, seeds 42-44, and sentence-transformers' nearest equivalents on the
# same data and budget, all evaluated by trine. Writes eval/results/finetune-*.json and
# eval/results/FINETUNE.md.
#
#   NFCorpus: train split → model; dev before/after (the test judgements are withheld: the README
#             gives the command that evaluates the model on qrels/test.tsv).
#   SciFact:  train split (100 queries held out as dev) → model; test dense / hybrid figures.
#   20 Newsgroups: train.jsonl (10% of every class held out as dev) → model, one run per loss
#             family; k-means (k = 20) V-measure on the test split (docs.jsonl).
#   Memory:   peak RSS of InfoNCE batch 64 with cached gradients beside plain batch 16 and 64.
#
# Env: BENCH_FT_PARTS (default "nfcorpus memory scifact 20ng peers-20ng peers-nfcorpus"), BENCH_FT_SEEDS (42 43 44),
# BENCH_FT_LOSSES (20NG loss families), BENCH_FT_DIR (models, default /tmp/trine-bench-finetune).
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
res=eval/results
work=${BENCH_FT_DIR:-/tmp/trine-bench-finetune}
parts=${BENCH_FT_PARTS:-"nfcorpus memory scifact 20ng peers-20ng peers-nfcorpus"}
seeds=${BENCH_FT_SEEDS:-"42 43 44"}
losses=${BENCH_FT_LOSSES:-"batch-hard infonce semi-hard batch-all proxy-nca proxy-anchor"}
root=${TRINE_DATA_ROOT:-../shared/corpora}
scifact=$(scripts/scifact-path.sh "$root")
mkdir -p "$work" "$res"
commit=$(git rev-parse --short HEAD)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
# The memory part and the NFCorpus peer train on the triplets mined by the first seed's run.
first=${seeds%% *}
want() { [[ " $parts " == *" $1 "* ]]; }

# The first seed's NFCorpus triplets: the nfcorpus part's, or mined alone with the recipe's
# mining (the same flags and bf16 dense scores as `finetune`) when that part did not run here.
first_triplets() {
    local trip="$work/nfcorpus-$first/triplets.parquet"
    if [ ! -f "$trip" ]; then
        echo "== trine mine NFCorpus with the finetune recipe's mining (seed $first)" >&2
        mkdir -p "$work/nfcorpus-$first"
        "$trine" mine --data nfcorpus --split train --out "$trip" --seed "$first" --dtype bf16 \
            --retriever hybrid --skip-top 10 --depth 100 --sampling random --max-score-ratio 0.95 \
            --max-pairs-per-query 8 >&2
    fi
    echo "$trip"
}

# Copies a finetune report with the commit and the command that made it.
keep() {
    local out=$1 name=$2; shift 2
    python3 - "$out/finetune-report.json" "$res/finetune-$name.json" "$commit" "$*" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["commit"], r["command"], r["cpu"] = sys.argv[3], sys.argv[4], sys.argv[5]
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
}

# Records the CPU a peer's report was made on.
peer_cpu() {
    python3 - "$1" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r["cpu"] = sys.argv[2]
json.dump(r, open(sys.argv[1], "w"), indent=2)
PY
}

# Test figures of a retrieval model on SciFact: dense, hybrid RRF, hybrid with the fusion the
# finetune report tuned on dev (the corpus embedded once, by the first).
scifact_test() {
    local m=$1 name=$2 fusion_flags=$3
    local out="$res/finetune-$name-test.json"
    local eval=("$trine" eval --data "$scifact" --split test --model "$m" --json --out-dir "$work/runs"
                --doc-embeddings "$work/$name-docs.emb")
    rm -f "$work/$name-docs.emb"
    {
        echo "{"
        echo "\"dense\": $("${eval[@]}" --retriever dense),"
        echo "\"rrf\": $("${eval[@]}" --retriever hybrid --fusion rrf),"
        echo "\"tuned\": $("${eval[@]}" --retriever hybrid $fusion_flags),"
        echo "\"fusion_flags\": \"$fusion_flags\", \"commit\": \"$commit\""
        echo "}"
    } > "$out"
}

fusion_flags() {
    python3 - "$1/finetune-report.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))["after"]["fusion"]
print({"rrf": f"--fusion rrf --rrf-k {f.get('k')}", "convex": f"--fusion convex --alpha {f.get('alpha')}",
       "zscore": f"--fusion zscore --alpha {f.get('alpha')}"}[f["method"]])
PY
}

if want nfcorpus; then
    for seed in $seeds; do
        echo "== trine finetune NFCorpus (seed $seed)"
        cmd=("$trine" finetune --data nfcorpus --model "$model" --out "$work/nfcorpus-$seed" --seed "$seed" --report-dtype bf16 --overwrite)
        "${cmd[@]}"
        keep "$work/nfcorpus-$seed" "nfcorpus-seed$seed" "${cmd[@]}"
    done
fi

if want scifact; then
    for seed in $seeds; do
        echo "== trine finetune SciFact (seed $seed)"
        cmd=("$trine" finetune --data "$scifact" --model "$model" --out "$work/scifact-$seed" --seed "$seed" --overwrite)
        "${cmd[@]}"
        keep "$work/scifact-$seed" "scifact-seed$seed" "${cmd[@]}"
        scifact_test "$work/scifact-$seed" "scifact-seed$seed" "$(fusion_flags "$work/scifact-$seed")"
    done
fi

if want 20ng; then
    ng="$root/twentynewsgroups"
    if [ ! -f "$res/finetune-20ng-zero-shot-test.json" ]; then
        "$trine" eval-cluster --data "$ng" --k 20 --model "$model" --dtype bf16 --json > "$res/finetune-20ng-zero-shot-test.json"
    fi
    for loss in $losses; do
        for seed in $seeds; do
            echo "== trine finetune 20 Newsgroups --loss $loss (seed $seed)"
            out="$work/20ng-$loss-$seed"
            cmd=("$trine" finetune --data "$ng/train.jsonl" --model "$model" --loss "$loss" --out "$out" --seed "$seed" --overwrite)
            "${cmd[@]}"
            keep "$out" "20ng-$loss-seed$seed" "${cmd[@]}"
            "$trine" eval-cluster --data "$ng" --k 20 --model "$out" --dtype bf16 --json > "$res/finetune-20ng-$loss-seed$seed-test.json"
        done
    done
fi

if want memory; then
    # Peak RSS and s/step of InfoNCE on the NFCorpus triplets: batch 64 with cached gradients
    # (mini-batches of 16) against plain batches of 16 and of 64; 2 steps each, no dev set.
    trip=$(first_triplets)
    for spec in "cached64 --batch-size 64 --mini-batch-size 16" "plain16 --batch-size 16" "plain64 --batch-size 64"; do
        name=${spec%% *}; flags=${spec#* }
        echo "== memory: $name"
        /usr/bin/time -v "$trine" train --model "$model" --triplets "$trip" --judgements nfcorpus $flags \
            --max-steps 2 --checkpoint-every 0 --overwrite --out "$work/mem-$name" 2> "$work/mem-$name.time"
        python3 - "$work/mem-$name" "$work/mem-$name.time" "$res/finetune-memory-$name.json" "$name" "$commit" <<'PY'
import json, re, sys
out, timing, dest, name, commit = sys.argv[1:]
s = json.load(open(f"{out}/train-summary.json"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timing).read()).group(1)) / 1024
json.dump({"name": name, "batch_size": s["config"]["batch_size"], "mini_batch": s["config"].get("mini_batch"),
           "seconds_per_step": s["summary"]["seconds_per_step"], "peak_rss_mib": rss, "commit": commit},
          open(dest, "w"), indent=2)
PY
    done
fi

peer_venv() {
    [ -x eval/.venv/bin/python ] || { python3 -m venv eval/.venv && eval/.venv/bin/pip install -q -r eval/peers/requirements.txt; }
}

if want peers-20ng; then
    peer_venv
    echo "== sentence-transformers BatchHardTripletLoss (GROUP_BY_LABEL) on 20 Newsgroups train"
    ng="$root/twentynewsgroups"
    steps=$(python3 -c "import json; print(json.load(open('$res/finetune-20ng-batch-hard-seed42.json'))['train']['steps'])")
    eval/.venv/bin/python eval/peers/st_finetune.py labelled "$model" "$ng/train.jsonl" \
        "$work/st-20ng" "$res/finetune-st-20ng.json" --loss batch-hard --batch-size 32 --lr 5e-5 --max-steps "$steps"
    peer_cpu "$res/finetune-st-20ng.json"
    "$trine" eval-cluster --data "$ng" --k 20 --model "$work/st-20ng" --dtype bf16 --json > "$res/finetune-st-20ng-test.json"
fi

if want peers-nfcorpus; then
    peer_venv
    trip=$(first_triplets)
    steps=$(python3 -c "import json; print(json.load(open('$res/finetune-nfcorpus-seed$first.json'))['train']['steps'])")
    echo "== sentence-transformers CachedMNRL on trine's NFCorpus triplets (seed $first, $steps steps)"
    eval/.venv/bin/python eval/peers/st_finetune.py triplets "$model" "$trip" "$root/nfcorpus" \
        "$work/st-nfcorpus" "$res/finetune-st-nfcorpus.json" --batch-size 64 --mini-batch-size 16 --lr 5e-5 --max-steps "$steps" --eval-steps 40
    peer_cpu "$res/finetune-st-nfcorpus.json"
    "$trine" eval --data nfcorpus --split dev --model "$work/st-nfcorpus" --retriever dense --dtype bf16 --json \
        --out-dir "$work/runs" > "$res/finetune-st-nfcorpus-dev.json"
fi

python3 scripts/finetune_summary.py "$res" > "$res/FINETUNE.md"
echo "wrote $res/FINETUNE.md"
