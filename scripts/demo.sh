#!/usr/bin/env bash
# The demo: writes a synthetic 3-D volume to zarr, smooths it block-wise with context on two
# worker processes (progress bars, Execution Summary), and checks the result against the
# whole-volume computation. Sets up .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/python-env.sh --release
exec .venv/bin/python examples/smooth_zarr.py "$@"
