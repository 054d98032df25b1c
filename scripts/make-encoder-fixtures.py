#!/usr/bin/env python3
"""Tiny random-weight sentence-transformers folders, one per architecture family and pooling
setup, with sentence-transformers' own token ids and embeddings of tricky texts.

trine's reference test (crates/trine-encoder/tests/families.rs) loads every folder written here
and must reproduce the ids exactly and the embeddings to cosine >= 0.99999. The folders are small
(vocabularies of a few hundred tokens, hidden size 32) so they are committed beside the test.

Run once, with eval/peers/requirements.txt installed (transformers, sentence-transformers):
    eval/.venv/bin/python scripts/make-encoder-fixtures.py crates/trine-encoder/tests/fixtures
"""

import json
import shutil
import sys
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Training text for the tokenizers: a few sentences of several scripts, so CJK and emoji have
# tokens of their own and some characters still fall to the unknown token.
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Sentence embeddings map texts to vectors; similar texts get similar vectors.",
    "Triplet loss pulls an anchor toward a positive and pushes it from a negative.",
    "Retrieval benchmarks measure nDCG@10 and recall@100 over judged documents.",
    "Vitamin D deficiency is associated with an increased risk of fractures.",
    "Les modèles multilingues comprennent le français, l'allemand et l'espagnol.",
    "Die Würde des Menschen ist unantastbar.",
    "機械学習は人工知能の一分野です。",
    "我们在这里测试中文分词。",
    "🙂 emoji 🚀 and symbols ∑ ∫ ≥ ≤ are tokens too",
    "lexical BM25 search meets dense vector search in hybrid fusion",
] * 4

TEXTS = [
    "",
    "   ",
    "hello",
    "The quick brown fox jumps over the lazy dog.",
    "query: what causes vitamin D deficiency?",
    "Les modèles multilingues comprennent le français.",
    "機械学習は人工知能の一分野です。",
    "🙂🚀 emoji only ∑",
    "A long document that runs past the maximum sequence length: "
    + " ".join(["retrieval benchmarks measure dense and lexical search"] * 12),
    "UPPER and lower Case MiXeD",
    "unseen characters: ΩΨΦ ж ק",
]

MAX_SEQ = 24


def wordpiece(lowercase: bool) -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase, strip_accents=None, handle_chinese_chars=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(CORPUS, trainers.WordPieceTrainer(vocab_size=400, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def unigram() -> Tokenizer:
    """XLM-RoBERTa's kind: a SentencePiece-style Unigram model, <s> x </s>, <pad> = 1."""
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(" {2,}", " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(
        CORPUS, trainers.UnigramTrainer(vocab_size=300, special_tokens=specials, unk_token="<unk>")
    )
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=True)
    return tok


def bpe() -> Tokenizer:
    """ModernBERT's kind: byte-level BPE with [CLS] x [SEP]."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return tok


def bpe_eos() -> Tokenizer:
    """Qwen3's kind: byte-level BPE, no start token, <|endoftext|> appended (and used as padding)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    eos = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B <|endoftext|>", special_tokens=[("<|endoftext|>", eos)]
    )
    return tok


def hf_tokenizer(kind: str, tok: Tokenizer):
    from transformers import PreTrainedTokenizerFast

    if kind == "bpe-eos":
        specials = dict(eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    elif kind == "unigram":
        specials = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", sep_token="</s>",
                        cls_token="<s>", pad_token="<pad>", mask_token="<mask>")
    else:
        specials = dict(unk_token="[UNK]", sep_token="[SEP]", cls_token="[CLS]", pad_token="[PAD]", mask_token="[MASK]")
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=MAX_SEQ, **specials)


def transformer(family: str, vocab: int, pad_id: int):
    import transformers as tf

    common = dict(vocab_size=vocab, pad_token_id=pad_id)
    if family == "bert":
        cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            max_position_embeddings=64, **common)
        return tf.BertModel(cfg, add_pooling_layer=False)
    if family == "distilbert":
        cfg = tf.DistilBertConfig(dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64, **common)
        return tf.DistilBertModel(cfg)
    if family == "xlm-roberta":
        cfg = tf.XLMRobertaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                  max_position_embeddings=MAX_SEQ + 2 + 8, type_vocab_size=1, **common)
        return tf.XLMRobertaModel(cfg, add_pooling_layer=False)
    if family == "modernbert":
        cfg = tf.ModernBertConfig(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=48,
                                  max_position_embeddings=64, local_attention=8, global_attn_every_n_layers=2,
                                  cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3, **common)
        return tf.ModernBertModel(cfg)
    if family == "qwen3":
        cfg = tf.Qwen3Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                             head_dim=8, intermediate_size=64, max_position_embeddings=64, **common)
        return tf.Qwen3Model(cfg)
    raise ValueError(family)


