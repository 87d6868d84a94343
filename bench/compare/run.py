#!/usr/bin/env python3
"""Run bench.py against daisy 1.2.3, daisy 2.0.0 and this package, side by side.

Sets up (once) two virtual environments under bench/compare/.venvs/ with
`pip install daisy==1.2.3` and `pip install daisy==2.0.0`, and uses the project's
own environment (<repo>/.venv, built by scripts/python-env.sh) for this package.
Then runs bench.py with each, alternating the implementations run by run (the
order rotates every round), and prints a Markdown table of median blocks/s and of
the ratios this package / each reference.

By default daisy 1.2.3 is measured twice: as shipped, and with TCP_NODELAY set on
its connections (the one-line fix for its ~40 ms Nagle stall per block; only the
end-to-end scenarios differ).

    python bench/compare/run.py                      # 3 rounds, 1 h budget
    python bench/compare/run.py --runs 5 --budget 7200 --raw results.jsonl
    python bench/compare/run.py --quick --runs 1     # smoke test, small sizes

A scenario slower than --timeout seconds is stopped and shown as a bound
("< N"); an implementation that timed out on a scenario is not timed on it again
in later rounds. Once the --budget (seconds) is used up, no further run starts.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENVS = os.path.join(HERE, ".venvs")
BENCH = os.path.join(HERE, "bench.py")

REFERENCES = ["1.2.3", "2.0.0"]
OURS = "ours"
NODELAY = "1.2.3+nodelay"
TITLES = {
    "1.2.3": "daisy 1.2.3",
    NODELAY: "daisy 1.2.3 + TCP_NODELAY",
    "2.0.0": "daisy 2.0.0",
    OURS: "this package",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def venv_python(path):
    return os.path.join(path, "bin", "python")


def installed_version(python):
    """The version of `daisy` the interpreter sees, or None."""
    code = "import importlib.metadata as m, daisy; daisy.Task; print(m.version('daisy'))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_reference(version):
    """A virtual environment with daisy==version; created on first use."""
    path = os.path.join(VENVS, f"daisy-{version}")
    python = venv_python(path)
    if os.path.exists(python) and installed_version(python) == version:
        return python
    log(f"setting up {path} (pip install daisy=={version}) ...")
    os.makedirs(VENVS, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", path], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", f"daisy=={version}"], check=True)
    found = installed_version(python)
    if found != version:
        raise SystemExit(f"daisy {version} did not install into {path} (found {found!r})")
    return python


def bench_args(args):
    out = ["--timeout", str(args.timeout)]
    if args.quick:
        out.append("--quick")
    else:
        out += ["--scheduler-blocks", args.scheduler_blocks, "--e2e-blocks", args.e2e_blocks]
    return out


def run_once(impl, python, args, skip):
    cmd = [python, BENCH, "--label", impl] + bench_args(args)
    scenarios = args.scenarios
    if impl == NODELAY:
        cmd.append("--patch-1x-nodelay")
        scenarios = ",".join(s for s in scenarios.split(",") if s == "e2e")
    if not scenarios:
        return []
    cmd += ["--scenarios", scenarios]
    if skip:
        cmd += ["--skip", ",".join(sorted(skip))]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE)
    records = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            records.append(json.loads(line))
    if proc.returncode != 0:
        log(f"  {impl}: bench.py exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return records


def key_of(record):
    return (record["scenario"], record["blocks"], record["conflict"])


def skip_key(key):
    scenario, blocks, conflict = key
    return f"{scenario}:{blocks}:{int(conflict)}"


# ---------------------------------------------------------------- the table


def fmt_rate(value):
    if value >= 100_000:
        return f"{value / 1000:.0f}k"
    if value >= 10_000:
        return f"{value / 1000:.1f}k"
    if value >= 1_000:
        return f"{value / 1000:.2f}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def fmt_ratio(value):
    return f"{value:.0f}×" if value >= 10 else f"{value:.1f}×"


def summarize(records):
    """(rate or bound, kind, n) where kind is 'ok', 'partial' (the scheduler scenario
    stopped at the timeout: the rate over the blocks it got through), 'upper' (all
    runs timed out: the rate is below the value) or None (nothing measured)."""
    measured = []  # (rate, kind)
    for r in records:
        if r.get("skipped"):
            continue
        if r.get("blocks_per_s") is not None:
            measured.append((r["blocks_per_s"], "partial" if r.get("timeout") else "ok"))
        elif r.get("timeout"):
            measured.append((r["blocks_per_s_max"], "upper"))
    if not measured:
        skipped = any(r.get("skipped") for r in records)
        return None, "skipped" if skipped else None, 0
    # Median, with timed-out runs ranked below every measured one.
    ranked = sorted(measured, key=lambda m: (m[1] != "upper", m[0]))
    n = len(ranked)
    rate, kind = ranked[(n - 1) // 2]
    if n % 2 == 0 and kind != "upper":
        hi_rate, hi_kind = ranked[n // 2]
        rate = statistics.mean([rate, hi_rate])
        kind = "partial" if "partial" in (kind, hi_kind) else "ok"
    return rate, kind, len(measured)


def cell(summary, timeout):
    rate, kind, n = summary
    if kind == "skipped":
        return "timeout at smaller size"
    if rate is None:
        return "-"
    if kind == "upper":
        return f"< {fmt_rate(rate)} (timeout {timeout:.0f} s)"
    if kind == "partial":
        return f"{fmt_rate(rate)} (first {timeout:.0f} s)"
    return fmt_rate(rate)


def ratio_cell(ours, ref):
    (o_rate, o_kind, _), (r_rate, r_kind, _) = ours, ref
    if o_rate is None or r_rate is None or o_kind in ("upper", "skipped") or r_kind == "skipped":
        return "-"
    ratio = o_rate / r_rate
    return ("> " if r_kind == "upper" else "") + fmt_ratio(ratio)


def table(all_records, impls, timeout):
    by = {}
    order = []
    for r in all_records:
        k = key_of(r)
        if k not in order:
            order.append(k)
        by.setdefault((r["impl"], k), []).append(r)
    order.sort(key=lambda k: (["scheduler", "e2e"].index(k[0]), k[1], k[2]))
    names = {
        "scheduler": "Scheduler acquire+release, in-process",
        "e2e": "run_blockwise, 2 worker processes, no-op blocks",
    }
    refs = [i for i in impls if i != OURS]
    head = ["scenario", "blocks", "read_write_conflict"] + [TITLES[i] for i in impls]
    if OURS in impls:
        head += [f"ours vs {TITLES[i].replace('daisy ', '')}" for i in refs]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for k in order:
        sums = {i: summarize(by.get((i, k), [])) for i in impls}
        row = [names[k[0]], f"{k[1]:,}", "yes" if k[2] else "no"]
        row += [cell(sums[i], timeout) for i in impls]
        if OURS in impls:
            row += [ratio_cell(sums[OURS], sums[i]) for i in refs]
        lines.append("| " + " | ".join(row) + " |")
    runs = {
        i: max((summarize(v)[2] for (impl, _), v in by.items() if impl == i), default=0)
        for i in impls
    }
    note = ", ".join(f"{TITLES[i]} {runs[i]}" for i in impls)
    return "\n".join(lines), note


def print_table(records, impls, timeout):
    md, note = table(records, impls, timeout)
    print()
    print(
        f"blocks/s, median of runs ({note}); {os.cpu_count()} cores, Python {platform.python_version()}, "
        f'{time.strftime("%Y-%m-%d")}; 3-D, 64³ write blocks, 8 voxels of context (80³ read), fit="valid"'
    )
    print()
    print(md)
    print()
    notes = []
    if OURS in impls:
        notes.append("\"ours vs X\": this package's median rate divided by X's.")
    if NODELAY in impls:
        notes.append(
            "daisy 1.2.3 + TCP_NODELAY: the same code with TCP_NODELAY set on its sockets "
            "(end to end only; its in-process scheduler is daisy 1.2.3's)."
        )
    notes.append(
        f'"< N (timeout {timeout:.0f} s)": stopped after {timeout:.0f} s, so slower than N; '
        f'"(first {timeout:.0f} s)": rate over the blocks done before the scenario was stopped.'
    )
    print("\n".join(notes))


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        help="rounds: runs of bench.py per implementation (default 3)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=3600,
        help="seconds; no run starts after this (default 3600)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120,
        help="seconds per scenario before it is stopped (default 120)",
    )
    parser.add_argument(
        "--impls", default=f"1.2.3,2.0.0,{OURS}", help=f"comma list of 1.2.3, 2.0.0, {OURS}"
    )
    parser.add_argument(
        "--no-1x-nodelay",
        action="store_true",
        help="do not also measure daisy 1.2.3 with TCP_NODELAY",
    )
    parser.add_argument("--scenarios", default="scheduler,e2e", help="passed to bench.py")
    parser.add_argument("--scheduler-blocks", default="1e5", help="passed to bench.py")
    parser.add_argument("--e2e-blocks", default="1e4,1e5", help="passed to bench.py")
    parser.add_argument("--quick", action="store_true", help="small sizes (passed to bench.py)")
    parser.add_argument(
        "--ours-python",
        default=os.path.join(ROOT, ".venv", "bin", "python"),
        help="interpreter with this package installed (default <repo>/.venv)",
    )
    parser.add_argument("--raw", default=None, help="also write every JSON record to this file")
    parser.add_argument(
        "--from-raw",
        default=None,
        metavar="FILE",
        help="print the table of a --raw file; run nothing",
    )
    args = parser.parse_args()

    if args.from_raw:
        with open(args.from_raw) as f:
            records = [json.loads(line) for line in f if line.strip()]
        present = {r["impl"] for r in records}
        print_table(
            records, [i for i in ["1.2.3", NODELAY, "2.0.0", OURS] if i in present], args.timeout
        )
        return 0

    wanted = [i.strip() for i in args.impls.split(",") if i.strip()]
    pythons = {}
    for impl in wanted:
        if impl in REFERENCES:
            pythons[impl] = ensure_reference(impl)
        elif impl == OURS:
            found = installed_version(args.ours_python)
            if found is None:
                log(
                    f"this package is not usable from {args.ours_python} "
                    f"(`import daisy; daisy.Task` fails): run scripts/python-env.sh --release; leaving it out"
                )
                continue
            pythons[OURS] = args.ours_python
        else:
            parser.error(f"unknown implementation {impl!r}")
    if "1.2.3" in pythons and not args.no_1x_nodelay and "e2e" in args.scenarios:
        pythons[NODELAY] = pythons["1.2.3"]
    impls = [i for i in ["1.2.3", NODELAY, "2.0.0", OURS] if i in pythons]
    if not impls:
        raise SystemExit("nothing to benchmark")

    start = time.monotonic()
    records = []
    timed_out = {i: set() for i in impls}
    last = {}
    raw = open(args.raw, "w") if args.raw else None
    stop = False
    for rnd in range(args.runs):
        rotated = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]
        for impl in rotated:
            elapsed = time.monotonic() - start
            if elapsed + last.get(impl, 0) > args.budget and rnd > 0:
                log(f"budget of {args.budget:.0f} s used up after {elapsed:.0f} s; stopping")
                stop = True
                break
            t0 = time.monotonic()
            got = run_once(impl, pythons[impl], args, timed_out[impl])
            last[impl] = time.monotonic() - t0
            for r in got:
                r["round"] = rnd
                if r.get("skipped") or (r.get("timeout") and r.get("blocks_per_s") is None):
                    timed_out[impl].add(skip_key(key_of(r)))
                if raw:
                    raw.write(json.dumps(r) + "\n")
            records += got
            log(
                f"round {rnd + 1}/{args.runs}: {TITLES[impl]:<26} {last[impl]:7.1f} s  "
                + "  ".join(
                    f"{r['scenario']}/{r['blocks']}/{'c' if r['conflict'] else 'n'}="
                    + (
                        fmt_rate(r["blocks_per_s"])
                        if r.get("blocks_per_s")
                        else "timeout"
                        if r.get("timeout")
                        else "skip"
                        if r.get("skipped")
                        else "error"
                    )
                    for r in got
                )
            )
        if stop:
            break
    if raw:
        raw.close()

    print_table(records, impls, args.timeout)
    failed = [r for r in records if r.get("ok") is False or "error" in r]
    if failed:
        print(
            f"\n{len(failed)} run(s) did not complete every block: "
            + "; ".join(
                f"{r['impl']} {r['scenario']}/{r['blocks']}/{r['conflict']}" for r in failed
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
