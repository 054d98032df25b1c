"""trine.Encoder against sentence-transformers' own embeddings."""

import json

import numpy as np
import pytest

import trine


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_real_model_reproduces_sentence_transformers(model_dir, data_root):
    rows = [json.loads(l) for l in open(data_root.parent / "fixtures" / "minilm-reference.jsonl")]
    enc = trine.Encoder(model_dir)
    got = enc.encode([r["text"] for r in rows])
    assert got.shape == (len(rows), 384) and got.dtype == np.float32
    worst = min(cosine(g, r["embedding"]) for g, r in zip(got, rows))
    assert worst >= 0.99999, worst


def test_prompts_as_sentence_transformers_applies_them(fixtures):
    folder = fixtures / "xlm-roberta-mean-prompts"
    rows = [json.loads(l) for l in open(folder / "reference.jsonl")]
    texts = [r["text"] for r in rows]
    enc = trine.Encoder(folder)
    assert enc.prompts == {"document": "passage: ", "query": "query: "}
    cases = {
        "embedding_query": enc.encode(texts),  # the folder's default_prompt_name
        "embedding_document": enc.encode(texts, prompt_name="document"),
        "embedding": enc.encode(texts, prompt=""),  # an explicit prompt wins
    }
    for key, got in cases.items():
        worst = min(cosine(g, r[key]) for g, r in zip(got, rows))
        assert worst >= 0.99999, (key, worst)


def test_one_string_gives_one_vector_and_the_buffer_is_not_copied(model_dir):
    enc = trine.Encoder(model_dir, batch_size=2)
    one = enc.encode("vitamin D")
    many = enc.encode(["vitamin D", "bone density", "fractures"], batch_size=1)
    assert one.shape == (384,)
    np.testing.assert_allclose(one, many[0], atol=1e-6)
    assert not many.flags.owndata and many.flags.c_contiguous


def test_int8_stays_close_to_f32(model_dir):
    texts = ["Vitamin D deficiency raises the risk of fractures.", "Aspirin and heart attacks"]
    f32 = trine.Encoder(model_dir).encode(texts)
    int8 = trine.Encoder(model_dir, dtype="int8").encode(texts)
    assert min(cosine(a, b) for a, b in zip(f32, int8)) > 0.99


def test_bad_input_names_what_is_wrong(tmp_path, model_dir, fixtures):
    with pytest.raises(trine.TrineError, match=f"loading model {tmp_path / 'nowhere'}"):
        trine.Encoder(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="dtype='fp16' is not one of f32, bf16, int8"):
        trine.Encoder(model_dir, dtype="fp16")
    enc = trine.Encoder(fixtures / "xlm-roberta-mean-prompts")
    with pytest.raises(trine.TrineError, match="shouting"):
        enc.encode(["a"], prompt_name="shouting")
    with pytest.raises(ValueError, match="list of strings"):
        enc.encode([1, 2])
