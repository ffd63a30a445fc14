"""The X/Twitter account archive: ``data/tweets.js`` (``data/tweet.js`` in older archives).

The file is JavaScript: ``window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]`` (older archives
hold bare tweet objects). Each tweet is a v1.1 status without its ``user`` (counts and indices
are strings), so the mapping is :func:`perron.sources.twitter_v1.status_post`. The owner's
account id and handle live in ``data/account.js``: when that file sits next to ``tweets.js``, its
``accountId``, ``username``, ``accountDisplayName`` and ``createdAt`` are carried in each record
(under ``"account"``), otherwise posts have no author.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import NormalizeError
from ..models import Author, Batch
from ._twitter_common import (
    SOURCE,
    JSONObject,
    PrefixedReader,
    as_dict,
    as_list,
    opt_str,
    parse_any_date,
    tid,
)
from .base import Format, Malformed, Options, Record, dumps, head_text, json_items, loads
from .twitter_v1 import status_post

_PREFIX = re.compile(rb"^\s*window\.YTD\.(\w+)\.part\d+\s*=\s*", re.ASCII)
_ACCOUNT_FIELDS = ("accountId", "username", "accountDisplayName", "createdAt")


def _strip_wrapper(fp: BinaryIO) -> tuple[bytes, bytes] | None:
    """Read past ``window.YTD.<name>.partN =``; (name, rest of what was read) or None."""
    head = fp.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    match = _PREFIX.match(head)
    if match is None:
        return None
    return match.group(1), head[match.end():]


def read_account(path: Path) -> JSONObject | None:
    """The owner's public account fields from an archive's ``account.js`` (never the e-mail)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    match = _PREFIX.match(data.lstrip(b"\xef\xbb\xbf"))
    if match is None:
        return None
    try:
        items = as_list(loads(data.lstrip(b"\xef\xbb\xbf")[match.end():]))
    except NormalizeError:
        return None
    account = as_dict(as_dict(items[0] if items else {}).get("account"))
    picked = {k: account[k] for k in _ACCOUNT_FIELDS if isinstance(account.get(k), str)}
    return picked if picked.get("accountId") else None


def _sibling_account(fp: BinaryIO, filename: str) -> JSONObject | None:
    """``account.js`` next to a plain ``tweets.js`` (not found inside zips: the stream a zip
    gives does not say which archive it comes from)."""
    name = getattr(fp, "name", None)
    if not isinstance(name, str) or Path(name).name != filename:
        return None
    return read_account(Path(name).with_name("account.js"))


def _owner(account: JSONObject) -> Author:
    native = str(account["accountId"])
    return Author(id=tid(native), source=SOURCE, native_id=native,
                  handle=opt_str(account.get("username")),
                  name=opt_str(account.get("accountDisplayName")),
                  created_at=parse_any_date(account.get("createdAt")))


def normalize_archive(raw: bytes) -> Batch:
    obj = loads(raw)
    if not isinstance(obj, dict):
        raise NormalizeError("expected an archive tweet object")
    tweet = obj["tweet"] if isinstance(obj.get("tweet"), dict) else obj
    account = as_dict(obj.get("account"))
    owner = _owner(account) if account.get("accountId") else None
    post = status_post(tweet, owner, archive=True)
    return Batch(posts=[post], authors=[owner] if owner else [])


class TwitterArchive(Format):
    name = "twitter-archive"
    title = "X/Twitter account archive (data/tweets.js, or the archive .zip)"
    examples = "twitter-2023-01-01-abc.zip, data/tweets.js, data/tweet.js"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if re.match(r"window\.YTD\.tweets?\.part\d+\s*=", text):
            return 98
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options,
                ) -> Iterator[Record | Malformed]:
        start = _strip_wrapper(fp)
        if start is None:
            yield Malformed("start", "not an X/Twitter archive file: it does not begin with "
                                     "'window.YTD.tweets.part0 = '", b"")
            return
        name, rest = start
        if name not in (b"tweets", b"tweet"):
            yield Malformed("start", f"this archive file holds {name.decode()!r}, not tweets "
                                     "(import data/tweets.js)", b"")
            return
        account = _sibling_account(fp, filename)
        prefix = b'{"account":' + dumps(account) + b"," if account else b""
        for rec in json_items(PrefixedReader(rest, fp), "item"):  # type: ignore[arg-type]
            if isinstance(rec, Record) and prefix:
                body = rec.raw[1:] if rec.raw.startswith(b'{"tweet":') else (
                    b'"tweet":' + rec.raw + b"}")
                rec = Record(rec.location, prefix + body)
            yield rec

    def normalize(self, raw: bytes, options: Options) -> Batch:
        return normalize_archive(raw)


FORMATS = [TwitterArchive()]
