#!/usr/bin/env bash
# Runs every check and test of the project, doing any set-up a fresh machine needs.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked

# A throw-away PostgreSQL server for the graph store's tests (under a second to start; stopped
# and removed on exit). DAISY_TEST_POSTGRES=1 makes its tests run (without it they skip).
export DAISY_PG_STATE=${DAISY_PG_STATE:-$(mktemp -u /tmp/daisy-postgres-test.XXXXXX.state)}
# And a throw-away MongoDB-wire-compatible server (SecantusDB, installed into .cache/ on first
# use: about 20 s; then about 3 s to start). DAISY_TEST_MONGODB=1 makes its tests run.
export DAISY_MONGODB_STATE=${DAISY_MONGODB_STATE:-$(mktemp -u /tmp/daisy-mongodb-test.XXXXXX.state)}
# And a throw-away SLURM cluster of 3 simulated nodes (Debian's packages, installed on first
# use: about 10 s; then about 1 s to start; root only, as slurmd starts jobs as their users).
# DAISY_TEST_SLURM=1 makes its tests run.
export DAISY_SLURM_DIR=${DAISY_SLURM_DIR:-$(mktemp -u /tmp/daisy-slurm-test.XXXXXX)}
trap './scripts/postgres-local.sh stop; ./scripts/mongodb-local.sh stop; ./scripts/slurm-local.sh stop' EXIT
eval "$(./scripts/postgres-local.sh start)"
export DAISY_TEST_POSTGRES=1
eval "$(./scripts/mongodb-local.sh start)"
export DAISY_TEST_MONGODB=1
if [[ $(id -u) -eq 0 ]]; then
    eval "$(./scripts/slurm-local.sh start)"
    export DAISY_TEST_SLURM=1
else
    echo "test.sh: not root, so no SLURM cluster: the SLURM tests skip" >&2
fi

# Rust: formatting, lints, unit/integration/property tests, doc tests.
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
cargo nextest run --workspace --all-features
cargo test --doc --workspace --all-features

# Python: lints and formatting (configured in pyproject.toml's [tool.ruff]).
./scripts/python-env.sh
python_code=(python tests/python bench examples)
.venv/bin/ruff check "${python_code[@]}"
.venv/bin/ruff format --check "${python_code[@]}"
# Types of the package (pyproject.toml's [tool.mypy]), and the engine's stub
# (python/daisy/_daisy.pyi) against the module just built: names and signatures.
.venv/bin/python -m mypy
.venv/bin/python -m mypy.stubtest daisy._daisy --allowlist scripts/stubtest-allowlist.txt
# The drop-in package's tests (tests/python; per-test timeouts in [tool.pytest.ini_options]).
.venv/bin/python -m pytest -q
# Installing as users do: the README's install commands in fresh environments, pip keeping the package.
./scripts/test-install.sh
