#!/usr/bin/env bash
# Runs the demo: a block-wise 3-D smoothing job, checked against the whole-volume result.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p daisy-core --example smooth -- "${1:-256}"
