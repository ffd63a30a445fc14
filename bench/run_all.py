"""Run every benchmark and write their figures to bench/RESULTS.md, with the command and the
machine. Each benchmark runs in its own process; its output is kept verbatim.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--quick]

`soak` (2 h 20 min) runs only when named.

Benchmarks that read ../shared/data need it next to the repository.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    # name: (what, full args, quick args)
    "import": ("Import (1M posts, 100 monitors) vs sqlite-utils, and search latency (issue 2)",
               ["bench/bench_import.py", "--posts", "1000000"],
               ["bench/bench_import.py", "--posts", "100000"]),
    "pgsearch": ("Search latency on the PostgreSQL store, 1M posts (issue 2)",
                 ["bench/bench_pg_search.py", "--posts", "1000000"],
                 ["bench/bench_pg_search.py", "--posts", "100000"]),
    "matcher": ("Stream matcher with 1,000 monitors (issue 2)", ["bench/bench_matcher.py"],
                ["bench/bench_matcher.py"]),
    "enrich": ("Full enrichment vs a per-post VADER + langdetect peer (issue 3)",
               ["bench/bench_enrich.py"], ["bench/bench_enrich.py"]),
    "listen": ("Jetstream replay through listen → match → enrich → store (issue 4)",
               ["bench/bench_listen.py"], ["bench/bench_listen.py"]),
    "pagerank": ("Influence graph rank on 10M interactions vs networkx (issue 5)",
                 ["bench/bench_pagerank.py"], ["bench/bench_pagerank.py"]),
    "web": ("Dashboard and API under load, 50 concurrent users (issue 6)",
            ["bench/bench_web.py"], ["bench/bench_web.py"]),
    "soak": ("perron listen against the replayed firehose for 2 h 20 min: memory (issue 4)",
             ["bench/bench_listen.py", "--soak", "8400", "--every", "600"],
             ["bench/bench_listen.py", "--soak", "120", "--every", "30"]),
}
LONG = {"soak"}  # run only when named: `bench/run_all.py --only soak`


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def read_sections(results: Path) -> dict[str, str]:
    """The sections of RESULTS.md by bench name (kept for the benches not re-run)."""
    sections: dict[str, str] = {}
    if results.exists():
        current = None
        for line in results.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith("## "):
                current = line[3:].split(" ", 1)[0].strip()
                sections[current] = ""
            if current:
                sections[current] += line
    return sections


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*", choices=sorted(BENCHES))
    ap.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    args = ap.parse_args()
    names = args.only or [name for name in BENCHES if name not in LONG]
    results = ROOT / "bench" / "RESULTS.md"
    fresh: dict[str, str] = {}
    for name in names:
        what, full, quick = BENCHES[name]
        cmd = quick if args.quick else full
        if not (ROOT / cmd[0]).exists():
            continue
        t0 = time.perf_counter()
        proc = subprocess.run([PY, *cmd], cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - t0
        out = (proc.stdout + ("\n" + proc.stderr if proc.returncode else "")).strip()
        fresh[name] = (
            f"## {name} — {what}\n\n"
            f"- command: `.venv/bin/python {' '.join(cmd)}` (exit {proc.returncode}, "
            f"{took:.0f} s)\n- machine: {machine()}\n"
            f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n\n"
            f"```text\n{out[-6000:]}\n```\n\n")
        print(f"{name}: exit {proc.returncode} in {took:.0f} s", flush=True)
    sections = read_sections(results)  # now, not at the start: another run may have written
    sections.update(fresh)
    head = ("# Benchmark results\n\nWritten by `make bench` (`bench/run_all.py`). Ratios are "
            "against a peer run side by side in the same run: these machines are shared and "
            "noisy, so compare ratios, not absolute figures across runs.\n\n")
    results.write_text(head + "".join(sections[k] for k in BENCHES if k in sections),
                       encoding="utf-8")


if __name__ == "__main__":
    main()
