"""trine.finetune and trine.train: the CLI's runs from Python, the same model out of both
doors, and bad data refused before anything is written."""

import json
import subprocess

import numpy as np
import pytest

import trine

TOPICS = {
    "sport": ["the team won the match", "a goal in the last minute", "the striker scored twice",
              "fans cheered the keeper", "the coach praised the defence", "a penalty saved",
              "the league title race", "the referee showed a card"],
    "cooking": ["simmer the sauce slowly", "knead the dough well", "roast the vegetables",
                "season the soup with salt", "whisk eggs and sugar", "bake the bread for an hour",
                "slice the onions thinly", "fry the garlic in oil"],
}


def labelled(path, topics):
    with open(path, "w") as f:
        for label, texts in topics.items():
            for i, t in enumerate(texts):
                f.write(json.dumps({"_id": f"{label}-{i}", "text": t, "label": label}) + "\n")
    return path


def test_finetune_on_labels_writes_a_model_that_loads(tmp_path, fixtures):
    data = labelled(tmp_path / "topics.jsonl", TOPICS)
    out = tmp_path / "tuned"
    report = trine.finetune(data, out, fixtures / "bert-cls-normalize", loss="batch-hard",
                            max_steps=2, batch_size=4, per_class=2, eval_every=1)
    assert report["train"]["steps"] == 2
    assert set(report["before"]["metrics"]) == set(report["after"]["metrics"])
    assert (out / "README.md").exists() and (out / "finetune-report.json").exists()
    start = trine.Encoder(fixtures / "bert-cls-normalize").encode(["roast the vegetables"])
    tuned = trine.Encoder(out).encode(["roast the vegetables"])
    # The dev guard keeps the best evaluated step: the start model itself when step 0 won.
    best = report["train"]["best"]["step"]
    assert tuned.shape == start.shape
    assert np.allclose(tuned, start, atol=1e-6) == (best == 0), best


def test_finetune_refuses_bad_data_before_writing(tmp_path, fixtures):
    one_class = labelled(tmp_path / "one.jsonl", {"sport": TOPICS["sport"]})
    out = tmp_path / "never"
    with pytest.raises(trine.TrineError, match=str(one_class)):
        trine.finetune(one_class, out, fixtures / "bert-cls-normalize", max_steps=1)
    assert not out.exists()
    with pytest.raises(ValueError, match="loss='mnrl' is not one of"):
        trine.finetune(one_class, out, fixtures / "bert-cls-normalize", loss="mnrl")
    with pytest.raises(ValueError, match="unknown training argument 'learning_rate'"):
        trine.finetune(one_class, out, fixtures / "bert-cls-normalize", learning_rate=1e-5)


def test_train_gives_the_clis_model(tmp_path, fixtures, trine_bin):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    texts = [t for ts in TOPICS.values() for t in ts]
    with open(beir / "corpus.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n")
    queries = {"q0": "who scored the goal", "q1": "how to bake bread", "q2": "a card from the referee",
               "q3": "frying garlic"}
    with open(beir / "queries.jsonl", "w") as f:
        for q, t in queries.items():
            f.write(json.dumps({"_id": q, "text": t}) + "\n")
    (beir / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq0\td1\t1\nq1\td13\t1\nq2\td7\t1\nq3\td15\t1\n")
    model = fixtures / "bert-cls-normalize"
    triplets = tmp_path / "t.parquet"
    subprocess.run([str(trine_bin), "mine", "--data", str(beir), "--split", "train", "--out",
                    str(triplets), "--retriever", "bm25", "--model", str(model)], check=True,
                   capture_output=True)
    summary = trine.train(model, triplets, tmp_path / "py", judgements=beir, max_steps=2,
                          batch_size=2, seed=7)
    assert summary["steps"] == 2
    subprocess.run([str(trine_bin), "train", "--model", str(model), "--triplets", str(triplets),
                    "--judgements", str(beir), "--out", str(tmp_path / "cli"), "--max-steps", "2",
                    "--batch-size", "2", "--seed", "7"], check=True, capture_output=True)
    probe = ["who scored the goal", "knead the dough well"]
    ours = trine.Encoder(tmp_path / "py").encode(probe)
    cli = trine.Encoder(tmp_path / "cli").encode(probe)
    np.testing.assert_allclose(ours, cli, atol=1e-5)


def test_train_with_a_dev_set_scores_it_as_the_cli(tmp_path, fixtures, trine_bin):
    """`eval_data` with a dev split: the same dev metrics at the same steps as `--eval-data`,
    and the dev judgements written beside the model."""
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    texts = [t for ts in TOPICS.values() for t in ts]
    with open(beir / "corpus.jsonl", "w") as f:
        for i, t in enumerate(texts):
            f.write(json.dumps({"_id": f"d{i}", "title": "", "text": t}) + "\n")
    queries = {"q0": "who scored the goal", "q1": "how to bake bread", "q2": "a card from the referee",
               "q3": "frying garlic", "q4": "the title race", "q5": "roasted vegetables"}
    with open(beir / "queries.jsonl", "w") as f:
        for q, t in queries.items():
            f.write(json.dumps({"_id": q, "text": t}) + "\n")
    (beir / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq0\td1\t1\nq1\td13\t1\nq2\td7\t1\nq3\td15\t1\n")
    (beir / "qrels" / "dev.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq4\td6\t1\nq5\td10\t1\n")
    model = fixtures / "bert-cls-normalize"
    triplets = tmp_path / "t.parquet"
    subprocess.run([str(trine_bin), "mine", "--data", str(beir), "--split", "train", "--out",
                    str(triplets), "--retriever", "bm25", "--model", str(model)], check=True,
                   capture_output=True)
    summary = trine.train(model, triplets, tmp_path / "py", eval_data=beir, eval_split="dev",
                          max_steps=2, batch_size=2, seed=7, eval_every=1)
    subprocess.run([str(trine_bin), "train", "--model", str(model), "--triplets", str(triplets),
                    "--eval-data", str(beir), "--eval-split", "dev", "--out", str(tmp_path / "cli"),
                    "--max-steps", "2", "--batch-size", "2", "--seed", "7", "--eval-every", "1"],
                   check=True, capture_output=True)
    cli = json.loads((tmp_path / "cli" / "train-summary.json").read_text())["summary"]
    assert len(summary["evals"]) == 3
    assert [e["step"] for e in summary["evals"]] == [e["step"] for e in cli["evals"]]
    for ours, theirs in zip(summary["evals"], cli["evals"]):
        assert ours["metrics"] == pytest.approx(theirs["metrics"], abs=1e-6)
    assert (tmp_path / "py" / "dev-qrels.tsv").read_text() == (tmp_path / "cli" / "dev-qrels.tsv").read_text()
    with pytest.raises(trine.TrineError, match="missing"):
        trine.train(model, triplets, tmp_path / "bad", eval_data=tmp_path / "missing", max_steps=1)
    assert not (tmp_path / "bad").exists()
