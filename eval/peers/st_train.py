"""Peer benchmark: sentence-transformers fine-tuning on the same triplets as `trine train`.

Usage: python st_train.py MODEL_DIR TRIPLETS_PARQUET OUT_DIR REPORT_JSON
           [--loss mnrl|triplet] [--batch-size 16] [--lr 2e-5] [--epochs 1] [--max-steps N]
           [--threads 2] [--seed 42]

The loop is sentence-transformers' classic `fit` written out (this venv has no `datasets`, which
the Trainer needs): its own loss modules (MultipleNegativesRankingLoss, scale 20; TripletLoss,
Euclidean, margin 5 — its defaults), AdamW (weight decay 0.01, none on bias/LayerNorm), linear
warm-up over 10% of the steps then linear decay, gradient clipping at 1.0, dropout on.
Only the training steps are timed.
"""
import argparse
import json
import random
import resource
import time

import pyarrow.parquet as pq
import torch
from sentence_transformers import SentenceTransformer, losses
from transformers import get_linear_schedule_with_warmup


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("triplets")
    ap.add_argument("out")
    ap.add_argument("report")
    ap.add_argument("--loss", default="mnrl", choices=["mnrl", "triplet"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    t = pq.read_table(a.triplets).to_pydict()
    rows = list(zip(t["query"], t["positive"], t["negative"]))
    model = SentenceTransformer(a.model, device="cpu")
    loss = (
        losses.MultipleNegativesRankingLoss(model)
        if a.loss == "mnrl"
        else losses.TripletLoss(model)
    )
    no_decay = ["bias", "LayerNorm.bias", "LayerNorm.weight"]
    params = [
        {"params": [p for n, p in loss.named_parameters() if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in loss.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(params, lr=a.lr)
    steps_per_epoch = (len(rows) + a.batch_size - 1) // a.batch_size
    total = steps_per_epoch * a.epochs
    sched = get_linear_schedule_with_warmup(opt, int(total * 0.1), total)
    run_steps = min(total, a.max_steps or total)

    model.train()
    step, seconds, step_times = 0, 0.0, []
    for _ in range(a.epochs):
        random.shuffle(rows)
        for i in range(0, len(rows), a.batch_size):
            if step >= run_steps:
                break
            batch = rows[i : i + a.batch_size]
            t0 = time.perf_counter()
            feats = [model.tokenize([r[k] for r in batch]) for k in range(3)]
            value = loss(feats, None)
            opt.zero_grad()
            value.backward()
            torch.nn.utils.clip_grad_norm_(loss.parameters(), 1.0)
            opt.step()
            sched.step()
            dt = time.perf_counter() - t0
            step_times.append(dt)
            seconds += dt
            step += 1
            print(f"step {step}/{run_steps} loss {value.item():.4f} {dt:.1f}s", flush=True)
    if step == total:
        model.save(a.out)
    steady = step_times[1:] or step_times
    report = {
        "peer": f"sentence-transformers {__import__('sentence_transformers').__version__} "
        f"(torch {torch.__version__}, {a.threads} threads)",
        "loss": a.loss,
        "rows": len(rows),
        "batch_size": a.batch_size,
        "steps": step,
        "steps_per_epoch": steps_per_epoch,
        "seconds": seconds,
        "seconds_per_step": sum(steady) / len(steady),
        "seconds_per_epoch": sum(steady) / len(steady) * steps_per_epoch,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "saved_model": step == total,
    }
    with open(a.report, "w") as f:
        json.dump(report, f, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
