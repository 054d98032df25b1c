"""Ray benchmark (scripts/bench-ray.sh, part of `make bench`): on a local Ray cluster of a head and
a second node (1 CPU each), SciFact as Parquet row groups embedded by `trine.ray.embed` (2 actors x
1 thread) against `trine embed` on the same file (2 threads), the vectors compared; 4 shards built
as Ray tasks; test nDCG@10 of the shards (in process, `trine eval --index SET`) against one index
over the same vectors; the Ray Serve router's hits compared with the one index's, query by query,
and its p50 latency beside the one index's in-process search.

usage: bench_ray.py TRINE MODEL SCIFACT WORK OUT.json"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import trine
import trine.ray

ROW_GROUP = 256
SHARDS = 4
MODES = [("lexical", None), ("dense", None), ("hybrid", "rrf")]


def to_parquet(scifact: Path, out: Path):
    rows = [json.loads(l) for l in open(scifact / "corpus.jsonl")]
    table = pa.Table.from_pylist([{"_id": r["_id"], "title": r["title"], "text": r["text"]}
                                  for r in rows])
    pq.write_table(table, out, row_group_size=ROW_GROUP)
    return len(rows)


def vectors(paths):
    out = {}
    for p in paths:
        ids, values = trine.read_embeddings(p)
        out.update(zip(ids, values))
    return out


def evaluate(trine_bin, model, scifact, index, mode, fusion):
    cmd = [trine_bin, "eval", "--model", model, "--data", scifact, "--split", "test", "--index",
           index, "--retriever", mode, "--json"]
    if fusion:
        cmd += ["--fusion", fusion]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    trine_bin, model, scifact, work, report_path = sys.argv[1:6]
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    model = str(Path(model).resolve())
    corpus = work / "scifact.parquet"
    docs = to_parquet(Path(scifact), corpus)
    report = {"documents": docs, "row_group": ROW_GROUP, "cpu": os.cpu_count()}

    ref = work / "ref.parquet"
    start = time.perf_counter()
    subprocess.run([trine_bin, "--threads", "2", "embed", "--model", model, "--input", corpus,
                    "--output", ref], check=True, capture_output=True)
    secs = time.perf_counter() - start
    report["trine_embed"] = {"seconds": secs, "docs_per_second": docs / secs, "threads": 2}
    print(f"trine embed: {docs / secs:.1f} docs/s", flush=True)

    with trine.ray.local_cluster(nodes=2, cpus=1) as nodes:
        report["nodes"] = len(nodes)
        run_cluster(report, trine_bin, model, scifact, work, corpus, ref)
    Path(report_path).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "latency"}, indent=2))


def run_cluster(report, trine_bin, model, scifact, work, corpus, ref):
    emb = work / "emb"
    for p in emb.glob("part-*.parquet") if emb.exists() else []:
        p.unlink()
    r = trine.ray.embed(corpus, model, emb, actors=2, threads=1)
    report["ray_embed"] = r
    report["ray_over_trine_embed"] = r["docs_per_second"] / report["trine_embed"]["docs_per_second"]
    got, want = vectors(sorted(emb.glob("part-*.parquet"))), vectors([ref])
    assert got.keys() == want.keys()
    report["max_abs_diff_to_trine_embed"] = max(float(np.abs(got[i] - want[i]).max()) for i in want)
    print(f"ray embed: {r['docs_per_second']:.1f} docs/s "
          f"({report['ray_over_trine_embed']:.2f}x), max abs diff "
          f"{report['max_abs_diff_to_trine_embed']:.3g}", flush=True)
    r = trine.ray.embed(corpus, model, emb, actors=2, threads=1)
    report["ray_embed_rerun"] = {"written": r["written"], "skipped": r["skipped"]}

    shards = work / "shards"
    start = time.perf_counter()
    report["shard_sizes"] = trine.ray.build_shards(corpus, model, shards, shards=SHARDS,
                                                   embeddings=emb, force=True)
    report["build_shards_seconds"] = time.perf_counter() - start
    whole = work / "whole.idx"
    subprocess.run([trine_bin, "index", "build", "--force", "--model", model, "--corpus", corpus,
                    "--embeddings", ref, "--ann", "never", "--out", whole], check=True,
                   capture_output=True)
    report["ndcg@10"] = {}
    for mode, fusion in MODES:
        one = evaluate(trine_bin, model, scifact, whole, mode, fusion)
        sharded = evaluate(trine_bin, model, scifact, shards, mode, fusion)
        report["ndcg@10"][mode] = {"one_index": one["ndcg@10"], "shards": sharded["ndcg@10"],
                                   "recall@100_one": one.get("recall@100"),
                                   "recall@100_shards": sharded.get("recall@100")}
        print(f"{mode}: nDCG@10 one index {one['ndcg@10']:.4f}, {SHARDS} shards "
              f"{sharded['ndcg@10']:.4f}", flush=True)

    from ray import serve
    serve.start(http_options={"host": "127.0.0.1", "port": trine.ray.free_port()})
    handle = trine.ray.serve(shards, model)
    index = trine.Index.open(whole, model)
    queries = [json.loads(l) for l in open(Path(scifact) / "queries.jsonl")]
    test_ids = {l.split("\t")[0] for l in list(open(Path(scifact) / "qrels" / "test.tsv"))[1:]}
    queries = [q for q in queries if q["_id"] in test_ids]
    report["serve"] = {}
    for mode, fusion in MODES:
        same, served_ms, local_ms = 0, [], []
        handle.search.remote(queries[0]["text"], mode=mode, k=10, fusion=fusion).result()
        for q in queries:
            t = time.perf_counter()
            got = handle.search.remote(q["text"], mode=mode, k=10, fusion=fusion).result()
            served_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            want = index.search(q["text"], mode=mode, k=10, fusion=fusion)
            local_ms.append(1000 * (time.perf_counter() - t))
            same += [h["id"] for h in got] == [h["id"] for h in want]
        report["serve"][mode] = {"queries": len(queries), "same_top10_as_one_index": same,
                                 "p50_ms": statistics.median(served_ms),
                                 "one_index_in_process_p50_ms": statistics.median(local_ms)}
        print(f"serve {mode}: {same}/{len(queries)} top-10 lists equal to one index's, p50 "
              f"{statistics.median(served_ms):.1f} ms (one index in process "
              f"{statistics.median(local_ms):.1f} ms)", flush=True)
    serve.shutdown()


if __name__ == "__main__":
    main()
