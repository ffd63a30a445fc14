"""RSS 2.0 / RSS 1.0 / Atom feeds (blogs *and their comment feeds*) and WordPress WXR exports.

Both formats stream the file with :func:`xml.etree.ElementTree.iterparse`: each ``<item>`` /
``<entry>`` is serialized and then dropped from the tree, so memory stays constant whatever the
size of the feed or of the export. A record is one JSON header line (what the item needs from its
channel: link, title, language…) followed by the item's XML; the posts keep only the XML as raw.

**rss** — source ``rss``, one source name for every feed (blog posts, WordPress comment feeds,
Atom). The native id of an item is its *canonical link*: the ``<link>`` without its fragment for
a post (``https://blog/billet/``), with it for a comment (``https://blog/billet/#comment-12``),
so that a comment's parent — its link without the fragment — is the id of the post it is on,
whichever feed the post came from. Without a link: the guid (Atom: the id); without those
either, a hash of the feed link, title and date (an item with no title either is quarantined).
An item is a comment (``kind="reply"``) when its link's fragment is a comment anchor
(``#comment-12``, ``#c12``) or when it carries an Atom threading ``<thr:in-reply-to>``.
Authors are ``rss:<feed host>/<name>`` (feeds carry names, not accounts); e-mail addresses in
RSS ``<author>`` are dropped. Categories are not hashtags: they stay in the raw item.

**wxr** — source ``wordpress``. One ``<item>`` of type ``post`` or ``page`` becomes one batch:
the post and its comments as replies threaded by ``comment_parent`` (other item types, e.g.
attachments and menu items, give an empty batch; spam and trashed comments are skipped). Ids are
``wordpress:<site>/<post_id>`` and ``wordpress:<site>/<post_id>#comment-<comment_id>`` where
``<site>`` is the host (and path, for a blog in a sub-folder) of the blog. Commenters' e-mail and
IP addresses are removed from the record as soon as it is read: they are never stored.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any, BinaryIO
from urllib.parse import urldefrag, urlsplit

from ..errors import NormalizeError
from ..models import Author, Batch, Media, Metrics, Post, post_id
from ..text import extract_hashtags
from .base import Format, Malformed, Options, Record, dumps, head_text, loads
from .html_text import render_html

ATOM = "http://www.w3.org/2005/Atom"
RSS1 = "http://purl.org/rss/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
SLASH = "http://purl.org/rss/1.0/modules/slash/"
THR = "http://purl.org/syndication/thread/1.0"
MEDIA = "http://search.yahoo.com/mrss/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
WP_PREFIX = "{http://wordpress.org/export/"

_PREFIXES = {"content": CONTENT, "dc": DC, "slash": SLASH, "atom": ATOM, "thr": THR,
             "media": MEDIA, "wfw": "http://wellformedweb.org/CommentAPI/",
             "wp": "http://wordpress.org/export/1.2/",
             "excerpt": "http://wordpress.org/export/1.2/excerpt/"}
_ROOTS = {"rss", f"{{{ATOM}}}feed", f"{{{RDF}}}RDF"}
_CHANNELS = {"channel", f"{{{ATOM}}}feed", f"{{{RSS1}}}channel"}
_ITEMS = {"item", f"{{{ATOM}}}entry", f"{{{RSS1}}}item"}
_COMMENT_ANCHOR = re.compile(r"^(?:comment|c)-?\d+$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_LANG = re.compile(r"^([a-zA-Z]{2,3})(?:[-_].*)?$")
_ZERO_DATE = "0000-00-00 00:00:00"


@cache
def _register_prefixes() -> None:
    """Readable prefixes (``content:``, ``dc:``…) in the serialized items instead of ``ns0:``.
    Called on first use (never at import time); registering is idempotent."""
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)


# --- streaming ---------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _stream_items(fp: BinaryIO, is_item: Callable[[str], bool], meta: dict[str, Any],
                  on_channel_child: Callable[[ET.Element, dict[str, Any]], None],
                  noun: str = "item") -> Iterator[tuple[str, ET.Element] | Malformed]:
    """Yield ``(location, item element)`` in document order, then forget each item.

    Direct children of the channel/feed are passed to ``on_channel_child`` (to fill ``meta``)
    and dropped too, so nothing accumulates. A syntax error ends the stream with a Malformed.
    """
    stack: list[ET.Element] = []
    in_item = 0
    n = 0
    root_tag: str | None = None
    try:
        for event, elem in ET.iterparse(fp, events=("start", "end")):
            if event == "start":
                if root_tag is None:
                    root_tag = elem.tag
                    if elem.get(XML_LANG):
                        meta.setdefault("lang", elem.get(XML_LANG))
                if is_item(elem.tag):
                    in_item += 1
                stack.append(elem)
                continue
            stack.pop()
            parent = stack[-1] if stack else None
            if is_item(elem.tag):
                in_item -= 1
                if in_item:
                    continue
                n += 1
                elem.tail = None
                yield f"{noun} {n}", elem
                elem.clear()
                if parent is not None:
                    parent.remove(elem)
            elif not in_item and parent is not None and parent.tag in _CHANNELS | _ROOTS:
                if parent.tag in _CHANNELS or parent.tag == f"{{{RDF}}}RDF":
                    on_channel_child(elem, meta)
                if elem.tag not in _CHANNELS:
                    elem.clear()
                    parent.remove(elem)
    except ET.ParseError as exc:
        line, col = exc.position
        where = f"after {noun} {n}" if n else "document"
        yield Malformed(f"{where} (line {line}, column {col})",
                        f"invalid XML, the rest of the file cannot be read: {exc}", b"")
        return
    if root_tag is not None and root_tag not in _ROOTS:
        yield Malformed("document", f"not a feed: the root element is <{_local(root_tag)}>, "
                        "expected <rss>, <feed> (Atom) or <rdf:RDF> (RSS 1.0)", b"")


def _record(location: str, header: dict[str, Any], elem: ET.Element) -> Record:
    return Record(location, dumps(header) + b"\n" + ET.tostring(elem, encoding="utf-8",
                                                                 xml_declaration=False))


def _split(raw: bytes) -> tuple[dict[str, Any], bytes, ET.Element]:
    head, sep, body = raw.partition(b"\n")
    header = loads(head) if sep else None
    if not isinstance(header, dict):
        raise NormalizeError("not a feed record (expected a JSON header line, then the XML item)")
    try:
        elem = ET.fromstring(body)
    except ET.ParseError as exc:
        raise NormalizeError(f"invalid XML item: {exc}") from None
    return header, body, elem


# --- small readers ---------------------------------------------------------------------------


def _text(elem: ET.Element | None, tag: str) -> str | None:
    child = elem.find(tag) if elem is not None else None
    if child is None or child.text is None:
        return None
    value = child.text.strip()
    return value or None


def _lang(value: object) -> str | None:
    m = _LANG.match(value.strip()) if isinstance(value, str) else None
    return m.group(1).lower() if m else None


def _site_of(url: str | None) -> str | None:
    """``https://blog.example.fr/carnet/`` → ``blog.example.fr/carnet``."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if not parts.netloc:
        return None
    return (parts.netloc.lower() + parts.path.rstrip("/")) or None


