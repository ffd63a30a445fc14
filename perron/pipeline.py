"""The one entry point that the CLI, the web app and workers call to move posts into the store.

sources → normalize → (enrich) → store. Each file is read as a stream of raw records; each record
is normalized on its own, so one bad record is quarantined (with its location, reason and raw
bytes) and the import goes on. Records are written in batches, each batch in one transaction, and
every write is idempotent, so an import killed at any point and run again ends with exactly the
same store as an uninterrupted one.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import msgspec

from .errors import NormalizeError, SourceError
from .models import Batch
from .parent import exit_with_parent
from .plugins import formats
from .query.doc import Doc, doc_of
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


PARALLEL_MIN_BYTES = 8 * 2**20  # smaller files are done before worker processes would start
CHUNK_RECORDS = 50  # records per task sent to a worker

# one item of a chunk: (location, raw bytes, reason it is malformed or None)
Item = tuple[str, bytes, str | None]
# what a worker sends back per item: the batch, or the reason it could not be normalized
Prepared = tuple[Batch | None, str | None]


def import_workers(path: Path) -> int:
    """Setting ``import.workers``: -1 (default) = CPUs − 1, at most 3, for files of 8 MB or
    more, else none; 0 = none; N = N worker processes."""
    from . import config

    n = int(config.get("import.workers"))
    if n >= 0:
        return n
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    return max(0, min(3, (os.cpu_count() or 1) - 1)) if size >= PARALLEL_MIN_BYTES else 0


def prepare_one(fmt: Format, options: Options, raw: bytes, malformed: str | None) -> Prepared:
    """One record's batch, or why it goes to the quarantine."""
    if malformed is not None:
        return None, malformed
    try:
        return normalize_record(fmt, raw, options), None
    except NormalizeError as exc:
        return None, exc.message


def prepare_chunk(fmt_name: str, options: Options, chunk: Sequence[Item]
                  ) -> tuple[bytes, list[str | None], dict[str, str]]:
    """The CPU work of an import that needs no store, done in a worker process: normalize each
    record, detect the languages platforms did not declare, and compute each post's ``Doc``
    (its index tokens and query fields). Pure: the same chunk gives the same answer.

    The batches and docs travel as msgpack (``decode_chunk``), not pickles: pickling is slower
    on both sides, and a decoded struct holds its defaults as the very objects the class has,
    as a freshly normalized one does, so its stored JSON is byte for byte the same."""
    fmt = formats()[fmt_name]
    out = [prepare_one(fmt, options, raw, malformed) for _, raw, malformed in chunk]
    batches = [b for b, _ in out if b is not None]
    langs = detect_missing_languages(batches)
    docs = {p.id: doc_of(p, langs.get(p.id)) for b in batches for p in b.posts}
    return _packer.encode(([b for b, _ in out], docs)), [r for _, r in out], langs


_packer = msgspec.msgpack.Encoder()
_unpacker = msgspec.msgpack.Decoder(tuple[list[Batch | None], dict[str, Doc]])


def decode_chunk(packed: bytes, reasons: list[str | None]) -> tuple[list[Prepared],
                                                                     dict[str, Doc]]:
    batches, docs = _unpacker.decode(packed)
    return list(zip(batches, reasons, strict=True)), docs


def import_file(store: Store, path: Path, fmt_name: str | None = None,
                options: Options | None = None, progress: Progress | None = None) -> ImportSummary:
    """Import one file. Records are normalized here, or by worker processes for big files
    (``import.workers``): they come back in file order and are written in the same batches
    either way, so the store ends the same."""
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
    langs: dict[str, str] | None = None  # from workers; None: detect at flush
    docs: dict[str, Doc] = {}
    n_posts = 0

    def flush() -> None:
        nonlocal batches, bad, healed, n_posts
        counts: WriteCounts = store.write(
            batches, matcher, detect_missing_languages(batches) if langs is None else langs, docs)
        for b in batches:  # a flush can fall inside a worker's chunk: keep the rest of it
            for p in b.posts:
                docs.pop(p.id, None)
                if langs is not None:
                    langs.pop(p.id, None)
        summary.imported += counts.imported
        summary.present += counts.present
        summary.deleted += counts.deleted
        store.quarantine(bad)
        store.quarantine_resolve(key, healed)
        summary.quarantined += len(bad)
        batches, bad, healed, n_posts = [], [], [], 0
        if progress:
            progress(str(path), summary.records, summary.imported)

    def take(location: str, raw: bytes, result: Prepared) -> None:
        """One record's outcome, in file order; flush at the same points either way."""
        nonlocal n_posts
        summary.records += 1
        batch, reason = result
        if batch is None:
            bad.append((key, location, fmt.name, reason or "", raw))
        else:
            batches.append(batch)
            n_posts += len(batch.posts)
            if location in pending_q:
                healed.append(location)
        if len(batches) + len(bad) >= BATCH_RECORDS or n_posts >= BATCH_POSTS:
            flush()

    def items(fp: BinaryIO) -> Iterator[Item]:
        for rec in fmt.records(fp, path.name, options):
            if isinstance(rec, Malformed):
                yield rec.location, rec.raw, rec.reason
            else:
                yield rec.location, rec.raw, None

    workers = import_workers(path)
    with open_input(path) as fp:
        if workers == 0:
            for location, raw, malformed in items(fp):
                take(location, raw, prepare_one(fmt, options, raw, malformed))
        else:
            langs = {}
            # fork when this process has one thread (the CLI): no re-import of the caller's
            # script, fast start; the children only run prepare_chunk, never the open store.
            # Beside other threads fork is unsafe: spawn (the caller needs a __main__ guard).
            single = threading.active_count() == 1 and hasattr(os, "fork")
            ctx = multiprocessing.get_context("fork" if single else "spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=exit_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                inflight: deque[tuple[list[Item], Future]] = deque()

                def drain() -> None:
                    chunk, future = inflight.popleft()
                    try:
                        packed, reasons, chunk_langs = future.result()
                    except BrokenProcessPool as exc:
                        raise SourceError(
                            f"an import worker process died while reading {path.name} ({exc})",
                            hint="run the same import again: what was written stays and nothing "
                                 "is duplicated; if it happens again, PERRON_IMPORT_WORKERS=0 "
                                 "imports without workers") from exc
                    results, chunk_docs = decode_chunk(packed, reasons)
                    langs.update(chunk_langs)  # type: ignore[union-attr]
                    docs.update(chunk_docs)
                    for (location, raw, _), result in zip(chunk, results, strict=True):
                        take(location, raw, result)

                def send(chunk: list[Item]) -> None:
                    inflight.append((chunk, pool.submit(prepare_chunk, fmt.name, options, chunk)))
                    while len(inflight) > 2 * workers:  # bounded: constant memory
                        drain()

                chunk: list[Item] = []
                for item in items(fp):
                    chunk.append(item)
                    if len(chunk) >= CHUNK_RECORDS:
                        send(chunk)
                        chunk = []
                if chunk:
                    send(chunk)
                while inflight:
                    drain()
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
