#!/usr/bin/env bash
# The test suite: formatting, lints, then every test in release mode (the numerics are
# exercised at the optimisation level they ship with). Tests that need ../shared datasets
# skip with a printed reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --release --all-targets --locked -- -D warnings
cargo test --release --locked --workspace
