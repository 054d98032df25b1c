#!/usr/bin/env bash
# Topics benchmark (part of `make bench`): the 20 Newsgroups test split (7,532 posts, k = 20)
# clustered into topics by trine beside scikit-learn's topic models, the map's neighbourhoods
# beside PCA's, and search with a topic filter and facets beside the same search without.
# Writes eval/results/topics-*.json, the map (eval/results/cluster-20ng/map.{svg,png}) and
# eval/results/TOPICS.md.
#
#   trine:   spherical k-means (k = 20, seed 0) on all-MiniLM-L6-v2 embeddings, c-TF-IDF keywords
#            (10 per topic), NPMI coherence over the test posts and topic diversity; t-SNE map,
#            trustworthiness and 10-NN kept, PCA's on the same points.
#   peers:   scikit-learn NMF on TF-IDF and LDA on counts (eval/peers/sk_topics.py), the same
#            words and keyword count, their keywords scored by the same NPMI and diversity code.
#   search:  an index of the test split clustered into 20 topics; 300 train-post subjects as
#            hybrid queries, one at a time (encoding included), plain and with `--topic 0
#            --facets`, two interleaved rounds each.
set -euo pipefail
cd "$(dirname "$0")/.."
trine=${TRINE:-target/release/trine}
model=${MODEL:-models/all-MiniLM-L6-v2}
res=eval/results
ng=$(cd "${TRINE_DATA_ROOT:-../shared/corpora}" && pwd)/twentynewsgroups
mkdir -p data "$res"
emb=data/20ng.all-MiniLM-L6-v2.parquet
[ -x eval/.venv/bin/python ] || { python3 -m venv eval/.venv && eval/.venv/bin/pip install -q -r eval/peers/requirements.txt; }

echo "== trine topics of 20 Newsgroups (k = 20): V-measure, NPMI, diversity, t-SNE map"
"$trine" eval-cluster --model "$model" --data "$ng" --k 20 --embeddings "$emb" \
    --out-dir "$res/cluster-20ng" --map tsne --json > "$res/topics-20ng-trine.json"

for method in nmf lda; do
    echo "== scikit-learn $method (k = 20, 10 keywords)"
    eval/.venv/bin/python eval/peers/sk_topics.py "$ng/docs.jsonl" "$res/topics-20ng-$method.json" \
        --method "$method" --k 20 --keywords 10
    "$trine" eval-cluster --data "$ng" --score-topics "$res/topics-20ng-$method.json" --json \
        > "$res/topics-20ng-$method-scores.json"
done

echo "== search with a topic filter and facets against the same search without"
idx=data/20ng-index
"$trine" index build --corpus "$ng/docs.jsonl" --title-field '' --model "$model" --embeddings "$emb" \
    --out "$idx" --force
"$trine" index cluster "$idx" --k 20 --map none > /dev/null
python3 - "$ng/train.jsonl" data/20ng-queries.txt <<'PY'
import json, sys
lines = open(sys.argv[1]).readlines()[::37][:300]
with open(sys.argv[2], "w") as out:
    for l in lines:
        t = json.loads(l)["title"].removeprefix("Re: ").strip() or "news"
        out.write(t.replace("\n", " ") + "\n")
PY
for round in 1 2; do
    for variant in plain filtered; do
        flags=()
        [ "$variant" = filtered ] && flags=(--topic 0 --facets)
        "$trine" search "$idx" --mode hybrid --queries data/20ng-queries.txt --run "data/20ng-$variant.run" \
            --latency-report "$res/topics-latency-$variant-$round.json" "${flags[@]}"
    done
done

python3 scripts/topics_summary.py "$res" > "$res/TOPICS.md"
echo "wrote $res/TOPICS.md"