# name, family, tokenizer kind, pooling mode, Dense out features (None: no Dense), Normalize, prompts
SETUPS = [
    ("bert-cls-normalize", "bert", "wordpiece-lower", "cls", None, True, None),
    ("bert-max-dense", "bert", "wordpiece-lower", "max", 16, True, None),
    ("bert-lasttoken", "bert", "wordpiece-lower", "lasttoken", None, False, None),
    ("distilbert-mean", "distilbert", "wordpiece-lower", "mean", None, True, None),
    ("distilbert-weightedmean", "distilbert", "wordpiece-cased", "weightedmean", None, False, None),
    ("xlm-roberta-mean-prompts", "xlm-roberta", "unigram", "mean", None, True,
     {"query": "query: ", "document": "passage: "}),
    ("xlm-roberta-mean-sqrt-len", "xlm-roberta", "unigram", "mean_sqrt_len_tokens", None, False, None),
    ("modernbert-mean", "modernbert", "bpe", "mean", None, True, None),
    ("qwen3-lasttoken-prompts", "qwen3", "bpe-eos", "lasttoken", None, True,
     {"query": "Instruct: find the passage\nQuery: ", "document": ""}),
]


def build(out: Path, name, family, tok_kind, pooling, dense, normalize, prompts):
    from sentence_transformers import SentenceTransformer, models as st

    torch.manual_seed(sum(map(ord, name)))
    raw = {"wordpiece-lower": lambda: wordpiece(True), "wordpiece-cased": lambda: wordpiece(False),
           "unigram": unigram, "bpe": bpe, "bpe-eos": bpe_eos}[tok_kind]()
    hf_tok = hf_tokenizer(tok_kind if tok_kind in ("unigram", "bpe-eos") else "other", raw)
    model = transformer(family, raw.get_vocab_size(), hf_tok.pad_token_id)
    # Random init leaves LayerNorms at 1/0 and biases at 0; perturb them so they are tested too.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    tmp = out / f".{name}-hf"
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp)
    hf_tok.save_pretrained(tmp)
    modules = [st.Transformer(str(tmp), max_seq_length=MAX_SEQ, do_lower_case=False)]
    dim = modules[0].get_word_embedding_dimension()
    modules.append(st.Pooling(dim, pooling_mode=pooling))
    if dense:
        modules.append(st.Dense(dim, dense, activation_function=torch.nn.Tanh()))
    if normalize:
        modules.append(st.Normalize())
    kwargs = {"prompts": prompts, "default_prompt_name": "query"} if prompts else {}
    m = SentenceTransformer(modules=modules, device="cpu", **kwargs)
    m.eval()
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    m.save(str(dest), safe_serialization=True)
    shutil.rmtree(tmp)

    rows = []
    features = m.tokenize(TEXTS)
    ids, mask = features["input_ids"], features["attention_mask"]
    with torch.no_grad():
        plain = m.encode(TEXTS, batch_size=4, convert_to_numpy=True, prompt_name=None, prompt="")
    prompted = {}
    if prompts:
        with torch.no_grad():
            for pname in prompts:
                prompted[pname] = m.encode(TEXTS, batch_size=4, convert_to_numpy=True, prompt_name=pname)
    for i, text in enumerate(TEXTS):
        row = {"text": text, "ids": ids[i][mask[i].bool()].tolist(), "embedding": plain[i].tolist()}
        for pname, emb in prompted.items():
            row[f"embedding_{pname}"] = emb[i].tolist()
        rows.append(row)
    (dest / "reference.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    print(f"{name}: {family}, {pooling}, dense={dense}, normalize={normalize}, {size / 1024:.0f} KiB")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/trine-encoder/tests/fixtures")
    out.mkdir(parents=True, exist_ok=True)
    import sentence_transformers, transformers

    versions = {"sentence-transformers": sentence_transformers.__version__,
                "transformers": transformers.__version__, "torch": torch.__version__}
    only = set(sys.argv[2:])
    for setup in SETUPS:
        if not only or setup[0] in only:
            build(out, *setup)
    (out / "VERSIONS.json").write_text(json.dumps(versions, indent=2) + "\n")


if __name__ == "__main__":
    main()
