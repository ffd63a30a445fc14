"""The one entry point that the CLI, the web app and workers call to move posts into the store.

sources → normalize → (enrich) → store. Each file is read as a stream of raw records; each record
is normalized on its own, so one bad record is quarantined (with its location, reason and raw
bytes) and the import goes on. Records are written in batches, each batch in one transaction, and
every write is idempotent, so an import killed at any point and run again ends with exactly the
same store as an uninterrupted one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import NormalizeError, SourceError
from .models import Batch
from .plugins import formats
from .sources.base import Format, Malformed, Options
from .sources.detect import detect_format, open_input
from .store.base import Store, WriteCounts

BATCH_RECORDS = 500
BATCH_POSTS = 5000

Progress = Callable[[str, int, int], None]  # (file, records read, posts imported so far)


@dataclass
class ImportSummary:
    file: str
    format: str
    records: int = 0
    imported: int = 0
    present: int = 0
    quarantined: int = 0
    deleted: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def resolve_format(name: str | None, path: Path) -> Format:
    known = formats()
    if name is None or name == "auto":
        return detect_format(path, known)
    if name not in known:
        raise SourceError(f"unknown format {name!r}",
                          hint="known formats: " + ", ".join(sorted(known)))
    return known[name]


def detect_missing_languages(batches: Sequence[Batch]) -> dict[str, str]:
    """Detected language for posts whose platform declared none (so ``lang:`` works for all)."""
    from .enrich.language import detect
    from .store.base import primary_lang

    todo = {p.id: p.text if not p.title else f"{p.title}\n{p.text}"
            for b in batches for p in b.posts if not primary_lang(p.lang) and p.text.strip()}
    if not todo:
        return {}
    found = detect(list(todo.values()))
    return {pid: code for pid, (code, _) in zip(todo, found, strict=True) if code != "und"}


def normalize_record(fmt: Format, raw: bytes, options: Options) -> Batch:
    """Normalize one raw record; any failure becomes a NormalizeError with a readable reason."""
    try:
        return fmt.normalize(raw, options)
    except NormalizeError:
        raise
    except Exception as exc:  # a bug in a normalizer must not stop the import
        raise NormalizeError(f"cannot normalize this record ({type(exc).__name__}: {exc})",
                             hint="report it with the raw record (`perron quarantine show ID`)"
                             ) from exc


def import_file(store: Store, path: Path, fmt_name: str | None = None,
                options: Options | None = None, progress: Progress | None = None) -> ImportSummary:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"no such file: {path}", hint="check the path")
    fmt = resolve_format(fmt_name, path)
    options = options or Options()
    key = str(path.resolve())
    summary = ImportSummary(file=str(path), format=fmt.name)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    matcher = store.matcher()
    pending_q = {e.location for e in store.quarantine_list() if e.file == key}
    batches: list[Batch] = []
    bad: list[tuple[str, str, str, str, bytes]] = []
    healed: list[str] = []
    n_posts = 0

    def flush() -> None:
        nonlocal batches, bad, healed, n_posts
        counts: WriteCounts = store.write(batches, matcher, detect_missing_languages(batches))
        summary.imported += counts.imported
        summary.present += counts.present
        summary.deleted += counts.deleted
        store.quarantine(bad)
        store.quarantine_resolve(key, healed)
        summary.quarantined += len(bad)
        batches, bad, healed, n_posts = [], [], [], 0
        if progress:
            progress(str(path), summary.records, summary.imported)

    with open_input(path) as fp:
        for rec in fmt.records(fp, path.name, options):
            summary.records += 1
            if isinstance(rec, Malformed):
                bad.append((key, rec.location, fmt.name, rec.reason, rec.raw))
            else:
                try:
                    batch = normalize_record(fmt, rec.raw, options)
                except NormalizeError as exc:
                    bad.append((key, rec.location, fmt.name, exc.message, rec.raw))
                else:
                    batches.append(batch)
                    n_posts += len(batch.posts)
                    if rec.location in pending_q:
                        healed.append(rec.location)
            if len(batches) + len(bad) >= BATCH_RECORDS or n_posts >= BATCH_POSTS:
                flush()
    flush()
    summary.seconds = time.perf_counter() - t0
    store.log_import(key, fmt.name, started, summary.records, summary.imported, summary.present,
                     summary.quarantined)
    return summary


def import_paths(store: Store, paths: Iterable[Path], fmt_name: str | None = None,
                 options: Options | None = None,
                 progress: Progress | None = None) -> list[ImportSummary]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()
                                and not f.name.startswith(".")))
        else:
            files.append(p)
    return [import_file(store, f, fmt_name, options, progress) for f in files]


def retry_quarantine(store: Store, ids: Sequence[int] | None = None,
                     raw: bytes | None = None, options: Options | None = None) -> tuple[int, int]:
    """Normalize quarantined records again (after a fix); returns (resolved, still failing)."""
    entries = [store.quarantine_get(i) for i in ids] if ids else store.quarantine_list()
    known = formats()
    ok = failed = 0
    matcher = store.matcher()
    for e in entries:
        if e.resolved_at is not None:
            continue
        if raw is not None:
            store.quarantine_update_raw(e.id, raw)
            e.raw = raw
        if not e.raw:
            failed += 1
            continue
        try:
            batch = normalize_record(known[e.format], e.raw, options or Options())
        except NormalizeError as exc:
            store.quarantine_mark(e.id, exc.message)
            failed += 1
            continue
        store.write([batch], matcher, detect_missing_languages([batch]))
        store.quarantine_mark(e.id, None)
        ok += 1
    return ok, failed
