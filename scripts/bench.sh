#!/usr/bin/env bash
# Benchmarks (run by `make bench`): trine and its peers on the same job, side by side.
# Results: eval/results/*.json and eval/results/SUMMARY.md.
#   BENCH_DOCS=N   embed only the first N SciFact documents (default: all 5,183)
#   BENCH_PEERS=0  skip the sentence-transformers runs (they need eval/.venv, made here)
#   BENCH_ANN=0    skip the synthetic ANN benchmark (1M × 384 vectors; about half an hour here)
#   BENCH_ANN_N=N  its collection size (default 1000000)
#   BENCH_CLUSTER=0 skip the clustering benchmarks (20 Newsgroups vs scikit-learn; k-means at scale)
#   BENCH_TOPICS=0 skip topics (scripts/bench-topics.sh: NPMI and diversity beside NMF and LDA, the
#                  map's trustworthiness beside PCA's, search with a topic filter and facets)
#   BENCH_TRAIN=0  skip fine-tuning (scripts/bench-train.sh: about 20 minutes per loss here)
#   BENCH_FINETUNE=0 skip `trine finetune` (scripts/bench-finetune.sh: hours; BENCH_FT_PARTS picks parts)
#   BENCH_SPEED=0  skip the side-by-side encoder speed rounds (scripts/bench-encoder-speed.sh)
#   BENCH_CHUNKING=0 skip truncation against chunking (scripts/bench-chunking.sh: about 15 minutes)
#   BENCH_VECTORS=0 skip quantised vectors (scripts/bench-vectors.sh: SciFact, then 1M synthetic)
#   BENCH_RAY=0    skip Ray (scripts/bench-ray.sh: embedding, shards and Ray Serve on a local cluster)
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
mkdir -p data
emb=data/bench-scifact.parquet
"$trine" --threads "$threads" embed --model "$model" --input "$scifact" --output "$emb" \
  --batch-size 32 "${limit[@]}" --report "$out/embed-trine.json"

echo "== embedding throughput: trine (bf16 products with f32 accumulation, MKL/AMX)"
emb_bf16=data/bench-scifact-bf16.parquet
"$trine" --threads "$threads" embed --model "$model" --input "$scifact" --output "$emb_bf16" --dtype bf16 \
  --batch-size 32 "${limit[@]}" --report "$out/embed-trine-bf16.json"

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

[ -n "${BENCH_DOCS:-}" ] && { echo "BENCH_DOCS set: skipping the index benchmark (it needs the whole corpus)"; if [ "${BENCH_TRAIN:-1}" = 1 ]; then
  echo "== fine-tuning (SciFact, BM25-mined triplets; scripts/bench-train.sh)"
  scripts/bench-train.sh
fi

if [ "${BENCH_FINETUNE:-1}" = 1 ]; then
  echo "== trine finetune on NFCorpus, SciFact and 20 Newsgroups, with peers (scripts/bench-finetune.sh)"
  scripts/bench-finetune.sh
fi

python3 scripts/bench_summary.py "$out" > "$out/SUMMARY.md"; exit 0; }
echo "== index build and query latency (SciFact, 300 test queries, one at a time, encoding included)"
idx=data/bench-scifact.idx
start=$(date +%s.%N)
"$trine" index build --force --model "$model" --corpus "$scifact" --out "$idx" --embeddings "$emb"
end=$(date +%s.%N)
python3 -c "import json,sys; json.dump({'documents': 5183, 'seconds': float(sys.argv[2]) - float(sys.argv[1]), 'embedding': 'precomputed (trine embed above)'}, open('$out/index-build.json','w'))" "$start" "$end"
python3 scripts/test-queries.py "$scifact" > data/bench-test-queries.jsonl
for mode in lexical dense hybrid; do
  "$trine" search "$idx" --queries data/bench-test-queries.jsonl --run "$(mktemp)" --mode "$mode" \
    --latency-report "$out/latency-$mode.json"
done

