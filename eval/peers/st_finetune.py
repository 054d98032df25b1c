"""Peer benchmark: sentence-transformers' nearest equivalent of `trine finetune`, on the same
data and budget, choosing its checkpoint on the same dev set.

Retrieval (a triplets file written by `trine finetune`, i.e. the same mined rows):
    python st_finetune.py triplets MODEL TRIPLETS.parquet BEIR_DIR OUT REPORT.json
        [--dev-split dev] [--batch-size 64] [--mini-batch-size 16] [--lr 2e-5] [--epochs 1]
        [--max-steps N] [--eval-steps N] [--seed 42] [--threads 2]
  CachedMultipleNegativesRankingLoss (scale 20, GradCache over mini-batches), the
  NO_DUPLICATES batch sampler, and an InformationRetrievalEvaluator on the dev split over the
  whole corpus (nDCG@10 picks the checkpoint).

Labelled (a JSON Lines file with text and label, the dev part held out per class as trine does):
    python st_finetune.py labelled MODEL TRAIN.jsonl OUT REPORT.json
        [--loss batch-hard|batch-all|batch-semi-hard] [--batch-size 32] [--lr 2e-5] ...
  BatchHardTripletLoss (or BatchAll / BatchSemiHard) with the GROUP_BY_LABEL batch sampler and
  cosine distance, margin 0.1 (as trine's default); a dev evaluator that clusters the held-out
  texts with k-means (k = classes) and reports V-measure, which picks the checkpoint.

Both use the SentenceTransformerTrainer (AdamW, linear warm-up over 10% then decay, weight decay
0.01, clipping at 1), train on the CPU and time the run.
"""
import argparse
import json
import random
import resource
import time

import numpy as np
import pyarrow.parquet as pq
import torch
from datasets import Dataset
from sentence_transformers import (
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
    losses,
)
from sentence_transformers.evaluation import InformationRetrievalEvaluator, SentenceEvaluator
from sentence_transformers.training_args import BatchSamplers


def read_beir(root, split):
    corpus = {}
    with open(f"{root}/corpus.jsonl") as f:
        for line in f:
            d = json.loads(line)
            corpus[str(d["_id"])] = (d.get("title", "") + " " + d["text"]).strip()
    queries = {}
    with open(f"{root}/queries.jsonl") as f:
        for line in f:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    relevant = {}
    with open(f"{root}/qrels/{split}.tsv") as f:
        for i, line in enumerate(f):
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            if i == 0 and not score.lstrip("-").isdigit():
                continue
            if int(score) > 0 and did in corpus:
                relevant.setdefault(qid, set()).add(did)
    return corpus, {q: queries[q] for q in relevant}, relevant


class KMeansVMeasure(SentenceEvaluator):
    """V-measure of k-means (k = number of classes) on held-out labelled texts."""

    def __init__(self, texts, labels, seed):
        super().__init__()
        self.texts, self.labels, self.seed = texts, labels, seed
        self.primary_metric = "v_measure"
        self.greater_is_better = True

    def __call__(self, model, output_path=None, epoch=-1, steps=-1):
        from sklearn.cluster import KMeans
        from sklearn.metrics import v_measure_score

        emb = model.encode(self.texts, normalize_embeddings=True, batch_size=32)
        k = len(set(self.labels))
        pred = KMeans(n_clusters=k, n_init=4, random_state=self.seed).fit_predict(emb)
        v = float(v_measure_score(self.labels, pred))
        print(f"step {steps}: dev v_measure {v:.4f}", flush=True)
        return {"v_measure": v}


