#!/usr/bin/env bash
# Long documents (part of `make bench`): plain truncation at max_seq_length against chunking
# (`--chunk-tokens N --chunk-overlap M`, MaxP and mean), on SciFact test and NFCorpus dev.
# Each setting builds one index (bf16 embeddings; build time gives documents/s, the folder its
# size), then dense and hybrid (RRF) are evaluated on it. Writes eval/results/chunking-*.json and
# eval/results/CHUNKING.md.
#   BENCH_CHUNK_SETTINGS  settings to run (default "truncate 128/32/max 128/32/mean 256/64/max")
#   BENCH_CHUNK_DATA      corpus:split pairs to run them on (default "scifact:test nfcorpus:dev")
# CHUNKING.md lists every setting of every corpus that has a result, whichever run made it.
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
root=${TRINE_DATA_ROOT:-../shared/corpora}
res=eval/results
work=${BENCH_CHUNK_DIR:-/tmp/trine-bench-chunking}
all_settings="truncate 128/32/max 128/32/mean 256/64/max"
settings=${BENCH_CHUNK_SETTINGS:-$all_settings}
pairs=${BENCH_CHUNK_DATA:-"scifact:test nfcorpus:dev"}
mkdir -p "$work" "$res"
commit=$(git rev-parse --short HEAD)
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)

for pair in $pairs; do
    data=${pair%%:*}; split=${pair#*:}
    [ "$data" = scifact ] && data_dir=$(scripts/scifact-path.sh "$root") || data_dir="$root/$data"
    for s in $settings; do
        flags=()
        if [ "$s" != truncate ]; then
            IFS=/ read -r tokens overlap agg <<< "$s"
            flags=(--chunk-tokens "$tokens" --chunk-overlap "$overlap" --chunk-aggregate "$agg")
        fi
        name="$data-${s//\//-}"
        idx="$work/$name.idx"
        echo "== $data: $s"
        start=$(date +%s.%N)
        "$trine" index build --force --model "$model" --dtype bf16 --corpus "$data_dir" --out "$idx" "${flags[@]}"
        end=$(date +%s.%N)
        dense=$("$trine" eval --model "$model" --dtype bf16 --data "$data_dir" --split "$split" --index "$idx" \
            --retriever dense --json --out-dir "$work/runs")
        hybrid=$("$trine" eval --model "$model" --dtype bf16 --data "$data_dir" --split "$split" --index "$idx" \
            --retriever hybrid --fusion rrf --json --out-dir "$work/runs")
        info=$("$trine" index info "$idx" --json)
        python3 - "$res/chunking-$name.json" "$start" "$end" "$dense" "$hybrid" "$info" "$idx" "$commit" "$s" "$split" "$cpu" <<'PY'
import json, os, sys
dest, start, end, dense, hybrid, info, idx, commit, setting, split, cpu = sys.argv[1:]
info = json.loads(info)
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(idx) for f in fs)
chunks = None
gen = open(os.path.join(idx, "CURRENT")).read().strip()
path = os.path.join(idx, gen, "chunks.bin")
if os.path.exists(path):
    chunks = int.from_bytes(open(path, "rb").read()[8:16], "little")
secs = float(end) - float(start)
json.dump({"setting": setting, "split": split, "documents": info["documents"], "chunks": chunks,
           "chunking": info.get("chunking"), "build_seconds": secs,
           "docs_per_s": info["documents"] / secs, "index_bytes": size,
           "dense": json.loads(dense), "hybrid_rrf": json.loads(hybrid), "commit": commit, "cpu": cpu},
          open(dest, "w"), indent=2)
PY
    done
done

python3 - "$res" "$all_settings" > "$res/CHUNKING.md" <<'PY'
import json, sys
res, settings = sys.argv[1], sys.argv[2].split()
print("# Long documents: truncation against chunking\n")
print("`scripts/bench-chunking.sh` (all-MiniLM-L6-v2, bf16, max_seq_length 256; chunks of N "
      "tokens with M overlapping, a document scored by its best chunk (max, MaxP) or the mean). "
      "Build time includes embedding, so docs/s compare only between rows of the same CPU; each "
      "row's commit is the trine commit of its run.\n")
for data, split in (("scifact", "test"), ("nfcorpus", "dev")):
    print(f"## {data} {split}\n")
    print("| setting | vectors | dense nDCG@10 | dense R@100 | hybrid RRF nDCG@10 | hybrid R@100 | docs/s | index MiB | CPU | commit |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in settings:
        try:
            r = json.load(open(f"{res}/chunking-{data}-{s.replace('/', '-')}.json"))
        except FileNotFoundError:
            continue
        d, h = r["dense"], r["hybrid_rrf"]
        label = "truncate at 256" if s == "truncate" else "chunks {} / overlap {} / {}".format(*s.split("/"))
        print(f"| {label} | {r['chunks'] or r['documents']} | {d['ndcg@10']:.4f} | {d['recall@100']:.4f} | "
              f"{h['ndcg@10']:.4f} | {h['recall@100']:.4f} | {r['docs_per_s']:.1f} | {r['index_bytes'] / 2**20:.1f} | {r.get('cpu', 'not recorded')} | {r['commit']} |")
    print()
PY
echo "wrote $res/CHUNKING.md"
