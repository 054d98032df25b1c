#!/usr/bin/env bash
# BERT embedding throughput of two builds, interleaved: BEFORE=old/trine [AFTER=target/release/trine] scripts/bench-encoder-seam.sh
set -euo pipefail
cd "$(dirname "$0")/.."
sf=$(scripts/scifact-path.sh ../shared/corpora)
mkdir -p /tmp/seam
for round in 1 2; do
  for dtype in f32 bf16; do
    for side in before after; do
      bin=${BEFORE:?the binary of the commit before}; [ $side = after ] && bin=${AFTER:-target/release/trine}
      $bin embed --input "$sf" --limit 1000 --dtype $dtype --output /tmp/seam/$side-$dtype.parquet --report /tmp/seam/$side-$dtype-$round.json > /dev/null 2>&1
      python3 -c "import json; r=json.load(open('/tmp/seam/$side-$dtype-$round.json')); print('$round $dtype $side', round(r['docs_per_s'],1), round(r['peak_rss_mib']))"
    done
  done
done
