"""scikit-learn's KMeans on the same embeddings trine clusters, for a side-by-side V-measure.

usage: sk_kmeans.py EMBEDDINGS.parquet DOCS.jsonl OUT.json [--k 20] [--seeds 5]

KMeans(n_clusters=k, init="k-means++", n_init=10) once per seed (0..seeds-1), on the raw
embeddings exactly as trine reads them; gold labels from the corpus's `label` field.
"""
import argparse
import json
import time

import numpy as np
import pyarrow.parquet as pq
from sklearn import metrics
from sklearn.cluster import KMeans

ap = argparse.ArgumentParser()
ap.add_argument("embeddings")
ap.add_argument("docs")
ap.add_argument("out")
ap.add_argument("--k", type=int, default=20)
ap.add_argument("--seeds", type=int, default=5)
a = ap.parse_args()

t = pq.read_table(a.embeddings)
ids = t.column("id").to_pylist()
X = np.array(t.column("embedding").to_pylist(), dtype=np.float32)
gold = {}
for line in open(a.docs):
    d = json.loads(line)
    gold[d["_id"]] = d["label"]
y = [gold[i] for i in ids]
runs = []
for seed in range(a.seeds):
    start = time.time()
    km = KMeans(n_clusters=a.k, init="k-means++", n_init=10, random_state=seed).fit(X)
    secs = time.time() - start
    runs.append({
        "seed": seed,
        "v_measure": metrics.v_measure_score(y, km.labels_),
        "nmi": metrics.normalized_mutual_info_score(y, km.labels_),
        "ari": metrics.adjusted_rand_score(y, km.labels_),
        "silhouette": float(metrics.silhouette_score(X, km.labels_, metric="cosine")),
        "inertia": float(km.inertia_),
        "seconds": secs,
    })
    print(json.dumps(runs[-1]))
import sklearn
summary = {"engine": f"scikit-learn {sklearn.__version__} KMeans(k-means++, n_init=10)",
           "k": a.k, "documents": len(ids), "runs": runs}
for key in ("v_measure", "nmi", "ari", "silhouette", "inertia", "seconds"):
    summary[f"mean_{key}"] = float(np.mean([r[key] for r in runs]))
json.dump(summary, open(a.out, "w"), indent=1)
