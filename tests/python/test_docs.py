"""The project's docs can be opened from a clone: every cited section exists, nothing cites a
document outside the repository."""

import pathlib
import re
import subprocess
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _git_grep(*args: str) -> list[str]:
    """Lines `path:text` of tracked (and untracked, not ignored) files matching."""
    result = subprocess.run(
        ["git", "grep", "-I", "--untracked", "-n", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        pytest.fail(f"git grep failed: {result.stderr}")
    return result.stdout.splitlines()


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a markdown text."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if in_code or not match:
            continue
        text = re.sub(r"`([^`]*)`", r"\1", match.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_anchor_rule_matches_github() -> None:
    anchors = github_anchors(
        "## Differences from daisy 1.x and 2.0\n## Workers and DAISY_CONTEXT\n"
        "## run_blockwise\n```text\n## not a heading\n```\n## Tiling\n## Tiling\n"
    )
    assert anchors == {
        "differences-from-daisy-1x-and-20",
        "workers-and-daisy_context",
        "run_blockwise",
        "tiling",
        "tiling-1",
    }


def _cited_anchors(doc: str) -> dict[str, list[str]]:
    """Anchor -> places citing `docs/<doc>#anchor` (and `, #more` anchors after it)."""
    cited: dict[str, list[str]] = {}
    for line in _git_grep("-E", rf"{re.escape(doc)}#"):
        path, _, text = line.partition(":")
        for match in re.finditer(rf"{re.escape(doc)}((?:#[\w-]+(?:,\s*)?)+)", text):
            for anchor in re.findall(r"#([\w-]+)", match.group(1)):
                cited.setdefault(anchor, []).append(path)
    return cited


@pytest.mark.parametrize(
    "doc", ["semantics.md", "guide.md", "protocol.md", "performance.md", "arrays.md"]
)
def test_every_cited_section_exists(doc: str) -> None:
    anchors = github_anchors((DOCS / doc).read_text(encoding="utf-8"))
    cited = _cited_anchors(doc)
    missing = {a: sorted(set(p)) for a, p in cited.items() if a not in anchors}
    assert not missing, f"docs/{doc} has no heading for: {missing}"


def test_semantics_has_the_sections_the_code_cites() -> None:
    cited = _cited_anchors("semantics.md")
    # The code cites most sections; a rename of the doc must not go unnoticed.
    assert {"scheduling", "tiling", "fit-modes", "worker-restarts", "resume"} <= cited.keys()


def test_nothing_cites_documents_outside_the_repository() -> None:
    pattern = r"behaviour\.md|design\.md|\.\./shared|/work/shared"
    this_file = pathlib.Path(__file__).relative_to(ROOT).as_posix()
    hits = [line for line in _git_grep("-E", pattern) if not line.startswith(this_file + ":")]
    assert not hits, "cites a document outside the repository:\n" + "\n".join(hits)


def test_relative_links_of_the_docs_resolve() -> None:
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            if target.startswith("#"):
                assert target[1:] in github_anchors(text), f"{page.name} links to missing {target}"
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve()
            assert resolved.exists(), f"{page.name} links to missing {target}"
            if anchor and resolved.suffix == ".md":
                anchors = github_anchors(resolved.read_text(encoding="utf-8"))
                assert anchor in anchors, f"{page.name} links to missing section {target}"


def test_python_examples_of_the_docs_compile() -> None:
    """The docs' Python examples are at least valid Python (the README's are run, the Rust
    examples of the README and the guide are doc tests of the `daisy` crate)."""
    for page in DOCS.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"^( *)```python\n(.*?)^\1```", text, re.S | re.M):
            code = textwrap.dedent(match.group(2))
            line = text[: match.start()].count("\n") + 1
            compile(code, f"{page.name}:{line}", "exec")
