#!/usr/bin/env bash
# Creates (or updates) the virtual environment at .venv and builds the daisy package into it.
# Usage: scripts/python-env.sh [--release]   (sourced by demo.sh and test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "maturin>=1.5,<2" "funlib-geometry>=0.3" numpy tqdm dill
# The array tests (tests/python/test_array*.py, test_datasets*.py, test_persistence*.py) check
# daisy's arrays against the real zarr-python 3 and funlib.persistence 0.7 (which brings dask,
# pydantic, toml, iohub ...); the example and the benchmarks filter with scipy.ndimage. The package
# itself needs none of them.
.venv/bin/python -m pip install -q "zarr>=3,<4" "funlib.persistence==0.7.0" scipy
# The Python checks of scripts/test.sh: tests with per-test timeouts, property-based fuzz tests
# (hypothesis), lints and formatting, and the stub of the engine checked against the built module.
.venv/bin/python -m pip install -q "pytest>=7" "pytest-timeout>=2.1" "hypothesis>=6.100" "ruff>=0.6" "mypy>=1.11"
# Build the Rust engine and install the package in place (python/daisy + daisy._daisy).
.venv/bin/maturin develop -q ${1:-}
