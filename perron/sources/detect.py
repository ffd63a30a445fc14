"""Opening inputs (plain, gzip, zstd, X archive zip) and detecting their format."""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from ..errors import SourceError
from .base import Format

HEAD_BYTES = 64 * 1024
_ZIP_MEMBERS = ("data/tweets.js", "data/tweet.js")


def logical_name(path: Path) -> str:
    """The name without a compression suffix: ``a.jsonl.gz`` → ``a.jsonl``."""
    name = path.name
    for suffix in (".gz", ".zst", ".zstd"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@contextlib.contextmanager
def open_input(path: Path) -> Iterator[BinaryIO]:
    """A binary stream of the decompressed content, read lazily (constant memory)."""
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}",
                          hint="check the path and its permissions") from None
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw) as fp:
                yield fp  # type: ignore[misc]
        elif magic == b"\x28\xb5\x2f\xfd":
            with zstandard.ZstdDecompressor().stream_reader(raw) as zfp:
                yield io.BufferedReader(zfp)  # type: ignore[arg-type]
        elif magic[:2] == b"PK":
            with zipfile.ZipFile(raw) as zf:
                member = next((m for m in zf.namelist() if m.endswith(_ZIP_MEMBERS)), None)
                if member is None:
                    raise SourceError(f"{path} is a zip without data/tweets.js",
                                      hint="only X/Twitter account archives are read from zips; "
                                           "unzip other archives and import their files")
                with zf.open(member) as fp:
                    yield fp  # type: ignore[misc]
        else:
            yield raw


def read_head(path: Path) -> bytes:
    with open_input(path) as fp:
        return fp.read(HEAD_BYTES)


def detect_format(path: Path, candidates: dict[str, Format] | None = None) -> Format:
    from ..plugins import formats

    candidates = candidates or formats()
    head = read_head(path)
    name = logical_name(Path(path))
    if Path(path).suffix == ".zip":
        name = "tweets.js"
    scored = sorted(((fmt.sniff(head, name), fmt.name) for fmt in candidates.values()), reverse=True)
    if not scored or scored[0][0] <= 0:
        known = ", ".join(sorted(candidates))
        what = "the file is empty" if not head.strip() else "no known format recognises it"
        raise SourceError(f"cannot tell the format of {path}: {what}",
                          hint=f"known formats: {known}. Force one with --format NAME "
                               "(for any other CSV: --format csv --map id=…,text=…)")
    return candidates[scored[0][1]]
