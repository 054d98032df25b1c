"""Writes eval/results/SUMMARY.md from the JSON results beside it."""
import json
import os
import platform
import sys

out = sys.argv[1]


def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print("# Benchmark results\n")
print(f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()}. Produced by `make bench`.\n")
rows = [("trine f32", load("embed-trine.json")), ("sentence-transformers f32", load("embed-st-f32.json")),
        ("trine bf16", load("embed-trine-bf16.json")),
        ("sentence-transformers bf16", load("embed-st-bf16.json"))]
print("## Embedding throughput (SciFact corpus, batch 32, max 256 tokens)\n")
print("| engine | docs | docs/s | tokens/s | peak RSS (MiB) |")
print("|---|---|---|---|---|")
for name, r in rows:
    if r:
        print(f"| {name} | {r['documents']} | {r['docs_per_s']:.1f} | {r['tokens_per_s']:.0f} | {r['peak_rss_mib']:.0f} |")
t, s, tb = rows[0][1], rows[1][1], rows[2][1]
if t and s:
    print(f"\ntrine f32 / sentence-transformers f32: **{t['docs_per_s'] / s['docs_per_s']:.2f}x**")
if tb and s:
    print(f"\ntrine bf16 / sentence-transformers f32: **{tb['docs_per_s'] / s['docs_per_s']:.2f}x**")

b = load("index-build.json")
lat = [(m, load(f"latency-{m}.json")) for m in ("lexical", "dense", "hybrid")]
if b or any(l for _, l in lat):
    print("\n## Index and search (SciFact: 5,183 documents, 300 test queries one at a time, query encoding included)\n")
    if b:
        print(f"Index build from precomputed embeddings (tantivy + vectors + docs): {b['seconds']:.1f} s\n")
    print("| mode | p50 (ms) | p90 (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    for m, l in lat:
        if l:
            print(f"| {m} | {l['p50_ms']:.2f} | {l['p90_ms']:.2f} | {l['p99_ms']:.2f} |")

ret = [(name, load(f"retrieval-scifact-{m}.json")) for name, m in
       [("lexical (BM25)", "lexical"), ("dense (all-MiniLM-L6-v2)", "dense"),
        ("dense, trine bf16", "dense-bf16"), ("dense through the HNSW graph", "dense-ann"),
        ("hybrid, RRF k=60", "hybrid-rrf"), ("hybrid, tuned fusion", "hybrid")]]
if any(r for _, r in ret):
    print("\n## Retrieval quality, SciFact test (300 queries)\n")
    tuned = open(os.path.join(out, "tune-fusion.txt")).read().strip().splitlines()[-1] if os.path.exists(os.path.join(out, "tune-fusion.txt")) else ""
    if tuned:
        print(f"Tuned fusion, chosen on the train split: {tuned}\n")
    print("| retriever | nDCG@10 | Recall@100 | MRR@10 |")
    print("|---|---|---|---|")
    for name, r in ret:
        if r:
            print(f"| {name} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} |")

for name, title in [("ann-synthetic-latent.json", "shaped like real embeddings"),
                    ("ann-synthetic-uniform-100k.json", "uniform on the sphere: the worst case")]:
    a = load(name)
    if not a:
        continue
    print(f"\n## Dense search at scale: {a['n']:,} synthetic {a['dim']}-d unit vectors, {title}\n")
    print(f"Shape: `{a['shape']}`; {a['queries']} queries one at a time; {a['threads']} threads.")
    rc = a.get("relative_contrast_at_10")
    if rc:
        print(f"Relative contrast@10 on {rc['rows']:,} points: synthetic {rc['synthetic']:.3f}, "
              f"real SciFact all-MiniLM-L6-v2 embeddings {rc['real']:.3f} (closer to 1 is harder).")
    ann = a["ann"]
    st = ann["settings"]
    print(f"\nHNSW ({ann['library']}, M={st['connectivity']}, ef_construction={st['expansion_add']}, "
          f"{st['quantization']} vectors, inner product on unit vectors, hits rescored in f32): build {ann['build_s']:.0f} s, "
          f"{ann['graph_bytes_per_vector']:.0f} bytes/vector for the graph file "
          f"(+ {a['exact']['bytes_per_vector']} bytes/vector of f32 vectors that both paths read); "
          f"open (mmap) {ann['open_ms']:.1f} ms; peak RSS {a['peak_rss_mib']:.0f} MiB.\n")
    print("| search | recall@10 vs exact | p50 (ms) | p99 (ms) |")
    print("|---|---|---|---|")
    print(f"| exact scan | 1.0000 | {a['exact']['p50_ms']:.2f} | {a['exact']['p99_ms']:.2f} |")
    for r in ann["sweep"]:
        print(f"| HNSW ef_search={r['ef_search']} | {r['recall@10']:.4f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |")

cl = [(name, load(f)) for name, f in [("trine k-means, Euclidean", "cluster-20ng-trine-euclidean.json"),
                                       ("trine k-means, spherical (cosine)", "cluster-20ng-trine-spherical.json"),
                                       ("scikit-learn KMeans", "cluster-20ng-sklearn.json")]]
if any(r for _, r in cl):
    print("\n## Clustering 20 Newsgroups (7,532 posts, k = 20, all-MiniLM-L6-v2 embeddings)\n")
    print("k-means++ with n_init 10 in every row; mean over the runs (seeds 0–9). "
          "Silhouette on cosine distance.\n")
    print("| engine | runs | V-measure | NMI | ARI | silhouette | seconds per clustering |")
    print("|---|---|---|---|---|---|---|")
    for name, r in cl:
        if r:
            print(f"| {name} | {len(r['runs'])} | {r['mean_v_measure']:.4f} | {r['mean_nmi']:.4f} | "
                  f"{r['mean_ari']:.4f} | {r['mean_silhouette']:.4f} | {r['mean_seconds']:.1f} |")
km = [(n, load(f)) for n, f in [("100k, Lloyd", "kmeans-100k.json"), ("1M, Lloyd", "kmeans-1m.json"),
                                ("1M, mini-batch 4096", "kmeans-1m-minibatch.json")]]
if any(r for _, r in km):
    print("\n## k-means at scale (synthetic 384-d unit vectors, k = 100, n_init 1)\n")
    print("| input | iterations/steps | seconds | s per iteration | input MiB | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for n, r in km:
        if r:
            print(f"| {n} | {r['iterations']} | {r['seconds']:.1f} | {r['seconds_per_iteration']:.2f} | "
                  f"{r['input_mib']:.0f} | {r['peak_rss_mib']:.0f} |")

sl = load("serve-load.json")
if sl:
    print("\n## HTTP load (`trine serve` on loopback, SciFact index, hybrid search with query encoding)\n")
    print(f"{sl['requests']:,} requests from {sl['clients']} concurrent keep-alive clients: "
          f"{sl['requests_per_s']:.1f} requests/s, p50 {sl['p50_ms']:.1f} ms, p99 {sl['p99_ms']:.1f} ms, "
          f"max {sl['max_ms']:.1f} ms, {sl['errors']} errors; server RSS {sl['server_rss_mib_before']:.0f} MiB "
          f"before and {sl['server_rss_mib_after']:.0f} MiB after; exit status after SIGTERM "
          f"{sl['exit_status_after_sigterm']}.")
