"""trine.ray on a real local Ray cluster (a head and a second node process, on loopback):
embeddings from the actor pool equal to `trine embed`'s, a job run again skipping the row
groups already written, shards built as Ray tasks equal to `trine index build --shards`, and
search on Ray Serve equal to one index over the same documents, over its handle and HTTP."""

import json
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trine
import trine.ray

DOCS = 96
GROUP = 24
QUERIES = ["vitamin D deficiency and bone fractures", "gene expression in cancer cells",
           "antibiotic resistance of bacteria", "the immune response to influenza vaccines"]


@pytest.fixture(scope="module")
def cluster():
    with trine.ray.local_cluster(nodes=2, cpus=1) as nodes:
        yield nodes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_root):
    """The first 96 SciFact documents as Parquet in row groups of 24."""
    rows = []
    with open(data_root / "scifact" / "corpus.jsonl") as src:
        for _, line in zip(range(DOCS), src):
            d = json.loads(line)
            rows.append({"_id": d["_id"], "title": d["title"], "text": d["text"]})
    path = tmp_path_factory.mktemp("corpus") / "docs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=GROUP)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus, model_dir, trine_bin):
    """`trine embed` over the whole file."""
    out = tmp_path_factory.mktemp("ref") / "emb.parquet"
    subprocess.run([trine_bin, "embed", "--model", model_dir, "--input", corpus, "--output", out],
                   check=True, capture_output=True)
    return out


def vectors(paths):
    out = {}
    for p in paths:
        ids, values = trine.read_embeddings(p)
        for i, v in zip(ids, values):
            assert i not in out, f"{i} in two files"
            out[i] = v
    return out


@pytest.fixture(scope="module")
def embedded(cluster, tmp_path_factory, corpus, model_dir):
    out = tmp_path_factory.mktemp("emb")
    report = trine.ray.embed(corpus, model_dir, out, actors=2, threads=1)
    return out, report


def test_the_cluster_has_two_nodes(cluster):
    assert len(cluster) == 2


def test_embed_on_an_actor_pool_equals_trine_embed(embedded, reference):
    out, report = embedded
    assert report["row_groups"] == DOCS // GROUP
    assert report["written"] == DOCS // GROUP and report["skipped"] == 0
    assert report["documents"] == DOCS
    parts = sorted(out.glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-00000-{g:05d}.parquet" for g in range(4)]
    got, want = vectors(parts), vectors([reference])
    assert got.keys() == want.keys()
    diff = max(float(np.abs(got[i] - want[i]).max()) for i in want)
    print(f"max abs diff to trine embed: {diff:.3g}")
    assert diff <= 1e-6
    meta = pq.read_schema(parts[0]).metadata
    assert meta[b"trine.model_fingerprint"] == pq.read_schema(reference).metadata[
        b"trine.model_fingerprint"]


def test_embed_again_skips_the_row_groups_written(embedded, corpus, model_dir):
    out, _ = embedded
    parts = sorted(out.glob("part-*.parquet"))
    before = {p.name: p.stat().st_mtime_ns for p in parts}
    parts[2].unlink()
    report = trine.ray.embed(corpus, model_dir, out, actors=2, threads=1)
    assert (report["written"], report["skipped"], report["documents"]) == (1, 3, GROUP)
    after = {p.name: p.stat().st_mtime_ns for p in sorted(out.glob("part-*.parquet"))}
    assert after.keys() == before.keys()
    assert all(after[n] == before[n] for n in before if n != parts[2].name)


def test_embed_refuses_a_missing_corpus(cluster, tmp_path, model_dir):
    with pytest.raises(trine.TrineError, match="no Parquet corpus"):
        trine.ray.embed(tmp_path / "nothing", model_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.fixture(scope="module")
def shard_set(embedded, tmp_path_factory, corpus, model_dir):
    out = tmp_path_factory.mktemp("shards") / "set"
    sizes = trine.ray.build_shards(corpus, model_dir, out, shards=4, embeddings=embedded[0])
    return out, sizes


def test_build_shards_matches_the_cli(shard_set, embedded, tmp_path, corpus, model_dir, trine_bin):
    out, sizes = shard_set
    assert sizes == [24, 24, 24, 24]
    cli = tmp_path / "cli"
    subprocess.run([trine_bin, "index", "build", "--model", model_dir, "--corpus", corpus,
                    "--embeddings", embedded[0], "--shards", "4", "--out", cli],
                   check=True, capture_output=True)
    assert json.loads((cli / "shards.json").read_text()) == json.loads(
        (out / "shards.json").read_text())
    ids = lambda p: [trine.Index.open(p / f"shard-{i:03d}").search("cell", "lexical", 1)
                     for i in range(4)]
    assert ids(cli) == ids(out)


@pytest.fixture(scope="module")
def served(shard_set, model_dir):
    from ray import serve

    port = trine.ray.free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    handle = trine.ray.serve(shard_set[0], model_dir)
    yield handle, port
    serve.shutdown()


@pytest.fixture(scope="module")
def whole(tmp_path_factory, corpus, model_dir, reference):
    path = tmp_path_factory.mktemp("whole") / "idx"
    return trine.Index.build(path, corpus, model_dir, embeddings=reference)


@pytest.mark.parametrize("mode,fusion", [("lexical", None), ("dense", None), ("hybrid", "rrf"),
                                         ("hybrid", "convex")])
def test_serve_search_equals_one_index(served, whole, mode, fusion):
    handle, _ = served
    for q in QUERIES:
        got = handle.search.remote(q, mode=mode, k=10, candidates=40, fusion=fusion,
                                   alpha=0.7).result()
        want = whole.search(q, mode=mode, k=10, candidates=40, fusion=fusion or "rrf", alpha=0.7)
        assert [h["id"] for h in got] == [h["id"] for h in want], (mode, q)
        for g, w in zip(got, want):
            assert g["score"] == pytest.approx(w["score"], rel=1e-5, abs=1e-6)
        assert len({h["shard"] for h in got}) > 1


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/search", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_serve_over_http_and_bad_requests(served, whole):
    _, port = served
    status, body = post(port, {"query": QUERIES[0], "mode": "lexical", "k": 5})
    assert status == 200
    assert [h["id"] for h in body["hits"]] == [h["id"] for h in whole.search(QUERIES[0], "lexical", 5)]
    for bad, says in [({"query": "x", "mode": "fuzzy"}, "mode='fuzzy'"),
                      ({"mode": "dense"}, "missing field: query"),
                      ({"query": "  "}, "non-empty"),
                      ({"query": "x", "size": 3}, "unknown field(s): size"),
                      ({"query": "x", "k": 0}, "k must be at least 1")]:
        status, body = post(port, bad)
        assert status == 400, bad
        assert says in body["error"], (bad, body)