def _host_of(url: str | None) -> str | None:
    return urlsplit(url).netloc.lower() or None if url else None


def _canonical(url: str) -> str:
    """A link without its fragment, unless the fragment is a comment anchor."""
    base, frag = urldefrag(url.strip())
    return url.strip() if _COMMENT_ANCHOR.match(frag) else base


def _rfc822(value: str) -> datetime:
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return _iso(value)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(value: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise NormalizeError(f"unreadable date {value!r} (expected RFC 822 like 'Tue, 05 Mar "
                             "2024 08:30:00 +0100' or ISO 8601)") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _media_of(item: ET.Element) -> list[Media]:
    out: list[Media] = []
    for enc in item.findall("enclosure") + item.findall(f"{{{MEDIA}}}content"):
        url = enc.get("url")
        if url:
            mime = enc.get("type") or enc.get("medium") or ""
            kind = ("photo" if mime.startswith("image") else "video" if mime.startswith("video")
                    else "audio" if mime.startswith("audio") else "other")
            out.append(Media(kind=kind, url=url))
    for link in item.findall(f"{{{ATOM}}}link"):
        if link.get("rel") == "enclosure" and link.get("href"):
            mime = link.get("type") or ""
            out.append(Media(kind="photo" if mime.startswith("image") else "other",
                             url=link.get("href")))
    return out


def _xhtml(div: ET.Element) -> str:
    """An Atom ``type="xhtml"`` content (namespaced elements) as an HTML string."""
    for e in div.iter():
        e.tag = _local(e.tag)
    return ET.tostring(div, encoding="unicode", method="html")


def _atom_text(elem: ET.Element | None) -> tuple[str, str] | None:
    """(value, kind) of an Atom text construct; kind is ``html`` or ``text``."""
    if elem is None:
        return None
    kind = elem.get("type", "text")
    if kind == "xhtml":
        div = next(iter(elem), None)
        return (_xhtml(div), "html") if div is not None else None
    if elem.text is None or not elem.text.strip():
        return None
    return elem.text, "html" if kind in ("html", "text/html") else "text"


def _author_name(item: ET.Element, meta: dict[str, Any]) -> tuple[str | None, str | None]:
    """(name, url). RSS ``<author>`` is an e-mail address: keep only the name in parentheses."""
    name = _text(item, f"{{{DC}}}creator")
    if name:
        return name, None
    rss_author = _text(item, "author")
    if rss_author:
        m = re.search(r"\(([^)]+)\)", rss_author)
        if m:
            return m.group(1).strip(), None
        return (None, None) if _EMAIL.search(rss_author) else (rss_author, None)
    atom_author = item.find(f"{{{ATOM}}}author")
    if atom_author is not None:
        return _text(atom_author, f"{{{ATOM}}}name"), _text(atom_author, f"{{{ATOM}}}uri")
    return meta.get("author"), None


def _link_of(item: ET.Element) -> str | None:
    link = _text(item, "link") or _text(item, f"{{{RSS1}}}link")
    if link:
        return link
    best = None
    for el in item.findall(f"{{{ATOM}}}link"):
        if el.get("rel", "alternate") == "alternate" and el.get("href"):
            if el.get("type", "text/html") == "text/html":
                return el.get("href")
            best = best or el.get("href")
    return best


# --- rss ---------------------------------------------------------------------------------------


def _rss_channel_child(elem: ET.Element, meta: dict[str, Any]) -> None:
    tag = elem.tag
    if tag in ("title", f"{{{RSS1}}}title", f"{{{ATOM}}}title") and elem.text:
        meta.setdefault("title", elem.text.strip())
    elif tag in ("link", f"{{{RSS1}}}link") and elem.text and elem.text.strip():
        meta.setdefault("link", elem.text.strip())
    elif tag == f"{{{ATOM}}}link" and elem.get("rel", "alternate") == "alternate":
        if elem.get("href"):
            meta.setdefault("link", elem.get("href"))
    elif tag in ("language", f"{{{DC}}}language") and elem.text:
        meta.setdefault("lang", elem.text.strip())
    elif tag == f"{{{ATOM}}}author":
        name = _text(elem, f"{{{ATOM}}}name")
        if name:
            meta.setdefault("author", name)


class RssFormat(Format):
    name = "rss"
    title = "RSS / Atom feed (blog posts and comment feeds)"
    examples = "feed.xml, comments-feed.rss, atom.xml"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if not text.startswith("<"):
            return 0
        if "wordpress.org/export/" in text:
            return 20  # a WXR export is RSS too, but wxr reads it better
        if re.search(r"<rss[\s>]", text):
            return 85
        if re.search(r"<feed[\s>]", text) and ATOM in text:
            return 85
        if "<rdf:RDF" in text and RSS1 in text:
            return 80
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[
            Record | Malformed]:
        _register_prefixes()
        meta: dict[str, Any] = {}
        for got in _stream_items(fp, _ITEMS.__contains__, meta, _rss_channel_child):
            if isinstance(got, Malformed):
                yield got
            else:
                location, elem = got
                kind = "atom" if elem.tag.startswith(f"{{{ATOM}}}") else "rss"
                yield _record(location, {"kind": kind, **meta}, elem)

    def normalize(self, raw: bytes, options: Options) -> Batch:
        meta, body, item = _split(raw)
        link = _link_of(item)
        guid = _text(item, "guid") or _text(item, f"{{{ATOM}}}id")
        title_raw = (_atom_text(item.find(f"{{{ATOM}}}title"))
                     or ((item.findtext("title") or item.findtext(f"{{{RSS1}}}title") or ""),
                         "html"))
        title = render_html(title_raw[0]).text if title_raw[1] == "html" else title_raw[0].strip()
        created = self._date(item)
        feed_link = meta.get("link") if isinstance(meta.get("link"), str) else None
        if link:
            native = _canonical(link)
        elif guid:
            native = guid
        elif title:
            digest = hashlib.sha256(f"{feed_link}|{title}|{created}".encode()).hexdigest()[:16]
            native = f"{feed_link or 'feed'}#{digest}"
        else:
            raise NormalizeError("item has no link, guid or title: nothing identifies it",
                                 hint="a feed item needs at least a <link>, a <guid> or a <title>")

        html, kind = self._body(item)
        rendered = render_html(html) if kind == "html" else None
        text = rendered.text if rendered else html.strip()
        urls = rendered.links if rendered else []

        pid = post_id("rss", native)
        post_kind: str = "post"
        parent = root = None
        reply_to = item.find(f"{{{THR}}}in-reply-to")
        page = urldefrag(link)[0] if link else None
        if link and _COMMENT_ANCHOR.match(urldefrag(link)[1]):
            post_kind = "reply"
            root = parent = post_id("rss", page or "")
        if reply_to is not None and (reply_to.get("href") or reply_to.get("ref")):
            post_kind = "reply"
            parent = post_id("rss", _canonical(reply_to.get("href") or reply_to.get("ref", "")))
            root = post_id("rss", page) if page else None

        author_name, author_url = _author_name(item, meta)
        host = _host_of(feed_link) or _host_of(link)
        authors: list[Author] = []
        author_id = None
        if author_name and host:
            native_author = f"{host}/{author_name}"
            author_id = post_id("rss", native_author)
            authors.append(Author(id=author_id, source="rss", native_id=native_author,
                                  handle=author_name, name=author_name, url=author_url))
        replies = _text(item, f"{{{SLASH}}}comments")
        post = Post(
            id=pid, source="rss", native_id=native, text=text, created_at=created,
            url=link, title=title or None, author_id=author_id, author_handle=author_name,
            lang=_lang(item.get(XML_LANG)) or _lang(_text(item, f"{{{DC}}}language"))
            or _lang(meta.get("lang")),
            kind=post_kind,  # type: ignore[arg-type]
            parent_id=parent, root_id=root if root != pid else None,
            hashtags=list(dict.fromkeys(extract_hashtags(text))), urls=urls,
            media=_media_of(item),
            metrics=Metrics(replies=int(replies)) if replies and replies.isdigit() else None,
            raw=body)
        return Batch(posts=[post], authors=authors)

    @staticmethod
    def _date(item: ET.Element) -> datetime | None:
        pub = _text(item, "pubDate")
        if pub:
            return _rfc822(pub)
        for tag in (f"{{{DC}}}date", f"{{{ATOM}}}published", f"{{{ATOM}}}updated"):
            value = _text(item, tag)
            if value:
                return _iso(value)
        return None

    @staticmethod
    def _body(item: ET.Element) -> tuple[str, str]:
        for tag in (f"{{{CONTENT}}}encoded", "description", f"{{{RSS1}}}description"):
            value = item.findtext(tag)
            if value and value.strip():
                return value, "html"
        for tag in (f"{{{ATOM}}}content", f"{{{ATOM}}}summary"):
            got = _atom_text(item.find(tag))
            if got:
                return got
        return "", "text"


# --- wxr ---------------------------------------------------------------------------------------


def _wp(elem: ET.Element | None, local: str) -> ET.Element | None:
    """The ``wp:<local>`` child, whatever the WXR version (1.0, 1.1, 1.2)."""
    if elem is None:
        return None
    for child in elem:
        if child.tag.startswith(WP_PREFIX) and child.tag.endswith("}" + local):
            return child
    return None


def _wpt(elem: ET.Element | None, local: str) -> str | None:
    child = _wp(elem, local)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _wxr_channel_child(elem: ET.Element, meta: dict[str, Any]) -> None:
    tag = elem.tag
    if tag == "title" and elem.text:
        meta.setdefault("title", elem.text.strip())
    elif tag == "link" and elem.text and elem.text.strip():
        meta.setdefault("link", elem.text.strip())
    elif tag == "language" and elem.text:
        meta.setdefault("lang", elem.text.strip())
    elif tag.startswith(WP_PREFIX) and tag.endswith(("}base_blog_url", "}base_site_url")):
        if elem.text and elem.text.strip():
            meta.setdefault(_local(tag), elem.text.strip())
    elif tag.startswith(WP_PREFIX) and tag.endswith("}author"):
        # only what identifies a person publicly: never the author's e-mail
        login = _wpt(elem, "author_login")
        if login:
            user = {"login": login, "name": _wpt(elem, "author_display_name")}
            meta.setdefault("_users", {})[_wpt(elem, "author_id") or login] = user


def _scrub(item: ET.Element) -> None:
    """Drop commenters' e-mail and IP addresses from the item before anything keeps it."""
    for comment in list(item):
        if comment.tag.startswith(WP_PREFIX) and comment.tag.endswith("}comment"):
            for child in list(comment):
                if child.tag.endswith(("}comment_author_email", "}comment_author_IP")):
                    comment.remove(child)
                elif child.tag.endswith("}comment_author") and _EMAIL.search(child.text or ""):
                    child.text = ""  # someone typed their e-mail address as their name


def _wxr_date(gmt: str | None, pub: str | None = None) -> datetime | None:
    """``wp:post_date_gmt``; drafts have ``0000-00-00 00:00:00`` there (and a pubDate in year
    -1): they stay undated. ``pubDate`` is only read when there is no GMT date at all."""
    if gmt:
        try:
            return None if gmt == _ZERO_DATE else datetime.fromisoformat(gmt).replace(tzinfo=UTC)
        except ValueError:
            return None
    if pub:
        try:
            return _rfc822(pub)
        except NormalizeError:
            return None
    return None


def _wpautop(html: str) -> str:
    """WordPress stores paragraphs as blank lines and line breaks as newlines."""
    html = re.sub(r"\r\n?", "\n", html)
    html = re.sub(r"\n\s*\n", "<p>", html)
    return html.replace("\n", "<br>")


class WxrFormat(Format):
    name = "wxr"
    title = "WordPress export (WXR): posts and their comments"
    examples = "monblogue.WordPress.2024-03-01.xml"

    def sniff(self, head: bytes, filename: str) -> int:
        text = head_text(head)
        if text.startswith("<") and re.search(r"<rss[\s>]", text) and re.search(
                r"xmlns:wp=\"https?://wordpress\.org/export/", text):
            return 95
        return 0

    def records(self, fp: BinaryIO, filename: str, options: Options) -> Iterator[
            Record | Malformed]:
        _register_prefixes()
        meta: dict[str, Any] = {}
        for got in _stream_items(fp, "item".__eq__, meta, _wxr_channel_child):
            if isinstance(got, Malformed):
                yield got
                continue
            location, elem = got
            _scrub(elem)
            users: dict[str, Any] = meta.get("_users", {})
            wanted = {elem.findtext(f"{{{DC}}}creator") or ""} | {
                _wpt(c, "comment_user_id") or "" for c in elem if c.tag.endswith("}comment")}
            header = {k: v for k, v in meta.items() if not k.startswith("_")}
            header["users"] = {k: u for k, u in users.items()
                               if k in wanted or u["login"] in wanted}
            yield _record(location, header, elem)

    def normalize(self, raw: bytes, options: Options) -> Batch:
        meta, _, item = _split(raw)
        if (_wpt(item, "post_type") or "post") not in ("post", "page"):
            return Batch()
        site = next(filter(None, (_site_of(meta.get(k)) for k in
                                  ("link", "base_blog_url", "base_site_url"))), None)
        native_post = _wpt(item, "post_id")
        if not site or not native_post:
            missing = "wp:post_id" if site else "the blog's <link> / wp:base_site_url"
            raise NormalizeError(f"WXR item without {missing}: cannot give it an id")
        users = meta.get("users") if isinstance(meta.get("users"), dict) else {}
        by_login = {u.get("login"): u for u in users.values() if isinstance(u, dict)}
        lang = _lang(meta.get("lang"))
        native = f"{site}/{native_post}"
        pid = post_id("wordpress", native)
        link = _text(item, "link")
        authors: dict[str, Author] = {}

        def author(login: str | None, name: str | None, url: str | None = None) -> str | None:
            handle = login or name
            if not handle or _EMAIL.fullmatch(handle):
                return None  # nobody, or someone who typed an e-mail as their name
            aid = post_id("wordpress", f"{site}/{handle}")
            authors.setdefault(aid, Author(id=aid, source="wordpress", native_id=f"{site}/{handle}",
                                           handle=handle, name=name or handle, url=url or None))
            return aid

        creator = _text(item, f"{{{DC}}}creator")
        user = by_login.get(creator) or {}
        post_author = author(creator, user.get("name"))
        comments = [c for c in item if c.tag.startswith(WP_PREFIX) and c.tag.endswith("}comment")]
        for c in comments:
            item.remove(c)
            c.tail = None
        content = item.findtext(f"{{{CONTENT}}}encoded") or ""
        rendered = render_html(_wpautop(content))
        title = item.findtext("title") or ""
        post = Post(id=pid, source="wordpress", native_id=native, text=rendered.text,
                    created_at=_wxr_date(_wpt(item, "post_date_gmt"), _text(item, "pubDate")),
                    url=link, title=render_html(title).text or None, author_id=post_author,
                    author_handle=creator if post_author else None, lang=lang,
                    hashtags=list(dict.fromkeys(extract_hashtags(rendered.text))),
                    urls=rendered.links, raw=ET.tostring(item, encoding="utf-8"))
        kept: list[tuple[ET.Element, str, str | None, str | None]] = []
        author_of = {pid: post_author}
        for c in comments:  # first pass: who wrote what, so replies know whom they answer
            cid = _wpt(c, "comment_id")
            if not cid or (_wpt(c, "comment_approved") or "").lower() in ("spam", "trash"):
                continue
            uid = _wpt(c, "comment_user_id") or "0"
            registered = users.get(uid) if uid != "0" else None
            if isinstance(registered, dict):
                aid = author(registered.get("login"), registered.get("name"))
                handle = registered.get("login")
            else:
                name = _wpt(c, "comment_author")
                aid = author(None, name, _wpt(c, "comment_author_url"))
                handle = name if aid else None
            author_of[post_id("wordpress", f"{native}#comment-{cid}")] = aid
            kept.append((c, cid, aid, handle))
        posts = [post]
        for c, cid, aid, handle in kept:
            native_c = f"{native}#comment-{cid}"
            parent_native = _wpt(c, "comment_parent") or "0"
            parent = pid if parent_native == "0" else post_id(
                "wordpress", f"{native}#comment-{parent_native}")
            text_r = render_html(_wpautop(_wpt(c, "comment_content") or ""))
            posts.append(Post(
                id=post_id("wordpress", native_c), source="wordpress", native_id=native_c,
                text=text_r.text, created_at=_wxr_date(_wpt(c, "comment_date_gmt")),
                url=f"{link}#comment-{cid}" if link else None, author_id=aid,
                author_handle=handle, lang=lang, kind="reply", parent_id=parent, root_id=pid,
                in_reply_to_author_id=author_of.get(parent),
                hashtags=list(dict.fromkeys(extract_hashtags(text_r.text))), urls=text_r.links,
                raw=ET.tostring(c, encoding="utf-8")))
        return Batch(posts=posts, authors=list(authors.values()))


FORMATS: list[Format] = [RssFormat(), WxrFormat()]
