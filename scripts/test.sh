#!/usr/bin/env bash
# Runs every check and test of the project, doing any set-up a fresh machine needs.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

# Rust: formatting, lints, unit/integration/property tests, doc tests.
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo nextest run --workspace --all-features
cargo test --doc --workspace --all-features

# Python: the drop-in package, built into .venv, and its pytest suite.
./scripts/python-env.sh
.venv/bin/python -m pytest -q tests/python
