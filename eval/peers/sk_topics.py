"""scikit-learn topic models beside trine's topics: NMF on TF-IDF and LDA on word counts.

usage: sk_topics.py DOCS.jsonl OUT.json --method nmf|lda [--k 20] [--keywords 10] [--seed 0]

Words are made as trine's c-TF-IDF keywords are (runs of letters and digits of at least 3 bytes
with a letter, lower-cased, without the stop words of crates/trine-cluster/src/keywords.rs, read
from that file), so both engines choose keywords from the same vocabulary; words in fewer than 5
documents or in more than 95% of them are dropped (the usual topic-model pruning). OUT holds the
keywords of each topic (trine scores their NPMI and diversity: `trine eval-cluster
--score-topics OUT`) and the V-measure of each document's strongest topic against the labels.
"""
import argparse
import json
import pathlib
import re
import time

from sklearn import metrics
from sklearn.decomposition import NMF, LatentDirichletAllocation
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

ap = argparse.ArgumentParser()
ap.add_argument("docs")
ap.add_argument("out")
ap.add_argument("--method", choices=["nmf", "lda"], required=True)
ap.add_argument("--k", type=int, default=20)
ap.add_argument("--keywords", type=int, default=10)
ap.add_argument("--seed", type=int, default=0)
a = ap.parse_args()

source = pathlib.Path(__file__).resolve().parents[2] / "crates/trine-cluster/src/keywords.rs"
stop = set(re.search(r'const STOP_WORDS: &str = "(.*?)";', source.read_text(), re.S).group(1)
           .replace("\\\n", " ").split())


def words(text):
    return [w.lower() for w in re.findall(r"[^\W_]+", text)
            if len(w.encode()) >= 3 and any(c.isalpha() for c in w) and w.lower() not in stop]


texts, labels = [], []
for line in open(a.docs):
    d = json.loads(line)
    texts.append(d["text"])
    labels.append(d["label"])
start = time.time()
if a.method == "nmf":
    vec = TfidfVectorizer(analyzer=words, min_df=5, max_df=0.95)
    X = vec.fit_transform(texts)
    model = NMF(n_components=a.k, init="nndsvda", random_state=a.seed, max_iter=400)
else:
    vec = CountVectorizer(analyzer=words, min_df=5, max_df=0.95)
    X = vec.fit_transform(texts)
    model = LatentDirichletAllocation(n_components=a.k, random_state=a.seed, learning_method="batch",
                                      max_iter=20)
doc_topic = model.fit_transform(X)
secs = time.time() - start
vocab = vec.get_feature_names_out()
topics = [[str(vocab[i]) for i in comp.argsort()[::-1][:a.keywords]] for comp in model.components_]
json.dump({
    "engine": f"scikit-learn {a.method.upper()}",
    "method": a.method,
    "k": a.k,
    "keywords_per_topic": a.keywords,
    "seed": a.seed,
    "vocabulary": len(vocab),
    "topics": topics,
    "v_measure": metrics.v_measure_score(labels, doc_topic.argmax(axis=1)),
    "seconds": secs,
}, open(a.out, "w"), indent=1)
print(f"{a.method}: {len(vocab)} words, V-measure {metrics.v_measure_score(labels, doc_topic.argmax(axis=1)):.4f}, {secs:.1f} s")
