#!/usr/bin/env bash
# Makes sure BEIR SciFact is available. Uses DATA_ROOT/scifact when it is there (nothing is copied);
# otherwise downloads BEIR's public scifact.zip into data/, checks its md5 and unpacks it.
set -euo pipefail

root=${1:-../shared/corpora}
if [ -f "$root/scifact/corpus.jsonl" ]; then
  echo "scifact: using $root/scifact"
  exit 0
fi
if [ -f data/scifact/corpus.jsonl ]; then
  echo "scifact: using data/scifact"
  exit 0
fi
url=https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip
md5=5f7d1de60b170fc8027bb7898e2efca1
mkdir -p data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "scifact: $root/scifact not found; downloading $url"
if command -v curl >/dev/null 2>&1; then
  curl -fL --retry 3 -o "$tmp/scifact.zip" "$url"
else
  wget -O "$tmp/scifact.zip" "$url"
fi
echo "$md5  $tmp/scifact.zip" | md5sum -c --quiet - || { echo "error: scifact.zip md5 mismatch" >&2; exit 1; }
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp/scifact.zip" "$tmp/x"
mv "$tmp/x/scifact" data/scifact
echo "scifact: unpacked into data/scifact"
