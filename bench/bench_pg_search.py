"""Search latency on the PostgreSQL store (issue 2's search goal, on the server store).

    .venv/bin/python bench/bench_pg_search.py [--posts 1000000]

Starts a throw-away PostgreSQL server on 127.0.0.1 (perron.testing.pgserver), imports the same
resampled real tweets as bench_import.py with ``perron import``, then runs the same 20 monitor
queries as bench_import.py (``search_latency``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_import import OUT, VENV_BIN, build_corpus, search_latency  # noqa: E402

from perron.store import open_store  # noqa: E402
from perron.testing.pgserver import TempPostgres  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1_000_000)
    n = ap.parse_args().posts
    pages, _ = build_corpus(n)
    with TempPostgres() as url:
        t0 = time.perf_counter()
        subprocess.run([str(VENV_BIN / "perron"), "import", "--no-progress", "--db", url,
                        str(pages)], check=True, stdout=subprocess.DEVNULL)
        import_s = time.perf_counter() - t0
        with open_store(url) as store:
            res = {"posts": n, "import_seconds": round(import_s, 1), **search_latency(store)}
    print(json.dumps(res, indent=1))
    (OUT / "pg_search.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
