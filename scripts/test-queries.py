"""Prints the queries of a BEIR folder's test split (those its qrels/test.tsv judges) as JSON Lines,
for `trine search --queries`: python3 scripts/test-queries.py BEIR_DIR > queries.jsonl"""
import json
import sys

root = sys.argv[1]
ids = {l.split("\t")[0] for l in open(f"{root}/qrels/test.tsv") if not l.startswith("query-id")}
for line in open(f"{root}/queries.jsonl"):
    if json.loads(line)["_id"] in ids:
        print(line.strip())
