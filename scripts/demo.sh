#!/usr/bin/env bash
# The demo: writes a synthetic 3-D volume to a Zarr v3 array (daisy.prepare_ds), smooths it
# block-wise with context on two worker processes (progress bars, Execution Summary, chunks
# decoded per block), and checks every voxel against the whole-volume computation. Sets up
# .venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/python-env.sh --release
exec .venv/bin/python examples/smooth_zarr.py "$@"
