"""Stream evaluation: one post against many monitors at once.

Each monitor is compiled once into a Python closure. An index maps the tokens (and token
prefixes, and field values) that can trigger a monitor to that monitor, so a post only evaluates
the few monitors it could match, plus the ones nothing can index (pure negations, date-only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from ..places import site_contains
from .ast import And, Field, Hashtag, Mention, Near, Node, Not, Or, Phrase, Prefix, Term
from .doc import Doc
from .parse import parse, parse_date
from .sites import SitesArg, SiteTable

Pred = Callable[[Doc, frozenset], bool]
_PREFIX = "\x01"  # index keys: token | \x01prefix | \x02field=value
_FIELD = "\x02"


def _alts(word: str) -> tuple[str, ...]:
    return (word, "#" + word, "@" + word)


def _leaf_alts(node: Term | Hashtag | Mention | Prefix) -> tuple[str, ...]:
    if isinstance(node, (Hashtag, Mention)):
        return (node.token,)
    word = node.word if isinstance(node, Term) else node.stem
    return (word,) if word[0] in "#@" else _alts(word)


def _positions(node: Term | Hashtag | Mention | Prefix, toks: tuple[str, ...]) -> list[int]:
    alts = _leaf_alts(node)
    if isinstance(node, Prefix):
        return [i for i, t in enumerate(toks) if t.startswith(alts)]
    return [i for i, t in enumerate(toks) if t in alts]


def _phrase_at(words: tuple[str, ...], toks: tuple[str, ...]) -> bool:
    first, n = words[0], len(words)
    i = -1
    try:
        while True:
            i = toks.index(first, i + 1)
            if toks[i:i + n] == words:
                return True
    except ValueError:
        return False


def compile_node(node: Node, prefix_keys: bool = False, sites: SiteTable | None = None) -> Pred:
    """A predicate ``(doc, tokens) -> bool`` with the meaning of ``node``.

    ``tokens`` is ``frozenset(doc.tokens)``; with ``prefix_keys`` it must also hold
    ``"\x01" + stem`` for every prefix stem of the query that some token starts with (the
    :class:`Matcher` adds them from its per-token cache, so prefixes cost one set lookup).
    ``sites`` resolves ``near:NAME`` (an unknown name never matches).
    """
    if isinstance(node, (And, Or, Not, Near)):
        return _compile_compound(node, prefix_keys, sites)
    if isinstance(node, (Hashtag, Mention)):
        tok = node.token
        return lambda d, s: tok in s
    if isinstance(node, Term):
        a, b, c = _alts(node.word)
        return lambda d, s: a in s or b in s or c in s
    if isinstance(node, Prefix):
        starts = _leaf_alts(node)
        if prefix_keys:
            keys = tuple(_PREFIX + a for a in starts)
            if len(keys) == 1:
                k = keys[0]
                return lambda d, s: k in s
            a, b, c = keys
            return lambda d, s: a in s or b in s or c in s
        return lambda d, s: any(t.startswith(starts) for t in s)
    if isinstance(node, Phrase):
        words = node.words
        if len(words) == 1:
            w = words[0]
            return lambda d, s: w in s
        return lambda d, s: words[0] in s and _phrase_at(words, d.tokens)
    if isinstance(node, Field):
        return _field_pred(node, sites)
    raise TypeError(f"not a query node: {node!r}")


def _compile_compound(node: And | Or | Not | Near, prefix_keys: bool,
                      sites: SiteTable | None) -> Pred:
    if isinstance(node, Near):
        left, right, gap = node.left, node.right, node.distance + 1
        lp, rp = compile_node(left, prefix_keys), compile_node(right, prefix_keys)

        def near(d: Doc, s: frozenset) -> bool:
            if not (lp(d, s) and rp(d, s)):
                return False
            rs = _positions(right, d.tokens)
            return any(abs(i - j) <= gap for i in _positions(left, d.tokens) for j in rs)
        return near
    if isinstance(node, Not):
        inner = compile_node(node.child, prefix_keys, sites)
        return lambda d, s: not inner(d, s)
    if isinstance(node, And):
        preds = tuple(compile_node(c, prefix_keys, sites) for c in node.children)
        if len(preds) == 2:
            p, q = preds
            return lambda d, s: p(d, s) and q(d, s)
        return lambda d, s: all(p(d, s) for p in preds)
    preds = tuple(compile_node(c, prefix_keys, sites) for c in node.children)
    if len(preds) == 2:
        p, q = preds
        return lambda d, s: p(d, s) or q(d, s)
    return lambda d, s: any(p(d, s) for p in preds)


def _field_pred(node: Field, sites: SiteTable | None) -> Pred:
    v = node.value
    name = node.name
    if name == "near":
        site = sites.find(v) if sites is not None else None
        if site is None:
            return lambda d, s: False
        km = sites.max_km  # type: ignore[union-attr]
        return lambda d, s: d.has_geo and site_contains(site, d, km)
    if name == "lang":
        return lambda d, s: d.lang == v
    if name == "author":
        return lambda d, s: d.handle == v
    if name == "source":
        return lambda d, s: d.source == v
    if name == "is":
        return lambda d, s: d.kind == v
    if name == "has":
        attr = "has_" + v
        return lambda d, s: bool(getattr(d, attr))
    dt: datetime = parse_date(v)  # type: ignore[assignment]
    if name == "since":
        return lambda d, s: d.created_at is not None and d.created_at >= dt
    return lambda d, s: d.created_at is not None and d.created_at < dt


def matches(node: Node, doc: Doc, sites: SitesArg | SiteTable = None) -> bool:
    """Whether ``doc`` matches ``node`` (``sites``: for ``near:``, see :class:`Matcher`)."""
    table = sites if isinstance(sites, SiteTable) else SiteTable(sites)
    return compile_node(node, sites=table)(doc, frozenset(doc.tokens))


# --- index ---------------------------------------------------------------------------------

def _rank(keys: frozenset[str]) -> tuple[int, int, int]:
    """Lower is more selective: exact tokens before prefixes before field values."""
    worst = max((2 if k[0] == _FIELD else 1 if k[0] == _PREFIX else 0) for k in keys)
    shortest = min(len(k.lstrip(_PREFIX + "#@")) for k in keys)
    return (worst, len(keys), -shortest)


def triggers(node: Node) -> frozenset[str] | None:
    """Keys one of which any matching doc must have; None when nothing is required."""
    if isinstance(node, (Hashtag, Mention)):
        return frozenset((node.token,))
    if isinstance(node, Term):
        return frozenset(_alts(node.word))
    if isinstance(node, Prefix):
        return frozenset(_PREFIX + a for a in _leaf_alts(node))
    if isinstance(node, Phrase):
        return frozenset((max(node.words, key=len),))
    if isinstance(node, Near):
        return min((triggers(node.left), triggers(node.right)), key=_rank)  # type: ignore
    if isinstance(node, Field):
        if node.name in ("since", "until"):
            return None
        if node.name == "near":  # only posts with a place can be at a site
            return frozenset((f"{_FIELD}has=geo",))
        return frozenset((f"{_FIELD}{node.name}={node.value}",))
    if isinstance(node, And):
        options = [t for t in map(triggers, node.children) if t is not None]
        return min(options, key=_rank) if options else None
    if isinstance(node, Or):
        out: set[str] = set()
        for child in node.children:
            t = triggers(child)
            if t is None:
                return None
            out |= t
        return frozenset(out)
    return None  # Not


def _prefix_stems(node: Node) -> set[str]:
    if isinstance(node, Prefix):
        return set(_leaf_alts(node))
    if isinstance(node, Near):
        return _prefix_stems(node.left) | _prefix_stems(node.right)
    if isinstance(node, Not):
        return _prefix_stems(node.child)
    if isinstance(node, (And, Or)):
        return set().union(*map(_prefix_stems, node.children))
    return set()


_FIELD_ATTRS = {"source": "source", "is": "kind", "lang": "lang", "author": "handle"}
_NO_HITS: tuple[tuple[int, ...], tuple[str, ...]] = ((), ())


class _TokenCache(dict):
    """token -> (monitors it can trigger, prefix keys it satisfies); computed on first sight,
    dropped wholesale when it grows past ``size`` (the stream's vocabulary drifts)."""

    def __init__(self, compute: Callable[[str], tuple[tuple[int, ...], tuple[str, ...]]],
                 size: int) -> None:
        super().__init__()
        self.compute = compute
        self.size = size

    def __missing__(self, tok: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        if len(self) >= self.size:
            self.clear()
        entry = self[tok] = self.compute(tok)
        return entry


class Matcher:
    """Run many monitors over each doc. ``match`` returns the sorted names that match.

    Each token of a doc is looked up once in a per-token cache giving the monitors it can
    trigger (exact tokens and prefixes) and the prefix stems it satisfies; only those
    candidates, the monitors indexed by the doc's field values and the few unindexable ones
    are evaluated.
    """

    CACHE_SIZE = 200_000

    def __init__(self, queries: Mapping[str, str | Node], sites: SitesArg = None,
                 max_km: float | None = None) -> None:
        """``sites`` (a mapping name → :class:`~perron.places.Site`, or a list of sites)
        resolve ``near:NAME``; a monitor naming an unknown site never matches. ``max_km``:
        the largest place box that counts (default: the ``places.max_bbox_km`` setting)."""
        table = SiteTable(sites, max_km)
        names = sorted(queries)
        self.names = names
        self._preds: list[Pred] = []
        self._exact: dict[str, list[int]] = {}
        self._fields: dict[tuple[str, str], list[int]] = {}
        trigger_prefix: dict[str, list[int]] = {}
        stems: set[str] = set()
        self._always: list[int] = []
        for i, name in enumerate(names):
            q = queries[name]
            node = parse(q) if isinstance(q, str) else q
            self._preds.append(compile_node(node, prefix_keys=True, sites=table))
            stems |= _prefix_stems(node)
            keys = triggers(node)
            if keys is None:
                self._always.append(i)
                continue
            for k in keys:
                if k[0] == _PREFIX:
                    trigger_prefix.setdefault(k[1:], []).append(i)
                elif k[0] == _FIELD:
                    fname, _, value = k[1:].partition("=")
                    self._fields.setdefault((fname, value), []).append(i)
                else:
                    self._exact.setdefault(k, []).append(i)
        self._trigger_prefix = trigger_prefix
        self._stems = stems
        self._stem_lengths = sorted({len(p) for p in stems})
        self._field_names = sorted({f for f, _ in self._fields if f != "has"})
        self._has = [(v, self._fields[("has", v)]) for v in ("link", "media", "geo")
                     if ("has", v) in self._fields]
        self._cache = _TokenCache(self._token_entry, self.CACHE_SIZE)

    def _token_entry(self, tok: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
        hits = list(self._exact.get(tok, ()))
        pkeys = []
        for n in self._stem_lengths:
            if n > len(tok):
                break
            stem = tok[:n]
            if stem in self._stems:
                pkeys.append(_PREFIX + stem)
                hits.extend(self._trigger_prefix.get(stem, ()))
        return (tuple(hits), tuple(pkeys)) if hits or pkeys else _NO_HITS

    def _scan(self, doc: Doc) -> tuple[set[int], frozenset[str]]:
        """Candidate monitors for ``doc`` and the token set the predicates read."""
        cands: set[int] = set(self._always)
        toks = frozenset(doc.tokens)
        extra: list[str] = []
        for hits, pkeys in map(self._cache.__getitem__, toks):
            if hits:
                cands.update(hits)
            if pkeys:
                extra.extend(pkeys)
        if self._fields:
            fields = self._fields
            for fname in self._field_names:
                hits = fields.get((fname, getattr(doc, _FIELD_ATTRS[fname])))
                if hits:
                    cands.update(hits)
            for v, hits in self._has:
                if getattr(doc, "has_" + v):
                    cands.update(hits)
        return cands, (toks.union(extra) if extra else toks)

    def match(self, doc: Doc) -> list[str]:
        cands, toks = self._scan(doc)
        preds, names = self._preds, self.names
        hit = [i for i in cands if preds[i](doc, toks)]
        hit.sort()
        return [names[i] for i in hit]
