"""Collects eval/results/train-*.json (written by scripts/bench-train.sh) into TRAIN.md."""
import glob
import json
import os
import sys

res = sys.argv[1] if len(sys.argv) > 1 else "eval/results"
rows, peers = [], []
for path in sorted(glob.glob(os.path.join(res, "train-*.json"))):
    r = json.load(open(path))
    if "peer" in r:
        peers.append(r)
    elif "test_ndcg@10" in r:
        rows.append(r)


def fmt(x, spec):
    return format(x, spec) if isinstance(x, (int, float)) else "–"


lines = [
    "# Fine-tuning on SciFact (`scripts/bench-train.sh`, 2 cores)",
    "",
    "919 BM25-mined triplets from the train split (`trine mine --retriever bm25 --negatives 1`);",
    "100 train queries held out as the dev set (their 110 triplets are not trained on); one epoch,",
    "batch 16, lr 2e-5, warm-up 10%, seed 42 (rows named `-2ep`: two epochs at lr 5e-5). The model",
    "kept is the best on the dev set (dev nDCG@10: 100 queries among 1,107 documents; step 0 is the",
    "starting model, so a loss that never beats it leaves the model unchanged). Test split: 300",
    "queries. The tuned hybrid uses the fusion `tune-fusion` picks on the dev queries. s/step counts",
    "training steps only (no evaluation or checkpoint time); the peer's steps are timed the same way.",
    "The trine commit column says which training path a row ran: rows without one ran before 39172dc",
    "(the fused attention / layer norm / GELU ops), rows before 688266d without the dense op (each",
    "linear layer with its bias, GELU and dropout as one autograd node), so their s/step is that of",
    "an earlier, slower path. Side by side on identical terms: `infonce-all` is trine's InfoNCE and",
    "`st-mnrl-full` sentence-transformers' MultipleNegativesRankingLoss (eval/peers/st_train.py),",
    "both on all 919 triplets (no dev hold-out), one epoch at lr 2e-5, batch 16, last weights, run",
    "one after the other and evaluated by trine the same way; the peer's timing is the last row's.",
    "",
    "| model / loss | dense nDCG@10 | hybrid RRF | hybrid (tuned on dev) | best dev nDCG@10 (step) | s/step | s/epoch | peak RSS MiB | trine commit |",
    "|---|---|---|---|---|---|---|---|---|",
]
def step_seconds(s):
    """Seconds spent in training steps only (dev evaluations and checkpoints excluded)."""
    log = os.path.join(s.get("output", ""), "train-log.csv")
    if not os.path.exists(log):
        return None, None
    rows_left, total, n = s["rows"], 0.0, 0
    batch = json.load(open(os.path.join(s["output"], "train-summary.json")))["config"]["batch_size"]
    for line in open(log).read().splitlines()[1:]:
        f = line.split(",")
        examples = min(batch, rows_left) if rows_left > 0 else batch
        rows_left -= batch
        total += examples / float(f[5])
        n += 1
    return total / n, total / n * s["steps_per_epoch"]


for r in sorted(rows, key=lambda r: r["name"] != "zero-shot"):
    t = r["test_ndcg@10"]
    s = r.get("train", {}).get("summary", {})
    if s:
        s["seconds_per_step"], s["seconds_per_epoch"] = step_seconds(s)
    best_rec = s.get("best") or {}
    best = best_rec.get("ndcg_10")
    best_step = f" ({best_rec['step']})" if "step" in best_rec else ""
    fusion = r.get("tuned_fusion", {})
    alpha = f" ({fusion.get('method')} α {fusion.get('alpha')})" if "alpha" in fusion else ""
    lines.append(
        f"| {r['name']} | {t['dense']:.4f} | {t['rrf']:.4f} | {t['tuned']:.4f}{alpha} | {fmt(best, '.4f')}{best_step} "
        f"| {fmt(s.get('seconds_per_step'), '.1f')} | {fmt(s.get('seconds_per_epoch'), '.0f')} "
        f"| {fmt(r.get('train', {}).get('peak_rss_mib'), '.0f')} | {r.get('commit', '–')} |"
    )
for p in peers:
    lines.append(
        f"| {p['peer']} {p['loss']} ({p['steps']} steps timed) | – | – | – | – "
        f"| {p['seconds_per_step']:.1f} | {p['seconds_per_epoch']:.0f} | {p['peak_rss_mib']:.0f} | – |"
    )
# Rows rerun with other seeds (NAME-seedN; seed 42 is NAME): mean and sample sd per column.
groups = {}
for r in rows:
    base, _, seed = r["name"].partition("-seed")
    groups.setdefault(base, {})[int(seed) if seed else 42] = r["test_ndcg@10"]
spread = [(b, g) for b, g in sorted(groups.items()) if len(g) > 1]
if spread:
    lines += ["", "Across seeds (`BENCH_TRAIN_SEED`; the seed also picks the dev queries, so each run holds",
              "out a different 100 and trains on the rest), test nDCG@10 mean ± sample sd:", "",
              "| loss | seeds | dense | hybrid RRF | hybrid (tuned on dev) |", "|---|---|---|---|---|"]
    for base, g in spread:
        cells = []
        for m in ["dense", "rrf", "tuned"]:
            v = [g[k][m] for k in sorted(g)]
            mean = sum(v) / len(v)
            sd = (sum((x - mean) ** 2 for x in v) / (len(v) - 1)) ** 0.5
            cells.append(f"{mean:.4f} ± {sd:.4f} ({', '.join(f'{x:.4f}' for x in v)})")
        lines.append(f"| {base} | {', '.join(map(str, sorted(g)))} | " + " | ".join(cells) + " |")
open(os.path.join(res, "TRAIN.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
