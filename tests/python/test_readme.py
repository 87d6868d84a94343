"""Every code block of the README (and the Python and Rust blocks of docs/arrays.md and
docs/graphs.md) is compiled or run by the test command.

- Python blocks are run here, each in a fresh interpreter in an empty directory;
- Rust blocks are doc tests of the `daisy` crate (`crates/daisy/src/lib.rs` includes the
  README), run by `cargo test --doc`: ```` ```rust ```` blocks run, ```` ```rust,no_run ````
  blocks (those that need worker programs) are compiled;
- shell blocks say what runs them (`<!-- checked: scripts/<name> -->` just above the block):
  `scripts/test-install.sh` reads the blocks marked with its name from the README and runs
  them in fresh environments; the block marked `scripts/test.sh` is the test command itself
  and the demo, whose core runs here (`test_demo_runs`);
- ```` ```text ```` blocks are not code (a directory layout, printed output).
"""

import dataclasses
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


@dataclasses.dataclass
class CodeBlock:
    """A fenced code block: its info string, text, first line and the marker above it."""

    info: str
    text: str
    line: int
    checked_by: str | None


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The fenced code blocks of a markdown text, in order."""
    blocks = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"\s*```(.*)$", lines[i])
        if not fence:
            i += 1
            continue
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker = re.match(r"<!-- checked: (\S+) -->$", lines[j].strip()) if j >= 0 else None
        end = i + 1
        while end < len(lines) and not re.match(r"\s*```\s*$", lines[end]):
            end += 1
        blocks.append(
            CodeBlock(
                info=fence.group(1).strip(),
                text="\n".join(lines[i + 1 : end]) + "\n",
                line=i + 1,
                checked_by=marker.group(1) if marker else None,
            )
        )
        i = end + 1
    return blocks


BLOCKS = code_blocks(README.read_text(encoding="utf-8"))
ARRAYS = ROOT / "docs/arrays.md"
ARRAYS_BLOCKS = code_blocks(ARRAYS.read_text(encoding="utf-8"))
GRAPHS = ROOT / "docs/graphs.md"
GRAPHS_BLOCKS = code_blocks(GRAPHS.read_text(encoding="utf-8"))
DOC_BLOCKS = ARRAYS_BLOCKS + GRAPHS_BLOCKS
KNOWN = {"python", "rust", "rust,no_run", "sh", "text"}


def test_every_block_has_a_known_kind() -> None:
    unknown = [(b.line, b.info) for b in BLOCKS if b.info not in KNOWN]
    assert not unknown, f"README blocks of unknown kind (line, info): {unknown}"
    assert {b.info for b in BLOCKS} >= {"python", "rust", "sh"}


@pytest.mark.parametrize(
    "block",
    [b for b in BLOCKS + DOC_BLOCKS if b.info == "python"],
    ids=lambda b: (
        f"{'arrays' if b in ARRAYS_BLOCKS else 'graphs' if b in GRAPHS_BLOCKS else 'readme'}"
        f"-line{b.line}"
    ),
)
def test_python_block_runs(block: CodeBlock, tmp_path: pathlib.Path) -> None:
    if "PgSQLGraphDatabase(" in block.text and os.environ.get("DAISY_TEST_POSTGRES") != "1":
        pytest.skip("needs a PostgreSQL server: DAISY_TEST_POSTGRES=1 and PG* (scripts/test.sh)")
    script = tmp_path / "readme_block.py"
    script.write_text(block.text, encoding="utf-8")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, (
        f"block at line {block.line} failed:\n{result.stdout}\n{result.stderr}"
    )
    if "run_blockwise" in block.text:
        assert "Execution Summary" in result.stdout


def test_rust_blocks_are_doc_tests() -> None:
    lib = (ROOT / "crates/daisy/src/lib.rs").read_text(encoding="utf-8")
    assert re.search(
        r'#\[cfg\(doctest\)\]\s*#\[doc = include_str!\("\.\./\.\./\.\./README\.md"\)\]', lib
    ), "crates/daisy/src/lib.rs must include the README as doc tests"
    assert re.search(r'#\[doc = include_str!\("\.\./\.\./\.\./docs/arrays\.md"\)\]', lib)
    test_sh = (ROOT / "scripts/test.sh").read_text(encoding="utf-8")
    assert "cargo test --doc" in test_sh
    for block in BLOCKS + DOC_BLOCKS:
        if block.info.startswith("rust"):
            # Complete programs: hidden `# ` lines would not show on GitHub.
            assert "fn main()" in block.text, f"Rust block at line {block.line}"
            assert not re.search(r"^\s*# ", block.text, re.M), f"line {block.line}"


def test_shell_blocks_say_which_script_runs_them() -> None:
    for block in BLOCKS:
        if block.info != "sh":
            continue
        assert block.checked_by, f"README shell block at line {block.line} has no checker"
        script = (ROOT / block.checked_by).read_text(encoding="utf-8")
        if block.checked_by == "scripts/test-install.sh":
            assert "<!-- checked: scripts/test-install.sh -->" in script
            assert "README.md" in script
        else:
            # The first screen: the test command itself, and the demo, whose core is
            # `test_demo_runs` (the demo script adds a release build, minutes on a fresh clone).
            assert block.checked_by == "scripts/test.sh", block.checked_by
            commands = {line.split("#", 1)[0].strip() for line in block.text.splitlines()}
            assert commands - {""} == {"./scripts/test.sh", "./scripts/demo.sh"}, commands


def test_demo_runs(tmp_path: pathlib.Path) -> None:
    """`./scripts/demo.sh` is `scripts/python-env.sh --release` (run by the test command in
    debug mode) followed by `examples/smooth_zarr.py`, run here as the demo runs it, except
    that `import zarr` fails: the demo needs only daisy's own arrays."""
    demo = (ROOT / "scripts/demo.sh").read_text(encoding="utf-8")
    assert "scripts/python-env.sh" in demo
    assert 'exec .venv/bin/python examples/smooth_zarr.py "$@"' in demo
    script = str(ROOT / "examples/smooth_zarr.py")
    without_zarr = (
        "import runpy, sys; sys.modules['zarr'] = None; sys.argv = [sys.argv[1]]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", without_zarr, script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "Zarr v3 in" in result.stdout
    assert "Execution Summary" in result.stdout
    assert "OK: block-wise result equals the whole-volume one on 240³ voxels" in result.stdout
    # 256³ in 64³ chunks, write blocks of 64³ (48 at the far end) from 8: 4 blocks per axis,
    # whose read ROIs overlap 2, 2, 2 and 1 chunks along it. Every one of those 7³ chunk
    # reads was decoded or found in the reading worker's cache, and each of the 4³ chunks
    # decoded at least once.
    counts = re.search(
        r"chunks decoded per block ([0-9.]+) \(cache hits per block ([0-9.]+)\), "
        r"(\d+) blocks in (\d+) worker processes",
        result.stdout,
    )
    assert counts, result.stdout
    decoded, hits = float(counts[1]), float(counts[2])
    blocks, processes = int(counts[3]), int(counts[4])
    assert blocks == 4**3 and processes in (1, 2), counts[0]
    assert abs((decoded + hits) * blocks - 7**3) < 0.01 * blocks, counts[0]
    assert 4**3 <= decoded * blocks + 0.005 * blocks, counts[0]
    assert decoded <= 8, counts[0]


def test_install_blocks_are_marked() -> None:
    marked = [b for b in BLOCKS if b.checked_by == "scripts/test-install.sh"]
    assert len(marked) >= 2
    assert any("pip install ." in b.text for b in marked)
    assert any("maturin build --release" in b.text for b in marked)
    version = re.search(
        r'^version = "(.*)"$', (ROOT / "crates/py/Cargo.toml").read_text(encoding="utf-8"), re.M
    )
    assert version, "crates/py/Cargo.toml has no version"
    # The version the install commands name is the one they install.
    text = "".join(b.text for b in marked)
    named = [a or b for a, b in re.findall(r"daisy-([0-9][^-]*)-cp310-abi3|daisy==([0-9.]+)", text)]
    assert named and set(named) == {version.group(1)}