echo "== retrieval quality on SciFact test (fusion tuned on the train split)"
"$trine" tune-fusion --model "$model" --data "$scifact" --split train --index "$idx" | tee "$out/tune-fusion.txt"
for mode in lexical dense hybrid; do
  "$trine" eval --model "$model" --data "$scifact" --split test --retriever "$mode" --index "$idx" --json \
    > "$out/retrieval-scifact-$mode.json"
done
"$trine" eval --model "$model" --data "$scifact" --split test --retriever hybrid --index "$idx" --fusion rrf --json \
  > "$out/retrieval-scifact-hybrid-rrf.json"
"$trine" eval --model "$model" --dtype bf16 --data "$scifact" --split test --retriever dense \
  --doc-embeddings "$emb_bf16" --json > "$out/retrieval-scifact-dense-bf16.json"

echo "== dense search through the HNSW graph on SciFact (same vectors, index built with --ann always)"
"$trine" index build --force --model "$model" --corpus "$scifact" --out data/bench-scifact-ann.idx \
  --embeddings "$emb" --ann always
"$trine" eval --model "$model" --data "$scifact" --split test --retriever dense \
  --index data/bench-scifact-ann.idx --json > "$out/retrieval-scifact-dense-ann.json"

echo "== HTTP load: trine serve, 10,000 hybrid searches from 16 concurrent clients (loopback)"
scripts/bench-serve.sh "$idx" data/bench-test-queries.jsonl "$out/serve-load.json"
echo "== HTTP load with dynamic batching (--max-batch-texts 64)"
MAX_BATCH_TEXTS=64 scripts/bench-serve.sh "$idx" data/bench-test-queries.jsonl "$out/serve-load-batching.json"
for dtype in bf16 int8; do
  echo "== HTTP load with the $dtype encoder"
  DTYPE=$dtype scripts/bench-serve.sh "$idx" data/bench-test-queries.jsonl "$out/serve-load-$dtype.json"
done
echo "== robustness: fuzz targets, the bad-input table, the failpoint table"
scripts/bench-fuzz.sh
echo "== HTTP load under writes: the same searches while 1,000 documents are upserted and 500 deleted"
WRITES=1 scripts/bench-serve.sh "$idx" data/bench-test-queries.jsonl "$out/serve-load-writes.json"

if [ "${BENCH_ANN:-1}" = 1 ]; then
  echo "== dense search at scale: exact vs HNSW on synthetic 384-d unit vectors"
  cargo build --release --locked -p trine-index --example ann_bench
  # latent: shaped like real embeddings (relative contrast matched to SciFact's, reported);
  # uniform: the worst case, where nearest neighbours barely stand out.
  target/release/examples/ann_bench --n "${BENCH_ANN_N:-1000000}" --shape latent \
    --real "$emb" --out "$out/ann-synthetic-latent.json"
  target/release/examples/ann_bench --n 100000 --shape uniform --out "$out/ann-synthetic-uniform-100k.json"
fi

if [ "${BENCH_CLUSTER:-1}" = 1 ]; then
  echo "== clustering 20 Newsgroups (k = 20): trine k-means and scikit-learn KMeans on the same embeddings"
  ng=$(cd "${TRINE_DATA_ROOT:-../shared/corpora}" && pwd)/twentynewsgroups
  ng_emb=data/20ng.all-MiniLM-L6-v2.parquet
  for variant in euclidean spherical; do
    flag=(--metric cosine); [ "$variant" = euclidean ] && flag=(--metric euclidean)
    for seed in 0 1 2 3 4 5 6 7 8 9; do
      "$trine" eval-cluster --model "$model" --data "$ng" --k 20 --embeddings "$ng_emb" --seed "$seed" \
        "${flag[@]}" --json
    done > "data/cluster-20ng-trine-$variant.jsonl"
    python3 - "$variant" "data/cluster-20ng-trine-$variant.jsonl" "$out/cluster-20ng-trine-$variant.json" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[2])]
