"""What every source is made of: ``records()`` does the I/O, ``normalize()`` is pure.

A *format* splits an input into raw records (one JSON line, one array item, one CSV row, one feed
item…) each with its location, and turns one raw record into a :class:`~perron.models.Batch`.
The pipeline owns everything else (decompression, deduplication, quarantine, progress), so a
source module stays small and its normalization is testable against golden files.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar

import ijson
import msgspec

from ..errors import NormalizeError
from ..models import Batch

_json = msgspec.json.Decoder()
_enc = msgspec.json.Encoder()


@dataclass(frozen=True)
class Record:
    """One raw record. ``location`` tells a person where to find it (``line 12``, ``item 3``)."""

    location: str
    raw: bytes


@dataclass(frozen=True)
class Malformed:
    """A part of the input that could not even be split into a record (e.g. truncated JSON)."""

    location: str
    reason: str
    raw: bytes


@dataclass
class Options:
    """Per-import options a format may read (e.g. the CSV column mapping)."""

    mapping: dict[str, str] = field(default_factory=dict)


class Format:
    """Base class for an import format. Subclasses set ``name``/``title`` and implement the rest."""

    name: ClassVar[str]
    title: ClassVar[str]
    #: example file names, shown in the "unknown format" error
    examples: ClassVar[str] = ""

    def sniff(self, head: bytes, filename: str) -> int:
        """Confidence (0–100) that a file whose first bytes are ``head`` is in this format."""
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[Record | Malformed]:
        raise NotImplementedError

    def normalize(self, raw: bytes, options: Options) -> Batch:
        """Pure: raw bytes in, normalized batch out. Raises :class:`NormalizeError`."""
        raise NotImplementedError


def loads(raw: bytes) -> object:
    try:
        return _json.decode(raw)
    except msgspec.DecodeError as exc:
        raise NormalizeError(f"invalid JSON: {exc}") from None


def dumps(obj: object) -> bytes:
    return _enc.encode(obj)


def jsonl_records(fp: BinaryIO) -> Iterator[Record]:
    """One record per non-blank line. Lines are split on ``\\n`` only (U+2028 is content)."""
    for lineno, line in enumerate(fp, 1):
        line = line.strip()
        if line:
            yield Record(f"line {lineno}", line)


def json_items(fp: BinaryIO, prefix: str = "item") -> Iterator[Record | Malformed]:
    """Stream the items of a JSON array (``prefix='item'``) or of a nested array
    (``'statuses.item'``) in constant memory. A syntax error ends the stream with a Malformed."""
    n = 0
    try:
        for n, obj in enumerate(ijson.items(fp, prefix, use_float=True), 1):
            yield Record(f"item {n}", dumps(obj))
    except ijson.JSONError as exc:
        pos = _tell(fp)
        yield Malformed(f"after item {n}" + (f" (byte {pos})" if pos is not None else ""),
                        f"invalid JSON, the rest of the file cannot be read: {exc}", b"")


def _tell(fp: BinaryIO) -> int | None:
    try:
        return fp.tell()
    except (OSError, io.UnsupportedOperation):
        return None


class PrefixedReader(io.RawIOBase):
    """``head`` bytes already read, then the rest of ``fp``: lets a format sniff a stream that
    cannot seek (gzip, zstd, zip members) and still hand the whole of it to a parser."""

    def __init__(self, head: bytes, fp: BinaryIO) -> None:
        self._head = head
        self._fp = fp
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # so that errors can say where they happened
        return self._pos

    def readinto(self, buffer: Any) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def read(self, size: int | None = -1) -> bytes:  # faster than readinto for ijson's reads
        if size is None or size < 0:
            out, self._head = self._head + self._fp.read(), b""
        elif self._head:
            out, self._head = self._head[:size], self._head[size:]
        else:
            out = self._fp.read(size)
        self._pos += len(out)
        return out


def peek(fp: BinaryIO, size: int = 64 * 1024) -> tuple[bytes, BinaryIO]:
    """The first ``size`` bytes of ``fp`` and a stream that still starts at the beginning
    (less a UTF-8 byte order mark, which JSON parsers reject)."""
    head = fp.read(size).removeprefix(b"\xef\xbb\xbf")
    return head, io.BufferedReader(PrefixedReader(head, fp))  # type: ignore[return-value]


def first_line_is_json(head: bytes) -> bool:
    """True for JSON Lines (and a one-line document): the first line is a whole JSON value."""
    line = head.lstrip(b"\xef\xbb\xbf").lstrip().split(b"\n", 1)[0]
    try:
        _json.decode(line)
    except msgspec.DecodeError:
        return False
    return True


def head_text(head: bytes) -> str:
    return head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace").lstrip()
