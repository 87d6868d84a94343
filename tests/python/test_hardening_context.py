"""DAISY_CONTEXT carries any value (docs/semantics.md#workers-and-daisy_context), and daisy 1.x's
own parser reads what this package writes for every value 1.x can represent.

daisy 1.2.3's ``context.py`` (and the ``logging.py`` it imports; both need only the standard
library) come from its wheel on PyPI, downloaded once into ``target/daisy-1.2.3/`` and run in a
subprocess, so the test needs neither daisy 1.x's dependencies nor its installation.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from helpers import line

import daisy
from daisy import _daisy
from daisy.context import Context

DAISY1_VERSION = "1.2.3"
DAISY1_DIR = Path(__file__).resolve().parents[2] / "target" / f"daisy-{DAISY1_VERSION}"

# Runs daisy 1.x's Context in a fresh interpreter. stdin: a JSON list of requests, each
# {"parse": text} (Context.from_env with DAISY_CONTEXT=text) or {"write": items} (items set
# with ctx[k] = v on a new Context, then to_env()).
DAISY1_RUNNER = """
import importlib, json, os, sys, types

package = types.ModuleType("daisy1")
package.__path__ = [sys.argv[1]]
sys.modules["daisy1"] = package
Context = importlib.import_module("daisy1.context").Context
answers = []
for request in json.load(sys.stdin):
    try:
        if "parse" in request:
            os.environ[Context.ENV_VARIABLE] = request["parse"]
            ctx = Context.from_env()
            answers.append({"items": [[k, str(v)] for k, v in ctx._Context__dict.items()]})
        else:
            ctx = Context()
            for k, v in request["write"]:
                ctx[k] = v
            answers.append({"text": ctx.to_env()})
    except Exception as e:
        answers.append({"error": type(e).__name__})
json.dump(answers, sys.stdout)
"""


@pytest.fixture(scope="module")
def daisy1():
    """Answers requests with daisy 1.2.3's own Context (see DAISY1_RUNNER)."""
    package = DAISY1_DIR / "daisy"
    if not (package / "context.py").exists():
        with tempfile.TemporaryDirectory() as download:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    f"daisy=={DAISY1_VERSION}",
                    "-d",
                    download,
                ],
                check=True,
                timeout=300,
            )
            (wheel,) = Path(download).glob("daisy-*.whl")
            DAISY1_DIR.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=DAISY1_DIR))
            with zipfile.ZipFile(wheel) as archive:
                for name in ("context.py", "logging.py"):
                    (staging / name).write_bytes(archive.read(f"daisy/{name}"))
            os.replace(staging, package)  # whole, or not at all

    def ask(requests):
        done = subprocess.run(
            [sys.executable, "-c", DAISY1_RUNNER, str(package)],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return json.loads(done.stdout)

    return ask


def ours(items):
    """This package's DAISY_CONTEXT text of items (daisy.Context starts with logdir)."""
    ctx = Context()
    for k, v in items:
        ctx._items[k] = v
    return ctx.to_env()


def random_daisy1_items(rng, alphabet):
    """A context's items whose keys and values daisy 1.x can represent, logdir first."""

    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 10)))

    items = {"logdir": text()}
    for _ in range(rng.randrange(0, 6)):
        items[text()] = text()
    return list(items.items())


