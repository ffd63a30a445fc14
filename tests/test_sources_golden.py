"""Every importer against committed payloads, with golden normalized outputs.

Layout: ``tests/fixtures/sources/<format>/<file>`` is read with ``<format>`` and its normalized
output is compared with ``tests/golden/sources/<format>/<file>.json``. Files whose name starts
with ``broken`` are expected to quarantine at least one record; every other fixture must also be
auto-detected as its format. ``PERRON_UPDATE_GOLDEN=1 pytest`` rewrites the golden files (review
the diff before committing).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from perron.errors import NormalizeError
from perron.plugins import formats
from perron.sources.base import Malformed, Options
from perron.sources.detect import detect_format, open_input

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures" / "sources"
GOLDEN = HERE / "golden" / "sources"

CASES = sorted(
    (fmt_dir.name, f) for fmt_dir in FIXTURES.iterdir() if fmt_dir.is_dir()
    for f in sorted(fmt_dir.iterdir()) if f.is_file() and not f.name.endswith((".md", ".map"))
)


def _options(path: Path) -> Options:
    mapping_file = path.with_name(path.name + ".map")
    if mapping_file.exists():
        pairs = mapping_file.read_text().strip()
        return Options(mapping=dict(p.split("=", 1) for p in pairs.split(",")))
    return Options()


def run_format(fmt_name: str, path: Path) -> dict:
    fmt = formats()[fmt_name]
    options = _options(path)
    batches, quarantined = [], []
    with open_input(path) as fp:
        for rec in fmt.records(fp, path.name, options):
            if isinstance(rec, Malformed):
                quarantined.append({"location": rec.location, "reason": rec.reason})
                continue
            before = bytes(rec.raw)
            try:
                batch = fmt.normalize(rec.raw, options)
            except NormalizeError as exc:
                quarantined.append({"location": rec.location, "reason": exc.message})
                continue
            assert rec.raw == before, "normalize() must not mutate its input"
            for p in batch.posts:
                assert p.raw is not None, f"{p.id} keeps no raw payload"
                assert p.created_at is None or p.created_at.utcoffset().total_seconds() == 0
                p.raw = None
            batches.append({"location": rec.location, **json.loads(msgspec.json.encode(batch))})
    return {"batches": batches, "quarantined": quarantined}


@pytest.mark.parametrize(("fmt_name", "path"), CASES, ids=[f"{a}/{b.name}" for a, b in CASES])
def test_golden(fmt_name: str, path: Path) -> None:
    got = run_format(fmt_name, path)
    golden = GOLDEN / fmt_name / (path.name + ".json")
    if os.environ.get("PERRON_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    assert golden.exists(), f"no golden file {golden}: run with PERRON_UPDATE_GOLDEN=1 and review it"
    assert got == json.loads(golden.read_text())
    if path.name.startswith("broken"):
        assert got["quarantined"], "a broken fixture must quarantine something"
    else:
        assert got["batches"], "fixture produced nothing"


@pytest.mark.parametrize(("fmt_name", "path"),
                         [c for c in CASES if not c[1].name.startswith(("broken", "mapped"))],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_detected(fmt_name: str, path: Path) -> None:
    assert detect_format(path).name == fmt_name
