"""trine.Index: dense hits equal to NumPy's cosine ranking, lexical and hybrid hits equal to the
`trine search` binary's over the same folder, bad input refused with nothing half-written."""

import json
import subprocess

import numpy as np
import pytest

import trine

QUERIES = ["vitamin D deficiency and bone fractures", "gene expression in cancer cells",
           "antibiotic resistance of bacteria"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, data_root):
    """The first 60 SciFact documents, as JSON Lines in a temporary folder."""
    path = tmp_path_factory.mktemp("corpus") / "docs.jsonl"
    with open(data_root / "scifact" / "corpus.jsonl") as src, open(path, "w") as dst:
        for _, line in zip(range(60), src):
            dst.write(line)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, corpus, model_dir):
    enc = trine.Encoder(model_dir)
    path = tmp_path_factory.mktemp("idx") / "scifact.idx"
    return trine.Index.build(path, corpus, enc), enc


def test_dense_hits_are_numpy_cosine_ranking(built, corpus):
    index, enc = built
    docs = [json.loads(l) for l in open(corpus)]
    vectors = enc.encode([(d["title"] + " " + d["text"]) for d in docs])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert len(index) == len(docs)
    for q in QUERIES:
        v = enc.encode(q)
        scores = vectors @ (v / np.linalg.norm(v))
        # Highest score first, equal scores by document id.
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], docs[i]["_id"]))[:10]
        hits = index.search(q, mode="dense", k=10)
        assert [h["id"] for h in hits] == [docs[i]["_id"] for i in order]
        np.testing.assert_allclose([h["score"] for h in hits], scores[order], atol=1e-5)


@pytest.mark.parametrize("mode,fusion", [("lexical", None), ("hybrid", None), ("hybrid", "convex")])
def test_hits_equal_the_binarys(built, model_dir, trine_bin, mode, fusion):
    index, _ = built
    reopened = trine.Index.open(index.path, model=str(model_dir))
    for q in QUERIES:
        cmd = [str(trine_bin), "search", str(index.path), q, "--mode", mode, "--k", "5", "--json",
               "--model", str(model_dir)]
        if fusion:
            cmd += ["--fusion", fusion, "--alpha", "0.3"]
        cli = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        ours = reopened.search(q, mode=mode, k=5, fusion=fusion, alpha=0.3)
        assert [h["id"] for h in ours] == [h["id"] for h in cli]
        np.testing.assert_allclose([h["score"] for h in ours], [h["score"] for h in cli], atol=1e-6)


def test_quantised_vectors_give_the_exact_scores(tmp_path, corpus, built):
    index, enc = built
    q8 = trine.Index.build(tmp_path / "q8.idx", corpus, enc, vectors="int8", rescore=20)
    for q in QUERIES:
        a = index.search(q, mode="dense", k=5)
        b = q8.search(q, mode="dense", k=5)
        assert [h["id"] for h in a] == [h["id"] for h in b]


def test_bad_input_is_refused_and_nothing_is_lost(tmp_path, corpus, built, model_dir):
    index, enc = built
    before = sorted(p.name for p in index.path.iterdir())
    with pytest.raises(trine.TrineError, match="an index already exists here"):
        trine.Index.build(index.path, corpus, enc)
    assert sorted(p.name for p in index.path.iterdir()) == before
    assert len(trine.Index.open(index.path)) == len(index)

    lexical_only = trine.Index.open(index.path)
    with pytest.raises(trine.TrineError, match="need a model"):
        lexical_only.search("vitamin", mode="dense")
    with pytest.raises(ValueError, match="mode='semantic' is not one of lexical, dense, hybrid"):
        lexical_only.search("vitamin", mode="semantic")
    with pytest.raises(trine.TrineError, match="empty query"):
        lexical_only.search("  ", mode="lexical")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_id": "1", "title": "", "text": "fine"}\n{"_id": "2", "title": \n')
    with pytest.raises(trine.TrineError, match=f"{bad}.*2"):
        trine.Index.build(tmp_path / "bad.idx", bad, enc)
    assert not (tmp_path / "bad.idx" / "CURRENT").exists()