out = {"engine": f"trine k-means ({sys.argv[1]}, k-means++, n_init 10)", "k": 20, "runs": runs}
for key in ("v_measure", "nmi", "ari", "silhouette", "seconds"):
    out[f"mean_{key}"] = statistics.mean(r[key] for r in runs)
json.dump(out, open(sys.argv[3], "w"), indent=1)
PY
  done
  "$trine" eval-cluster --model "$model" --data "$ng" --k 20 --embeddings "$ng_emb" \
    --out-dir eval/results/cluster-20ng > /dev/null
  if [ -x eval/.venv/bin/python ]; then
    eval/.venv/bin/python eval/peers/sk_kmeans.py "$ng_emb" "$ng/docs.jsonl" "$out/cluster-20ng-sklearn.json" --seeds 10
  fi
  echo "== k-means at scale (synthetic 384-d, k = 100)"
  cargo build --release --locked -p trine-cluster --example kmeans_bench
  target/release/examples/kmeans_bench --n 100000 --out "$out/kmeans-100k.json"
  target/release/examples/kmeans_bench --n 1000000 --max-iter 20 --out "$out/kmeans-1m.json"
  target/release/examples/kmeans_bench --n 1000000 --mini-batch 4096 --max-iter 300 --out "$out/kmeans-1m-minibatch.json"
fi

if [ "${BENCH_TOPICS:-1}" = 1 ]; then
  echo "== topics in the engine (scripts/bench-topics.sh)"
  scripts/bench-topics.sh
fi

if [ "${BENCH_TRAIN:-1}" = 1 ]; then
  echo "== fine-tuning (SciFact, BM25-mined triplets; scripts/bench-train.sh)"
  scripts/bench-train.sh
fi

if [ "${BENCH_SPEED:-1}" = 1 ]; then
  echo "== encoder speed: trine f32 / bf16 / int8 beside sentence-transformers (scripts/bench-encoder-speed.sh)"
  scripts/bench-encoder-speed.sh
fi

echo "== encoder families against sentence-transformers (tiny fixtures, worst cosine per setup)"
{
  echo "# Every family and pooling setup against sentence-transformers"
  echo
  echo "\`TRINE_FAMILY_TABLE=... cargo test --release -p trine-encoder --test families\` (fixtures made by"
  echo "scripts/make-encoder-fixtures.py; texts include empty, CJK, emoji and longer than max_seq_length)."
  echo
} > "$out/ENCODER-FAMILIES.md"
TRINE_FAMILY_TABLE="$PWD/$out/encoder-families-table.md" cargo test --release --locked -p trine-encoder \
  --test families every_family_matches_sentence_transformers -q
cat "$out/encoder-families-table.md" >> "$out/ENCODER-FAMILIES.md" && rm "$out/encoder-families-table.md"

echo "== training each family, reloaded in sentence-transformers (scripts/bench-family-training.sh)"
scripts/bench-family-training.sh

if [ "${BENCH_CHUNKING:-1}" = 1 ]; then
  echo "== long documents: truncation against chunking (scripts/bench-chunking.sh)"
  scripts/bench-chunking.sh
fi

if [ "${BENCH_VECTORS:-1}" = 1 ]; then
  echo "== quantised vectors: int8 and binary first passes rescored in f32 (scripts/bench-vectors.sh)"
  scripts/bench-vectors.sh
fi

if [ "${BENCH_RAY:-1}" = 1 ]; then
  echo "== Ray: embedding on an actor pool, shards, sharded search on Ray Serve (scripts/bench-ray.sh)"
  make test-py >/dev/null
  scripts/bench-ray.sh
fi

if [ "${BENCH_FINETUNE:-1}" = 1 ]; then
  echo "== trine finetune on NFCorpus, SciFact and 20 Newsgroups, with peers (scripts/bench-finetune.sh)"
  scripts/bench-finetune.sh
fi

python3 scripts/bench_summary.py "$out" > "$out/SUMMARY.md"
cat "$out/SUMMARY.md"
