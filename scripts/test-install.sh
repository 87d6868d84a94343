#!/usr/bin/env bash
# Installs the package as a user would, into fresh virtual environments, and checks that pip
# keeps it (docs/guide.md#install):
#
# 1. runs the README's install commands (the ```sh blocks marked
#    `<!-- checked: scripts/test-install.sh -->`), each block in its own new virtual
#    environment: `pip install .` from this clone, and `maturin build --release` of the abi3
#    wheel followed by `pip install` of that wheel;
# 2. in each environment: the installed distribution is this one (`daisy._daisy` is the
#    engine, the version is that of crates/py/Cargo.toml), daisy 1.2.3's dependencies are
#    there (`funlib.math` included) and a small run_blockwise succeeds outside the clone;
# 3. installs a throwaway package that requires `daisy>=1.2.2,<2` (as volara does), then
#    upgrades it with `pip install -U --upgrade-strategy eager`, and checks after each step
#    that pip neither replaced nor downgraded the engine with PyPI's daisy.
#
# Needs PyPI (or a pip cache) for maturin and the dependencies. The Rust builds are the
# README's release builds in the clone's target directory: about 50 s in all when the engine is
# built already, plus one release build (fat LTO, 1-2 min on 2 cores) after changes to it.
# Usage: scripts/test-install.sh [--keep]   (--keep leaves the temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
keep=${1:-}

python=${PYTHON:-python3}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' crates/py/Cargo.toml | head -n1)
[ -n "$version" ] || { echo "test-install: no version in crates/py/Cargo.toml" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/daisy-install.XXXXXX")
if [ "$keep" != "--keep" ]; then
  trap 'rm -rf "$tmp"' EXIT
else
  echo "test-install: keeping $tmp"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
start=$SECONDS

# The README's install blocks, one file each.
"$python" - "$repo/README.md" "$tmp" <<'EOF'
import pathlib, re, sys
readme, out = pathlib.Path(sys.argv[1]).read_text(), pathlib.Path(sys.argv[2])
marker = "<!-- checked: scripts/test-install.sh -->"
blocks = re.findall(re.escape(marker) + r"\s*```sh\n(.*?)```", readme, re.S)
if len(blocks) < 2:
    sys.exit(f"test-install: expected at least 2 README blocks marked {marker!r}, found {len(blocks)}")
for i, block in enumerate(blocks):
    (out / f"readme_{i}.sh").write_text(block)
EOF

# A package that requires daisy 1.x, as a hand-made wheel (no build backend to fetch).
mkdir -p "$tmp/wheels"
"$python" - "$tmp/wheels" <<'EOF'
import base64, hashlib, pathlib, sys, zipfile
name, ver = "needs_daisy_1x", "0.1"
files = {
    f"{name}/__init__.py": "import daisy\n",
    f"{name}-{ver}.dist-info/METADATA": (
        f"Metadata-Version: 2.1\nName: needs-daisy-1x\nVersion: {ver}\n"
        "Requires-Dist: daisy>=1.2.2,<2\n"
    ),
    f"{name}-{ver}.dist-info/WHEEL": (
        "Wheel-Version: 1.0\nGenerator: test-install\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ),
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{name}-{ver}.dist-info/RECORD,,")
files[f"{name}-{ver}.dist-info/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(pathlib.Path(sys.argv[1]) / f"{name}-{ver}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        z.writestr(path, text)
EOF

# Checks, run by an environment's python outside the clone.
cat >"$tmp/check.py" <<'EOF'
import importlib.metadata, sys, tempfile, os
expected = sys.argv[1]
import daisy, daisy._daisy, funlib.math, funlib.geometry, numpy, tqdm, dill, tornado
assert importlib.metadata.version("daisy") == expected, importlib.metadata.version("daisy")
assert daisy._daisy.__version__ == expected, daisy._daisy.__version__
assert daisy.__version__ == expected, daisy.__version__
assert "site-packages" in daisy.__file__, f"daisy imported from {daisy.__file__}"
# The typing marker and the engine's stub ship; daisy 1.x's names load the stand-ins.
for name in ("py.typed", "_daisy.pyi", "legacy/tcp/tcp_server.py"):
    assert os.path.isfile(os.path.join(os.path.dirname(daisy.__file__), name)), f"{name} not installed"
import daisy.tcp.tcp_server
assert daisy.tcp.tcp_server.TCPServer.__module__ == "daisy.tcp.tcp_server"
os.chdir(tempfile.mkdtemp())
seen = []
task = daisy.Task(
    "install_check",
    total_roi=daisy.Roi((0,), (40,)),
    read_roi=daisy.Roi((0,), (10,)),
    write_roi=daisy.Roi((0,), (10,)),
    process_function=lambda block: None,
    num_workers=2,
)
assert daisy.run_blockwise([task], progress=False) is True
print(f"  daisy {expected} from {os.path.dirname(daisy.__file__)}: engine and run OK")
EOF

# One path for every environment, reused by every run: maturin tells cargo which interpreter it
# builds for, and a new path each time would rebuild the engine's PyO3 layer each time.
env_dir="$repo/target/test-install/venv"
for script in "$tmp"/readme_*.sh; do
  echo "test-install: README block $(basename "$script") in a new environment"
  rm -rf "$env_dir"
  "$python" -m venv "$env_dir"
  block_start=$SECONDS
  (
    # shellcheck disable=SC1091
    source "$env_dir/bin/activate"
    set -x
    # shellcheck disable=SC1090
    source "$script"
  ) >"$tmp/$(basename "$script" .sh).log" 2>&1 || { cat "$tmp/$(basename "$script" .sh).log" >&2; echo "test-install: $(basename "$script") failed" >&2; exit 1; }
  echo "  ran in $((SECONDS - block_start)) s"
  "$env_dir/bin/python" "$tmp/check.py" "$version"

  # A package requiring daisy>=1.2.2,<2 must leave this daisy in place, also when upgraded.
  # First from the local wheel only, then upgraded with PyPI in view (its daisy 1.2.3 and 2.0.0).
  pip=("$env_dir/bin/python" -m pip install -q --find-links "$tmp/wheels")
  "${pip[@]}" --no-index needs-daisy-1x
  "$env_dir/bin/python" "$tmp/check.py" "$version" >/dev/null
  "${pip[@]}" -U --upgrade-strategy eager needs-daisy-1x
  "$env_dir/bin/python" "$tmp/check.py" "$version" >/dev/null
  "$env_dir/bin/python" -c "import needs_daisy_1x"
  echo "  needs-daisy-1x (daisy>=1.2.2,<2) installed and upgraded: daisy $version kept"
done
rm -rf "$env_dir"
echo "test-install: OK in $((SECONDS - start)) s"
