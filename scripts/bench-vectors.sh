#!/usr/bin/env bash
# Quantised vectors (part of `make bench`): SciFact test nDCG@10 and query latency with the f32
# scan and with int8 and binary first passes rescored in f32 (`index build --vectors F
# --rescore 100`), all on the same embeddings; then the synthetic sweep at 1M × 384
# (crates/trine-index/examples/quantized_bench.rs). Writes eval/results/vectors-*.json and
# eval/results/VECTORS.md.
#   BENCH_VECTORS_N  synthetic collection size (default 1000000; 0 skips it)
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
root=${TRINE_DATA_ROOT:-../shared/corpora}
scifact=$(scripts/scifact-path.sh "$root")
res=eval/results
work=${BENCH_VECTORS_DIR:-/tmp/trine-bench-vectors}
mkdir -p "$work" "$res"
commit=$(git rev-parse --short HEAD)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)

emb="$work/scifact.parquet"
[ -f "$emb" ] || "$trine" embed --model "$model" --input "$scifact" --output "$emb"
python3 scripts/test-queries.py "$scifact" > "$work/test-queries.jsonl"

for fmt in f32 int8 binary; do
    echo "== SciFact, --vectors $fmt"
    idx="$work/scifact-$fmt.idx"
    "$trine" index build --force --model "$model" --corpus "$scifact" --out "$idx" --embeddings "$emb" \
        --ann never --vectors "$fmt" --rescore 100
    eval=("$trine" eval --model "$model" --data "$scifact" --split test --index "$idx" --json)
    dense=$("${eval[@]}" --retriever dense)
    hybrid=$("${eval[@]}" --retriever hybrid --fusion rrf)
    "$trine" search "$idx" --queries "$work/test-queries.jsonl" --run "$work/run-$fmt.trec" --mode dense \
        --latency-report "$work/latency-$fmt.json"
    python3 - "$res/vectors-scifact-$fmt.json" "$idx" "$fmt" "$dense" "$hybrid" "$work/latency-$fmt.json" \
        "$commit" "$cpu" <<'PY'
import json, os, sys
dest, idx, fmt, dense, hybrid, latency, commit, cpu = sys.argv[1:]
gen = os.path.join(idx, open(os.path.join(idx, "CURRENT")).read().strip())
size = lambda name: os.path.getsize(os.path.join(gen, name)) if os.path.exists(os.path.join(gen, name)) else None
json.dump({"vectors": fmt, "rescore": 100, "f32_bytes": size("vectors.f32"), "quantized_bytes": size("vectors.q"),
           "dense": json.loads(dense), "hybrid_rrf": json.loads(hybrid), "latency": json.load(open(latency)),
           "commit": commit, "cpu": cpu}, open(dest, "w"), indent=2)
PY
done

n=${BENCH_VECTORS_N:-1000000}
if [ "$n" != 0 ]; then
    echo "== synthetic: $n × 384 latent vectors, exact scan against int8 and binary first passes"
    cargo build --release --locked -p trine-index --example quantized_bench
    target/release/examples/quantized_bench --n "$n" --out "$res/vectors-synthetic.json"
fi

python3 - "$res" <<'PY' > "$res/VECTORS.md"
import json, os, sys
res = sys.argv[1]
print("# Quantised vectors\n")
print("`scripts/bench-vectors.sh`: the same all-MiniLM-L6-v2 f32 embeddings of SciFact, indexed with "
      "`--vectors f32|int8|binary --rescore 100 --ann never`; the int8 and binary copies are kept in "
      "memory and their best 100 candidates rescored against the f32 vectors (memory-mapped). "
      "Latency: `trine search --mode dense` over the 300 test queries one at a time, query encoding "
      "included.\n")
rows = {f: json.load(open(f"{res}/vectors-scifact-{f}.json")) for f in ("f32", "int8", "binary")
        if os.path.exists(f"{res}/vectors-scifact-{f}.json")}
if rows:
    base = rows.get("f32")
    print("| vectors | in-memory bytes | vs f32 | dense nDCG@10 | Δ vs f32 | hybrid RRF nDCG@10 | dense p50 ms | CPU | commit |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f, r in rows.items():
        mem = r["quantized_bytes"] or r["f32_bytes"]
        d = r["dense"]["ndcg@10"]
        delta = f"{d - base['dense']['ndcg@10']:+.4f}" if base else ""
        lat = r["latency"]["p50_ms"]
        print(f"| {f} | {mem:,} | {base['f32_bytes'] / mem:.1f}× | {d:.4f} | {delta} | "
              f"{r['hybrid_rrf']['ndcg@10']:.4f} | {lat:.2f} | {r['cpu']} | {r['commit']} |")
    print()
path = f"{res}/vectors-synthetic.json"
if os.path.exists(path):
    s = json.load(open(path))
    print(f"## Synthetic: {s['n']:,} × {s['dim']} ({s['shape']}), {s['queries']} queries, {s['threads']} threads\n")
    print(f"Exact f32 scan: p50 {s['exact']['p50_ms']:.1f} ms, p99 {s['exact']['p99_ms']:.1f} ms, "
          f"{s['exact']['memory_bytes'] / 2**20:.0f} MiB.\n")
    print("| vectors | MiB | vs f32 | rescored | recall@10 | p50 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|")
    for q in s["quantized"]:
        for w in q["sweep"]:
            print(f"| {q['format']} | {q['memory_bytes'] / 2**20:.0f} | {q['memory_ratio_vs_f32']:.1f}× | "
                  f"{w['rescore']} | {w['recall@10']:.4f} | {w['p50_ms']:.2f} | {w['p99_ms']:.2f} |")
PY
echo "wrote $res/VECTORS.md"