def hold_out(rows, fraction, seed):
    """The same per-class hold-out idea as trine (not the same texts: a different generator)."""
    by_class = {}
    for i, r in enumerate(rows):
        by_class.setdefault(r["label"], []).append(i)
    rng = random.Random(seed)
    dev = set()
    for members in by_class.values():
        rng.shuffle(members)
        n = min(len(members), max(1, round(len(members) * fraction)))
        dev.update(members[:n])
    train = [r for i, r in enumerate(rows) if i not in dev]
    held = [r for i, r in enumerate(rows) if i in dev]
    return train, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["triplets", "labelled"])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("rest", nargs="+", help="triplets: BEIR_DIR OUT REPORT; labelled: OUT REPORT")
    ap.add_argument("--dev-split", default="dev")
    ap.add_argument("--loss", default="batch-hard")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--mini-batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=-1)
    ap.add_argument("--eval-steps", type=int, default=None)
    ap.add_argument("--margin", type=float, default=0.1)
    ap.add_argument("--dev-fraction", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = SentenceTransformer(a.model, device="cpu")

    if a.mode == "triplets":
        beir, out, report = a.rest
        t = pq.read_table(a.data).to_pydict()
        train = Dataset.from_dict(
            {"anchor": t["query"], "positive": t["positive"], "negative": t["negative"]}
        )
        corpus, queries, relevant = read_beir(beir, a.dev_split)
        evaluator = InformationRetrievalEvaluator(
            queries, corpus, relevant, name="dev", ndcg_at_k=[10], batch_size=32,
            show_progress_bar=False,
        )
        metric = "eval_dev_cosine_ndcg@10"
        loss = losses.CachedMultipleNegativesRankingLoss(
            model, scale=20.0, mini_batch_size=a.mini_batch_size
        )
        batch = a.batch_size or 64
        sampler = BatchSamplers.NO_DUPLICATES
    else:
        out, report = a.rest
        rows = [json.loads(l) for l in open(a.data) if l.strip()]
        for r in rows:
            r["text"] = (r.get("title", "") + " " + r["text"]).strip()
            r["label"] = str(r["label"])
        names = sorted({r["label"] for r in rows})
        ids = {n: i for i, n in enumerate(names)}
        rows, held = hold_out(rows, a.dev_fraction, a.seed)
        train = Dataset.from_dict(
            {"text": [r["text"] for r in rows], "label": [ids[r["label"]] for r in rows]}
        )
        evaluator = KMeansVMeasure(
            [r["text"] for r in held], [ids[r["label"]] for r in held], a.seed
        )
        metric = "eval_v_measure"
        distance = losses.BatchHardTripletLossDistanceFunction.cosine_distance
        cls = {
            "batch-hard": losses.BatchHardTripletLoss,
            "batch-all": losses.BatchAllTripletLoss,
            "batch-semi-hard": losses.BatchSemiHardTripletLoss,
        }[a.loss]
        loss = cls(model, distance_metric=distance, margin=a.margin)
        batch = a.batch_size or 32
        sampler = BatchSamplers.GROUP_BY_LABEL

    steps_per_epoch = -(-len(train) // batch)
    total = a.max_steps if a.max_steps > 0 else steps_per_epoch * a.epochs
    eval_steps = a.eval_steps or max(1, -(-total // 6))
    args = SentenceTransformerTrainingArguments(
        output_dir=f"{out}.checkpoints",
        num_train_epochs=a.epochs,
        max_steps=a.max_steps,
        per_device_train_batch_size=batch,
        learning_rate=a.lr,
        warmup_ratio=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        lr_scheduler_type="linear",
        batch_sampler=sampler,
        eval_strategy="steps",
        eval_steps=eval_steps,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=True,
        seed=a.seed,
        logging_steps=10,
        report_to=[],
        use_cpu=True,
        dataloader_drop_last=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=train, loss=loss, evaluator=evaluator
    )
    before = evaluator(model)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    after = evaluator(model)
    model.save(out)
    rep = {
        "peer": f"sentence-transformers {__import__('sentence_transformers').__version__} "
        f"(torch {torch.__version__}, {a.threads} threads)",
        "mode": a.mode,
        "loss": type(loss).__name__,
        "rows": len(train),
        "batch_size": batch,
        "steps": result.global_step,
        "seconds": seconds,
        "seconds_per_step": seconds / max(1, result.global_step),
        "dev_before": before,
        "dev_after": after,
        "log": trainer.state.log_history,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    with open(report, "w") as f:
        json.dump(rep, f, indent=2)
    print(json.dumps({k: v for k, v in rep.items() if k != "log"}))


if __name__ == "__main__":
    main()
