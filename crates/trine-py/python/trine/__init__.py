"""trine from Python: the same engine as the `trine` binary, in-process.

    import trine
    enc = trine.Encoder("models/all-MiniLM-L6-v2")
    vectors = enc.encode(["a sentence", "another"])          # NumPy (n, dim) float32
    idx = trine.Index.build("scifact.idx", "corpus.jsonl", enc)
    hits = idx.search("vitamin D and fractures", mode="hybrid", k=10)
    report = trine.finetune("nfcorpus/", "nfcorpus-model/")
    ids, vectors = trine.read_embeddings("emb.parquet")       # `trine embed`'s output

`trine.ray` (needs `ray[data,serve]`) runs embedding, shard building and sharded search on Ray.

Errors the engine reports raise trine.TrineError with the CLI's message; bad argument values
raise ValueError.
"""

from ._trine import Encoder, Index, TrineError, finetune, read_embeddings, train, __version__

__all__ = ["Encoder", "Index", "TrineError", "finetune", "read_embeddings", "train", "__version__"]
