"""Peer check: a folder trine trained loads in sentence-transformers and embeds as trine does.

Usage: python st_reload.py MODEL_DIR TRINE_JSONL OUT_JSON
TRINE_JSONL is `trine encode --model MODEL_DIR TEXT...`'s output (one {"text", "embedding"} per
line). Writes the worst cosine and largest absolute difference between the two engines' vectors;
exits 1 when the worst cosine is below 0.99999.
"""
import json
import sys

import numpy as np
from sentence_transformers import SentenceTransformer


def main():
    model_dir, trine_jsonl, out = sys.argv[1:4]
    rows = [json.loads(line) for line in open(trine_jsonl, encoding="utf-8") if line.strip()]
    texts = [r["text"] for r in rows]
    want = np.array([r["embedding"] for r in rows], dtype=np.float64)
    model = SentenceTransformer(model_dir, device="cpu")
    got = model.encode(texts, convert_to_numpy=True).astype(np.float64)
    cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    result = {
        "model": model_dir,
        "texts": len(texts),
        "worst_cosine": float(cos.min()),
        "max_abs_diff": float(np.abs(got - want).max()),
    }
    json.dump(result, open(out, "w"), indent=2)
    print(json.dumps(result))
    sys.exit(0 if result["worst_cosine"] >= 0.99999 else 1)


if __name__ == "__main__":
    main()
