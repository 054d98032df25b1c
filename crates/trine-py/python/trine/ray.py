"""Ray for trine's heavy stages: a Parquet corpus embedded on an actor pool, one index built per
shard, and the shards searched on Ray Serve as one index.

    import ray, trine.ray
    ray.init(address="auto")
    trine.ray.embed("corpus.parquet", "models/all-MiniLM-L6-v2", "emb/", actors=2, threads=1)
    trine.ray.build_shards("corpus.parquet", "models/all-MiniLM-L6-v2", "idx/", shards=4,
                           embeddings="emb/")
    router = trine.ray.serve("idx/", "models/all-MiniLM-L6-v2")   # a router + a replica per shard
    hits = router.search.remote("vitamin D", mode="hybrid", k=10).result()

Embedding works in row groups: each row group of each input file is one task, written to its own
embeddings file (``part-FFFFF-GGGGG.parquet``, whole or absent), so a job that stops can be run
again and skips the files already written. The shard replicas score BM25 with the corpus's
statistics, summed over the shards for each query, so sharded scores are one index's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence, Union

import ray

from . import _trine

PathLike = Union[str, os.PathLike]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_cluster(nodes: int = 2, cpus: int = 1):
    """A real Ray cluster of ``nodes`` node processes on this machine (loopback): ``ray start
    --head``, then ``ray start --address`` for each other node, ``cpus`` CPUs each; connected
    on entry (yields the live nodes), stopped on exit. For tests and benchmarks of a
    multi-node job on one machine."""
    ray_bin = str(Path(sys.executable).parent / "ray")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    port = free_port()
    node = [f"--num-cpus={cpus}", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    run = lambda args: subprocess.run([ray_bin, *args], check=True, env=env, capture_output=True)
    run(["start", "--head", f"--port={port}", "--include-dashboard=false", *node])
    try:
        for _ in range(nodes - 1):
            run(["start", f"--address=127.0.0.1:{port}", *node])
        ray.init(address=f"127.0.0.1:{port}", log_to_driver=False)
        yield [n for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True)


def _parquet_files(corpus: PathLike) -> list[Path]:
    path = Path(corpus)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".parquet")
    else:
        files = [path]
    if not files or not all(f.is_file() for f in files):
        raise _trine.TrineError(f"{path}: no Parquet corpus file(s) there")
    return files


def plan(corpus: PathLike, out: PathLike) -> list[dict]:
    """The embedding tasks of a Parquet corpus (a file, or a folder of ``.parquet`` files): one
    per row group, with the embeddings file it writes under ``out`` and whether that exists."""
    tasks = []
    for f, path in enumerate(_parquet_files(corpus)):
        for g, rows in enumerate(_trine.row_groups(str(path))):
            target = Path(out) / f"part-{f:05d}-{g:05d}.parquet"
            tasks.append({"file": str(path), "group": g, "rows": rows, "out": str(target),
                          "done": target.exists()})
    return tasks


def _thread_env(threads: int) -> dict:
    n = str(threads)
    return {"env_vars": {"RAYON_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OMP_NUM_THREADS": n}}


class _Embedder:
    """One encoder per actor; embeds one row group per call."""

    def __init__(self, model: str, dtype: str, batch_size: int, fields: dict):
        import trine

        self.encoder = trine.Encoder(model, dtype=dtype, batch_size=batch_size)
        self.fields = fields

    def __call__(self, batch: dict) -> dict:
        counts, seconds = [], []
        for file, group, out in zip(batch["file"], batch["group"], batch["out"]):
            start = time.perf_counter()
            counts.append(_trine.embed_row_group(self.encoder, file, int(group), out, **self.fields))
            seconds.append(time.perf_counter() - start)
        return {"out": list(batch["out"]), "documents": counts, "seconds": seconds}


def embed(corpus: PathLike, model: PathLike, out: PathLike, *, actors: int = 2, threads: int = 1,
          dtype: str = "f32", batch_size: int = 32, id_field: str = "_id",
          title_field: str = "title", text_field: str = "text") -> dict:
    """Embeds a Parquet corpus on Ray Data with a pool of ``actors`` actors (one encoder each,
    ``threads`` CPU threads each), one row group per task, into ``out/part-*.parquet``
    (``trine embed``'s format; ``trine index build --embeddings out/`` reads the folder).
    Row groups whose file exists are skipped. Returns counts, wall seconds and the seconds the
    actors spent encoding (their sum; wall × actors minus it is what Ray and idle actors cost)."""
    if actors < 1 or threads < 1:
        raise ValueError("actors and threads must be at least 1")
    tasks = plan(corpus, out)
    Path(out).mkdir(parents=True, exist_ok=True)
    todo = [t for t in tasks if not t["done"]]
    start = time.perf_counter()
    written = []
    if todo:
        fields = {"id_field": id_field, "title_field": title_field, "text_field": text_field}
        ds = ray.data.from_items([{k: t[k] for k in ("file", "group", "out")} for t in todo])
        ds = ds.map_batches(
            _Embedder,
            fn_constructor_kwargs={"model": str(Path(model).resolve()), "dtype": dtype,
                                   "batch_size": batch_size, "fields": fields},
            batch_size=1,
            concurrency=min(actors, len(todo)),
            num_cpus=threads,
            runtime_env=_thread_env(threads),
        )
        written = ds.take_all()
    seconds = time.perf_counter() - start
    documents = sum(int(r["documents"]) for r in written)
    return {"row_groups": len(tasks), "written": len(written), "skipped": len(tasks) - len(todo),
            "documents": documents, "seconds": seconds,
            "encoder_seconds": sum(float(r["seconds"]) for r in written),
            "docs_per_second": documents / seconds if documents else 0.0}


@ray.remote
def _build_one(out: str, corpus: str, model: str, shard: int, shards: int,
               embeddings: Optional[str], force: bool) -> int:
    return _trine.build_shard(out, corpus, model, shard, shards, embeddings=embeddings, force=force)


def build_shards(corpus: PathLike, model: PathLike, out: PathLike, *, shards: int,
                 embeddings: Optional[PathLike] = None, force: bool = False,
                 threads: int = 1) -> list[int]:
    """Builds ``shards`` indexes of contiguous parts of ``corpus`` as Ray tasks (one shard each)
    into ``out/shard-NNN``, vectors from ``embeddings`` (a file or folder, matched by id) when
    given, then ``out/shards.json``, as ``trine index build --shards N`` does on one machine.
    Returns each shard's number of documents."""
    out, model = str(Path(out).resolve()), str(Path(model).resolve())
    emb = None if embeddings is None else str(Path(embeddings).resolve())
    task = _build_one.options(num_cpus=threads, runtime_env=_thread_env(threads))
    refs = [task.remote(out, str(Path(corpus).resolve()), model, i, shards, emb, force)
            for i in range(shards)]
    ray.get(refs)
    return _trine.finish_shards(out, model, shards)


def _serve_classes():
    from ray import serve
    from starlette.responses import JSONResponse

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Shard:
        """One shard's index; answers the two rounds of a sharded search."""

        def __init__(self, path: str):
            import trine

            self.index = trine.Index.open(path)

        def info(self) -> dict:
            return {"documents": len(self.index), "fingerprint": self.index.model_fingerprint}

        def stats(self, query: str) -> str:
            return self.index.lexical_stats(query)

        def candidates(self, query: str, mode: str, n: int, stats: str, vector) -> str:
            return self.index.candidates(query, mode, n, stats, vector)

    @serve.deployment(ray_actor_options={"num_cpus": 0})
    class Router:
        """Encodes the query once, fans it out to every shard twice (statistics, then
        candidates), and merges; POST ``/search`` with a JSON body takes the same fields."""

        def __init__(self, shards: list, model: str):
            import trine

            self.shards = shards
            self.encoder = trine.Encoder(model)
            self.ready = False

        async def _check(self):
            infos = await asyncio.gather(*[s.info.remote() for s in self.shards])
            for i, info in enumerate(infos):
                if info["fingerprint"] != self.encoder.fingerprint:
                    raise _trine.TrineError(
                        f"shard {i} was built with another model than {self.encoder.name}")
            self.ready = True

        async def search(self, query: str, mode: str = "hybrid", k: int = 10,
                         candidates: int = 100, fusion: Optional[str] = None,
                         alpha: float = 0.5, rrf_k: float = 60.0) -> list[dict]:
            if not self.ready:
                await self._check()
            if not isinstance(query, str) or not query.strip():
                raise ValueError("query must be a non-empty string")
            n = max(candidates, k) if mode == "hybrid" else k
            # The merge's own checks of mode, k and fusion, before any shard is asked.
            _trine.merge_shards([], mode, k, candidates=n, fusion=fusion, alpha=alpha, rrf_k=rrf_k)
            vector = None if mode == "lexical" else self.encoder.encode_query(query)
            stats = await asyncio.gather(*[s.stats.remote(query) for s in self.shards])
            total = _trine.sum_stats(list(stats))
            cands = await asyncio.gather(
                *[s.candidates.remote(query, mode, n, total, vector) for s in self.shards])
            return _trine.merge_shards(list(cands), mode, k, candidates=n, fusion=fusion,
                                       alpha=alpha, rrf_k=rrf_k)

        async def __call__(self, request):
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                allowed = {"query", "mode", "k", "candidates", "fusion", "alpha", "rrf_k"}
                unknown = sorted(set(body) - allowed)
                if unknown:
                    raise ValueError(f"unknown field(s): {', '.join(unknown)}")
                if "query" not in body:
                    raise ValueError("missing field: query")
                hits = await self.search(**body)
            except (ValueError, TypeError, _trine.TrineError) as e:
                return JSONResponse({"error": str(e)}, status_code=400)
            return {"hits": hits}

    return Shard, Router


def serve(shard_set: PathLike, model: PathLike, *, name: str = "trine",
          route_prefix: str = "/search"):
    """Deploys a shard set (``trine index build --shards N`` or ``build_shards``) on Ray Serve:
    one replica per shard and a router that fans each query out and merges; returns the
    router's handle (``handle.search.remote(query, mode, k, ...)``), also served over HTTP as
    POST ``route_prefix``. ``trine serve`` stays the single-machine server."""
    import json

    from ray import serve as ray_serve

    root = Path(shard_set).resolve()
    listing = root / "shards.json"
    if not listing.is_file():
        raise _trine.TrineError(f"{root}: not a shard set (no shards.json)")
    entries = json.loads(listing.read_text())["shards"]
    Shard, Router = _serve_classes()
    shards = [Shard.options(name=f"shard-{i}").bind(str(root / e["path"]))
              for i, e in enumerate(entries)]
    app = Router.bind(shards, str(Path(model).resolve()))
    return ray_serve.run(app, name=name, route_prefix=route_prefix)


__all__ = ["plan", "embed", "build_shards", "serve", "local_cluster", "free_port"]