# Everything 1.x can carry: not ':' or '=' (nor NUL, which no environment variable holds).
DAISY1_ALPHABET = "ab09_-./ %#\\\"'\t,;é日😀" + "%3A%3D%25"
TYPICAL = [
    [
        ("logdir", "daisy_logs"),
        ("hostname", "10.1.2.3"),
        ("port", "43125"),
        ("task_id", "A"),
        ("worker_id", "3"),
        ("token", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        ("prefetch", "32"),
    ],
    [("logdir", "None"), ("hostname", "node-7.cluster"), ("port", "1"), ("task_id", "")],
    [("logdir", "/data/my logs/100%"), ("raw", "50%3A"), ("", ""), ("x", "données/日本語")],
    [
        ("logdir", "daisy_logs"),
        ("hostname", "h"),
        ("tls_sha256", "ab" * 32),
    ],
]


def test_daisy1_reads_what_we_write_for_values_it_can_represent(daisy1):
    rng = random.Random(8)
    contexts = TYPICAL + [random_daisy1_items(rng, DAISY1_ALPHABET) for _ in range(300)]
    texts = [ours(items) for items in contexts]
    for answer, items in zip(daisy1([{"parse": t} for t in texts]), contexts, strict=True):
        assert answer == {"items": [list(i) for i in items]}


def test_we_write_what_daisy1_writes_and_read_what_it_writes(daisy1):
    rng = random.Random(7)
    contexts = TYPICAL + [random_daisy1_items(rng, DAISY1_ALPHABET) for _ in range(300)]
    answers = daisy1([{"write": items} for items in contexts])
    for answer, items in zip(answers, contexts, strict=True):
        assert answer == {"text": ours(items)}  # byte for byte
        assert _daisy.parse_context(answer["text"]) == items


UNREPRESENTABLE_IN_DAISY1 = [
    ("hostname", "::1"),
    ("hostname", "fe80::1%eth0"),
    ("logdir", "C:\\data\\run=3"),
    ("logdir", "/scratch/a:b/c=d"),
    ("k:ey", "v"),
    ("k=ey", "v"),
    ("unicode", "ü:日本=語"),
    ("percent", "100%:3A"),
]


@pytest.mark.parametrize("key, value", UNREPRESENTABLE_IN_DAISY1)
def test_context_carries_values_daisy1_cannot(monkeypatch, key, value):
    ctx = Context(hostname="h", port=1234)
    ctx._items[key] = value
    ctx._items["empty"] = ""
    text = ctx.to_env()
    assert "==" in text
    monkeypatch.setenv(Context.ENV_VARIABLE, text)
    back = Context.from_env()
    assert back[key] == value
    assert back["empty"] == ""
    assert list(back.items()) == [(k, str(v)) for k, v in ctx.items()]


def test_daisy1_refuses_what_it_cannot_represent_instead_of_misreading_it(daisy1):
    texts = [ours([("logdir", "x"), item]) for item in UNREPRESENTABLE_IN_DAISY1]
    assert daisy1([{"parse": t} for t in texts]) == [{"error": "ValueError"}] * len(texts)


def test_bad_escapes_are_context_errors(monkeypatch):
    for text, message in [
        ("logdir=x:hostname==%3", "DAISY_CONTEXT item 2 'hostname==%3' has a bad escape"),
        ("logdir=x:k===v", "DAISY_CONTEXT item 2 'k===v' is not of the form key=value"),
    ]:
        monkeypatch.setenv(Context.ENV_VARIABLE, text)
        with pytest.raises(daisy.errors.ContextError, match=message):
            Context.from_env()


def test_workers_of_a_log_directory_with_colon_and_equals(in_tmp_dir):
    logdir = in_tmp_dir / "run:1=a"
    daisy.logging.set_log_basedir(logdir)
    seen = in_tmp_dir / "seen"

    def process(block):
        seen.joinpath(str(block.block_id[1])).write_text(Context.from_env()["logdir"])

    seen.mkdir()
    assert daisy.run_blockwise([line(4, process, task_id="t", num_workers=2)])
    assert sorted(p.name for p in seen.iterdir()) == ["0", "1", "2", "3"]
    assert {p.read_text() for p in seen.iterdir()} == {str(logdir)}
    assert sorted(p.name for p in (logdir / "t").glob("worker_*.out"))


def worker_contexts(tmp_path, server):
    """Runs a 4-block task on `server`; the DAISY_CONTEXT items each block's worker saw."""
    seen = tmp_path / "seen"
    seen.mkdir()

    def process(block):
        items = dict(Context.from_env().items())
        seen.joinpath(str(block.block_id[1])).write_text(json.dumps(items))

    states = server.run_blockwise([line(4, process, task_id="t", num_workers=2)])
    assert states["t"].completed_count == 4
    return [json.loads(p.read_text()) for p in sorted(seen.iterdir())]


def test_a_run_advertising_an_ipv6_address_is_encrypted(in_tmp_dir):
    # An IPv6 host cannot be written in daisy 1.x's format; the server listens on all
    # interfaces for it, so TLS is on by default.
    contexts = worker_contexts(in_tmp_dir, daisy.Server(host="::1"))
    assert {c["hostname"] for c in contexts} == {"::1"}
    fingerprints = {c.get("tls_sha256") for c in contexts}
    assert len(fingerprints) == 1 and len(fingerprints.pop() or "") == 64


@pytest.mark.parametrize(
    "host, tls, encrypted", [(None, None, False), (None, True, True), ("::1", False, False)]
)
def test_tls_follows_the_address_unless_forced(in_tmp_dir, host, tls, encrypted):
    contexts = worker_contexts(in_tmp_dir, daisy.Server(host=host, tls=tls))
    assert {("tls_sha256" in c) for c in contexts} == {encrypted}
