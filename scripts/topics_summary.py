"""Writes eval/results/TOPICS.md from the files scripts/bench-topics.sh leaves."""
import json
import statistics
import sys
from pathlib import Path

res = Path(sys.argv[1])
load = lambda name: json.loads((res / name).read_text())
trine = load("topics-20ng-trine.json")
print("# Topics (`scripts/bench-topics.sh`, 2 cores)\n")
print("20 Newsgroups test split (7,532 posts, 20 labels), k = 20. Keywords: 10 per topic; NPMI is "
      "the mean over each topic's keyword pairs of document co-occurrence NPMI over the same posts "
      "(Lau et al. 2014), diversity the fraction of unique keywords across topics; both engines' "
      "keywords are scored by the same code (`trine eval-cluster --score-topics`).\n")
print("| engine | V-measure | NPMI | diversity | seconds |")
print("|---|---|---|---|---|")
print(f"| trine: spherical k-means on all-MiniLM-L6-v2 + c-TF-IDF | {trine['v_measure']:.4f} | "
      f"{trine['npmi']:.4f} | {trine['topic_diversity']:.4f} | {trine['seconds']:.1f} (clustering) |")
for m in ("nmf", "lda"):
    peer, scores = load(f"topics-20ng-{m}.json"), load(f"topics-20ng-{m}-scores.json")
    print(f"| {peer['engine']} ({peer['vocabulary']} words) | {peer['v_measure']:.4f} | "
          f"{scores['npmi']:.4f} | {scores['topic_diversity']:.4f} | {peer['seconds']:.1f} |")
m = trine.get("map")
if m:
    print(f"\n## The map ({m['points']} points; [map.png](cluster-20ng/map.png), "
          "[map.svg](cluster-20ng/map.svg))\n")
    print(f"| layout | trustworthiness ({m['neighbours']}-NN) | {m['neighbours']}-NN kept |")
    print("|---|---|---|")
    print(f"| {m['layout']} | {m['trustworthiness']:.4f} | {m['neighbours_kept']:.4f} |")
    print(f"| PCA | {m['pca_trustworthiness']:.4f} | {m['pca_neighbours_kept']:.4f} |")
rows = {v: [load(f"topics-latency-{v}-{r}.json") for r in (1, 2)] for v in ("plain", "filtered")}
print("\n## Search with a topic filter and facets\n")
print("An index of the test split clustered into 20 topics (`trine index cluster`); 300 hybrid "
      "queries (train-post subjects), one at a time, encoding included; two interleaved rounds.\n")
print("| search | p50 ms (rounds) | p90 ms | p99 ms |")
print("|---|---|---|---|")
for v, label in (("plain", "hybrid"), ("filtered", "hybrid, `--topic 0 --facets`")):
    r = rows[v]
    each = ", ".join("%.2f" % x["p50_ms"] for x in r)
    mean = lambda key: statistics.mean(x[key] for x in r)
    print(f"| {label} | {mean('p50_ms'):.2f} ({each}) | {mean('p90_ms'):.2f} | {mean('p99_ms'):.2f} |")
p, f = (statistics.mean(x["p50_ms"] for x in rows[v]) for v in ("plain", "filtered"))
print(f"\np50 with filter and facets / without: {f / p:.3f}")
