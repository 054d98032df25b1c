"""Peer benchmark: sentence-transformers embedding throughput on the same job as `trine embed`.

Usage: python st_embed.py MODEL_DIR CORPUS_JSONL OUT_JSON [--dtype f32|bf16] [--limit N] [--threads N]
Texts are title + " " + text (stripped), batch 32, max_seq_length from the model folder (256),
sorted by length inside encode() as sentence-transformers always does. Only encode() is timed.
"""
import argparse
import json
import resource
import time

import torch
from sentence_transformers import SentenceTransformer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    docs = [json.loads(line) for line in open(a.corpus, encoding="utf-8") if line.strip()]
    if a.limit:
        docs = docs[: a.limit]
    texts = [(d.get("title", "") + " " + d["text"]).strip() for d in docs]
    model = SentenceTransformer(a.model, device="cpu")
    if a.dtype == "bf16":
        model = model.to(torch.bfloat16)
    model.encode(texts[:8], batch_size=8)  # warm-up
    start = time.perf_counter()
    emb = model.encode(texts, batch_size=a.batch_size, convert_to_numpy=True)
    secs = time.perf_counter() - start
    tokens = sum(
        len(ids)
        for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    )
    report = {
        "engine": "sentence-transformers",
        "versions": {"sentence_transformers": __import__("sentence_transformers").__version__,
                     "torch": torch.__version__},
        "dtype": a.dtype,
        "documents": len(texts),
        "tokens": tokens,
        "seconds": secs,
        "docs_per_s": len(texts) / secs,
        "tokens_per_s": tokens / secs,
        "batch_size": a.batch_size,
        "max_seq_length": model.max_seq_length,
        "threads": a.threads,
        "dim": int(emb.shape[1]),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
