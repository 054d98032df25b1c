#!/usr/bin/env bash
# Prints the SciFact folder that fetch-scifact.sh settled on.
root=${1:-../shared/corpora}
if [ -f "$root/scifact/corpus.jsonl" ]; then echo "$root/scifact"; else echo data/scifact; fi
