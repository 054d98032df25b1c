#!/usr/bin/env bash
# Installs Intel MKL (static libraries, headers, and the OpenMP runtime) from PyPI wheels into
# .mkl/ for the release build's `mkl` feature (MKLROOT=.mkl). Idempotent.
# MKL is optional: without it trine uses the pure-Rust gemm crate (slower matrix products).
set -euo pipefail

dest=${1:-.mkl}
version=2026.2.0
if [ -f "$dest/lib/libmkl_core.a" ] && [ "$(cat "$dest/.version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "error: pip is needed to fetch MKL (or build without it: make build MKL=0)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "mkl: downloading mkl-static, mkl-include, intel-openmp $version from PyPI"
python3 -m pip download --no-deps --quiet --disable-pip-version-check \
  "mkl-static==$version" "mkl-include==$version" "intel-openmp==$version" -d "$tmp/whl"
stage="$dest.partial.$$"
mkdir -p "$stage/lib" "$stage/include"
python3 - "$tmp/whl" "$stage" <<'PY'
import os, sys, zipfile
whl, stage = sys.argv[1], sys.argv[2]
for name in os.listdir(whl):
    with zipfile.ZipFile(os.path.join(whl, name)) as z:
        for m in z.namelist():
            parts = m.split("/")
            # <pkg>.data/data/{lib,include}/...
            if len(parts) > 3 and parts[1] == "data" and parts[2] in ("lib", "include") and not m.endswith("/"):
                rel = "/".join(parts[2:])
                # Static OpenMP only: a shared libiomp5 would need LD_LIBRARY_PATH at run time.
                if parts[2] == "lib" and not rel.endswith(".a"):
                    continue
                target = os.path.join(stage, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(m) as src, open(target, "wb") as out:
                    out.write(src.read())
PY
echo "$version" > "$stage/.version"
rm -rf "$dest"
mv "$stage" "$dest"
echo "mkl: installed into $dest"
