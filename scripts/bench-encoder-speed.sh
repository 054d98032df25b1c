#!/usr/bin/env bash
# Encoder speed side by side (part of `make bench`): trine f32 / bf16 / int8 (and bf16 with a
# token budget instead of a fixed batch) and sentence-transformers f32 / bf16 embed the same
# SciFact documents (batch 32, ≤ 256 tokens), in interleaved rounds so that both engines see the
# same machine; then SciFact test dense nDCG@10 for each trine number format. Writes
# eval/results/encoder-speed.json and eval/results/ENCODER-SPEED.md with the ratios.
#   BENCH_SPEED_DOCS (1000), BENCH_SPEED_ROUNDS (2), BENCH_SPEED_TOKENS (8192: the token budget)
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
py=${PYTHON:-eval/.venv/bin/python}
model=${MODEL:-models/all-MiniLM-L6-v2}
scifact=$(scripts/scifact-path.sh "${TRINE_DATA_ROOT:-../shared/corpora}")
res=eval/results
work=${BENCH_SPEED_DIR:-/tmp/trine-bench-encoder-speed}
docs=${BENCH_SPEED_DOCS:-1000}
rounds=${BENCH_SPEED_ROUNDS:-2}
budget=${BENCH_SPEED_TOKENS:-8192}
threads=$(nproc)
rm -rf "$work" && mkdir -p "$work" "$res"
for round in $(seq 1 "$rounds"); do
    for dtype in f32 bf16 int8; do
        echo "== round $round: trine $dtype"
        "$trine" --threads "$threads" embed --model "$model" --input "$scifact" --limit "$docs" \
            --batch-size 32 --dtype "$dtype" --output "$work/trine-$dtype.parquet" \
            --report "$work/trine-$dtype-$round.json"
    done
    echo "== round $round: trine bf16, --max-batch-tokens $budget"
    "$trine" --threads "$threads" embed --model "$model" --input "$scifact" --limit "$docs" \
        --max-batch-tokens "$budget" --dtype bf16 --output "$work/trine-bf16-tokens.parquet" \
        --report "$work/trine-bf16-tokens-$round.json"
    for dtype in f32 bf16; do
        echo "== round $round: sentence-transformers $dtype"
        "$py" eval/peers/st_embed.py "$model" "$scifact/corpus.jsonl" "$work/st-$dtype-$round.json" \
            --dtype "$dtype" --threads "$threads" --limit "$docs" > /dev/null
    done
done
for dtype in f32 bf16 int8; do
    echo "== SciFact test dense nDCG@10, trine $dtype"
    "$trine" eval --model "$model" --dtype "$dtype" --data "$scifact" --split test --retriever dense \
        --json > "$work/ndcg-$dtype.json"
done
python3 - "$work" "$rounds" "$docs" "$budget" "$(git rev-parse --short HEAD)" "$res" <<'PY'
import json, statistics, sys
work, rounds, docs, budget, commit, res = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
rows = {
    "trine f32": "trine-f32", "trine bf16": "trine-bf16", "trine int8": "trine-int8",
    f"trine bf16, --max-batch-tokens {budget}": "trine-bf16-tokens",
    "sentence-transformers f32": "st-f32", "sentence-transformers bf16": "st-bf16",
}
table = {}
for name, stem in rows.items():
    runs = [json.load(open(f"{work}/{stem}-{r}.json")) for r in range(1, rounds + 1)]
    table[name] = {
        "docs_per_s": [r["docs_per_s"] for r in runs],
        "mean_docs_per_s": statistics.mean(r["docs_per_s"] for r in runs),
        "peak_rss_gib": max(r["peak_rss_mib"] for r in runs) / 1024,
    }
ndcg = {d: json.load(open(f"{work}/ndcg-{d}.json"))["ndcg@10"] for d in ("f32", "bf16", "int8")}
speed = lambda n: table[n]["mean_docs_per_s"]
ratios = {
    "trine f32 / sentence-transformers f32": speed("trine f32") / speed("sentence-transformers f32"),
    "trine bf16 / sentence-transformers bf16": speed("trine bf16") / speed("sentence-transformers bf16"),
    "trine int8 / sentence-transformers bf16": speed("trine int8") / speed("sentence-transformers bf16"),
}
json.dump({"commit": commit, "documents": int(docs), "rounds": rounds, "engines": table,
           "scifact_dense_ndcg@10": ndcg, "ratios": ratios}, open(f"{res}/encoder-speed.json", "w"), indent=2)
with open(f"{res}/ENCODER-SPEED.md", "w") as f:
    print("# Encoder speed, side by side", file=f)
    print(file=f)
    print(f"`scripts/bench-encoder-speed.sh` (commit {commit}): the first {docs} SciFact documents, batch 32, "
          f"≤ 256 tokens, {rounds} interleaved rounds on this machine; SciFact test dense nDCG@10 over the whole corpus.", file=f)
    print(file=f)
    print("| engine | docs/s per round | mean docs/s | peak RSS GiB | SciFact dense nDCG@10 |", file=f)
    print("|---|---|---|---|---|", file=f)
    for name, t in table.items():
        d = name.split()[1].rstrip(",") if name.startswith("trine") and "tokens" not in name else None
        n = f"{ndcg[d]:.4f}" if d in ndcg else ""
        per = ", ".join(f"{v:.1f}" for v in t["docs_per_s"])
        print(f"| {name} | {per} | {t['mean_docs_per_s']:.1f} | {t['peak_rss_gib']:.2f} | {n} |", file=f)
    print(file=f)
    for k, v in ratios.items():
        print(f"- {k}: {v:.2f}×", file=f)
print(open(f"{res}/ENCODER-SPEED.md").read())
PY
