"""Independent check of a dense nDCG@10: sentence-transformers encodes a BEIR split with a model
folder (trine's fine-tuned output, say) and this script ranks and scores it in NumPy, with the
project's conventions (document text = title + " " + text, equal scores by document id ascending,
graded gains and ideal DCG from the qrels, as pytrec_eval).

Usage: python st_eval.py MODEL_DIR BEIR_DIR [--split test] [--threads 2] [--report out.json]
"""
import argparse
import json
import math

import numpy as np
import torch
from sentence_transformers import SentenceTransformer


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ndcg_at_10(ranked, rels):
    # trec_eval's ndcg_cut (what pytrec_eval and BEIR report): the gain is the grade itself.
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(rels.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--split", default="test")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--report")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    qrels = {}
    with open(f"{a.data}/qrels/{a.split}.tsv") as f:
        next(f)
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")
            if int(s) > 0:
                qrels.setdefault(q, {})[d] = int(s)
    queries = {r["_id"]: r["text"] for r in read_jsonl(f"{a.data}/queries.jsonl") if r["_id"] in qrels}
    docs = read_jsonl(f"{a.data}/corpus.jsonl")
    ids = [d["_id"] for d in docs]
    texts = [(d.get("title", "") + " " + d["text"]) for d in docs]

    model = SentenceTransformer(a.model, device="cpu")
    demb = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=True)
    qids = sorted(queries)
    qemb = model.encode([queries[q] for q in qids], batch_size=32, normalize_embeddings=True)
    scores = qemb @ demb.T
    # Equal scores by document id ascending: sort by (−score, id).
    order_by_id = np.argsort(np.array(ids, dtype=object), kind="stable")
    per_query = []
    for qi, q in enumerate(qids):
        s = scores[qi][order_by_id]
        top = order_by_id[np.argsort(-s, kind="stable")[:10]]
        per_query.append(ndcg_at_10([ids[i] for i in top], qrels[q]))
    result = {"model": a.model, "split": a.split, "queries": len(qids), "ndcg@10": float(np.mean(per_query))}
    print(json.dumps(result))
    if a.report:
        json.dump(result, open(a.report, "w"), indent=2)


if __name__ == "__main__":
    main()
