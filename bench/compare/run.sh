#!/usr/bin/env bash
# Side-by-side benchmark: daisy 1.2.3, daisy 2.0.0 and this package (see run.py --help).
# Prints a Markdown table of median blocks/s and ratios. Usage: bench/compare/run.sh [run.py options]
set -euo pipefail
exec python3 "$(dirname "$0")/run.py" "$@"
