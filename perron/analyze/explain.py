"""Explain a spike: what is over-represented in the spike window against a baseline period.

Every figure can be checked by hand. For each key (a term, a hashtag, a mention, an author, a
source) we count **posts**, not occurrences (a post that says ``#grève`` five times counts once):

- ``window_count`` / ``baseline_count``: posts containing the key in each period;
- ``window_rate`` / ``baseline_rate``: those counts divided by the number of posts of the period;
- ``lift``: ratio of the two rates, each smoothed by half a post (so a key absent from the
  baseline has a finite lift: ``(w + 0.5) / (n_w + 1)`` over ``(b + 0.5) / (n_b + 1)``);
- ``score``: the z of the log-odds ratio with an informative Dirichlet (here beta) prior, Monroe,
  Colaresi & Quinn 2008 "Fightin' Words" §3.5, the prior being the pooled rate of the key times
  ``prior_strength`` posts — frequent keys need a big change, rare keys cannot win on luck;
- ``g2``: Dunning's log-likelihood ratio G² of the 2×2 table (posts with / without the key,
  window / baseline); above 10.83 means p < 0.001 for one key taken alone.

Keys are ranked by ``score``; only keys more frequent in the window than in the baseline and seen in
at least ``min_count`` window posts are kept. Terms are folded words (:mod:`perron.text`), without
French and English stop words, digits-only tokens and one-letter tokens.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from perron.text import fold, tokens

# Small hand-written stop lists (folded: no accents). Function words only: content words that are
# frequent in a monitor ("prix", "service") are exactly what an explanation must be free to show.
_FR = """
a ai aie aient ainsi alors as au aucun aucune aupres auquel aussi autre autres aux avait avant avec
avez avoir avons ayant bah beaucoup bien bon c ca car ce ceci cela celle celles celui cependant ces
cet cette ceux chaque chez ci comme comment d dans de depuis des deja donc dont du elle elles en
encore entre es est et etaient etait ete etes etre eu eux faire fait fais font hors ici il ils j je
jusqu l la le les leur leurs lui m ma mais me meme memes mes moi moins mon n ne ni non nos notre
nous on ont ou où oui par parce pas peu peut plus pour pourquoi puis qu quand que quel quelle
quelles quels qui quoi s sa sans se sera ses seulement si sien soi soit son sont sous suis sur t ta
te tes toi ton tous tout toute toutes tres trop tu un une unes uns va vais vas via voici voila vos
votre vous vu y rt cc
"""
_EN = """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours out over own same she should so some
such than that the their theirs them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours
yourself im dont cant its thats rt amp via
"""
STOP_WORDS: frozenset[str] = frozenset(fold(w) for w in (_FR + _EN).split())


@dataclass
class ExplainPost:
    """A post as the explainer sees it. ``tokens`` come from :func:`perron.text.tokens`."""

    id: str
    tokens: Sequence[str]
    author: str | None
    source: str
    engagement: float = 0

    @classmethod
    def from_text(cls, id: str, text: str, author: str | None, source: str,
                  engagement: float = 0) -> ExplainPost:
        return cls(id=id, tokens=tokens(text), author=author, source=source,
                   engagement=engagement)


@dataclass
class Overrep:
    """One over-represented key with the figures that justify it."""

    key: str
    window_count: int
    baseline_count: int
    window_rate: float
    baseline_rate: float
    lift: float
    score: float
    g2: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class Explanation:
    window_posts: int
    baseline_posts: int
    terms: list[Overrep] = field(default_factory=list)
    hashtags: list[Overrep] = field(default_factory=list)
    mentions: list[Overrep] = field(default_factory=list)
    authors: list[Overrep] = field(default_factory=list)
    sources: list[Overrep] = field(default_factory=list)
    top_posts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "window_posts": self.window_posts,
            "baseline_posts": self.baseline_posts,
            **{name: [o.to_dict() for o in getattr(self, name)]
               for name in ("terms", "hashtags", "mentions", "authors", "sources")},
            "top_posts": list(self.top_posts),
        }

    def summary(self, lang: str = "fr") -> str:
        """One readable paragraph, in French (``"fr"``) or English (``"en"``)."""
        if lang not in _PHRASES:
            raise ValueError(f"lang must be one of {sorted(_PHRASES)}, not {lang!r}")
        ph = _PHRASES[lang]
        parts = [ph["head"].format(w=self.window_posts, b=self.baseline_posts)]
        for name in ("hashtags", "terms", "authors", "mentions", "sources"):
            items = getattr(self, name)[:3]
            if items:
                listed = ", ".join(_describe(o, ph, name) for o in items)
                parts.append(f"{ph[name]} : {listed}" if lang == "fr" else f"{ph[name]}: {listed}")
        if len(parts) == 1:
            parts.append(ph["nothing"])
        if self.top_posts:
            parts.append(ph["posts"].format(ids=", ".join(self.top_posts[:3])))
        return ". ".join(parts) + "."


_PHRASES: dict[str, dict[str, str]] = {
    "fr": {
        "head": "Fenêtre du pic : {w} posts, contre {b} dans la période de référence",
        "hashtags": "Mots-dièse surreprésentés", "terms": "Termes surreprésentés",
        "authors": "Auteurs surreprésentés", "mentions": "Comptes mentionnés",
        "sources": "Sources", "item": "{key} ({w} posts contre {b}, ×{lift})",
        "nothing": "Aucun terme, auteur ni source nettement surreprésenté",
        "posts": "Posts à vérifier en premier : {ids}",
    },
    "en": {
        "head": "Spike window: {w} posts, against {b} in the baseline period",
        "hashtags": "Over-represented hashtags", "terms": "Over-represented terms",
        "authors": "Over-represented authors", "mentions": "Accounts mentioned",
        "sources": "Sources", "item": "{key} ({w} posts against {b}, ×{lift})",
        "nothing": "No term, author or source is clearly over-represented",
        "posts": "Posts to check first: {ids}",
    },
}


def _describe(o: Overrep, ph: dict[str, str], name: str) -> str:
    key = f"@{o.key}" if name == "authors" and not o.key.startswith("@") else o.key
    if name == "terms":
        key = f"« {key} »" if ph is _PHRASES["fr"] else f"“{key}”"
    return ph["item"].format(key=key, w=o.window_count, b=o.baseline_count,
                             lift=f"{o.lift:.1f}")


def _is_term(tok: str) -> bool:
    return (tok[:1] not in ("#", "@") and len(tok) > 1 and not tok.isdigit()
            and tok not in STOP_WORDS)


_Keys = Callable[[ExplainPost], set[str]]

_FAMILIES: dict[str, _Keys] = {
    "terms": lambda p: {t for t in (fold(x) for x in p.tokens) if _is_term(t)},
    "hashtags": lambda p: {t for t in (fold(x) for x in p.tokens)
                           if t.startswith("#") and len(t) > 1},
    "mentions": lambda p: {t for t in (fold(x) for x in p.tokens)
                           if t.startswith("@") and len(t) > 1},
    "authors": lambda p: {p.author} if p.author else set(),
    "sources": lambda p: {p.source} if p.source else set(),
}


def _g2(a: float, b: float, c: float, d: float) -> float:
    """G² of the 2×2 table [[a, b], [c, d]] (rows: window / baseline; columns: with / without)."""
    n = a + b + c + d
    total = 0.0
    for obs, row, col in ((a, a + b, a + c), (b, a + b, b + d), (c, c + d, a + c),
                          (d, c + d, b + d)):
        if obs > 0:
            total += obs * math.log(obs * n / (row * col))
    return 2.0 * total


def _rank(window: Counter[str], baseline: Counter[str], n_w: int, n_b: int, top: int,
          min_count: int, prior_strength: float) -> list[Overrep]:
    out: list[Overrep] = []
    n = n_w + n_b
    for key, w in window.items():
        b = baseline.get(key, 0)
        if w < min_count:
            continue
        rate_w, rate_b = w / n_w, (b / n_b if n_b else 0.0)
        if n_b and rate_w <= rate_b:
            continue
        pooled = (w + b) / n
        a1 = prior_strength * pooled  # prior posts with the key
        a0 = prior_strength * (1.0 - pooled)  # prior posts without it
        a0 = max(a0, 1e-3)
        delta = (math.log((w + a1) / (n_w - w + a0))
                 - math.log((b + a1) / (n_b - b + a0)))
        var = 1 / (w + a1) + 1 / (n_w - w + a0) + 1 / (b + a1) + 1 / (n_b - b + a0)
        lift = ((w + 0.5) / (n_w + 1)) / ((b + 0.5) / (n_b + 1))
        out.append(Overrep(key=key, window_count=w, baseline_count=b, window_rate=rate_w,
                           baseline_rate=rate_b, lift=lift, score=delta / math.sqrt(var),
                           g2=_g2(w, n_w - w, b, n_b - b)))
    out.sort(key=lambda o: (-o.score, -o.window_count, o.key))
    return out[:top]


def explain(window: Iterable[ExplainPost], baseline: Iterable[ExplainPost], top: int = 10,
            min_count: int = 2, prior_strength: float = 10.0) -> Explanation:
    """What makes the spike window different from the baseline period.

    ``top`` bounds each list; ``min_count`` is the fewest window posts a key needs;
    ``prior_strength`` is the weight of the pooled-rate prior, in posts.
    """
    window_posts = list(window)
    n_w = len(window_posts)
    counts_w: dict[str, Counter[str]] = {name: Counter() for name in _FAMILIES}
    counts_b: dict[str, Counter[str]] = {name: Counter() for name in _FAMILIES}
    keys_of: list[dict[str, set[str]]] = []
    for post in window_posts:
        keys = {name: fn(post) for name, fn in _FAMILIES.items()}
        keys_of.append(keys)
        for name, ks in keys.items():
            counts_w[name].update(ks)
    n_b = 0
    for post in baseline:
        n_b += 1
        for name, fn in _FAMILIES.items():
            counts_b[name].update(fn(post))
    result = Explanation(window_posts=n_w, baseline_posts=n_b)
    if n_w == 0:
        return result
    for name in _FAMILIES:
        setattr(result, name, _rank(counts_w[name], counts_b[name], n_w, n_b, top, min_count,
                                    prior_strength))
    result.top_posts = _top_posts(window_posts, keys_of, result, top)
    return result


def _top_posts(posts: list[ExplainPost], keys_of: list[dict[str, set[str]]],
               result: Explanation, top: int) -> list[str]:
    """Posts that carry the explanation, ranked by the summed scores of the over-represented keys
    they contain times log2(2 + engagement); when no key is over-represented, by engagement."""
    weights = {name: {o.key: max(o.score, 0.0) for o in getattr(result, name)}
               for name in _FAMILIES}

    def representativeness(i: int) -> float:
        return sum(weights[name].get(k, 0.0) for name, ks in keys_of[i].items() for k in ks)

    rep = [representativeness(i) for i in range(len(posts))]
    order = sorted(range(len(posts)),
                   key=lambda i: (-rep[i] * math.log2(2 + posts[i].engagement),
                                  -posts[i].engagement, posts[i].id))
    if any(r > 0 for r in rep):  # only posts that carry an over-represented key
        order = [i for i in order if rep[i] > 0]
    seen: set[tuple[str, ...]] = set()
    out: list[str] = []
    for i in order:  # one post per identical text: copy-paste campaigns show once
        sig = tuple(posts[i].tokens)
        if sig in seen:
            continue
        seen.add(sig)
        out.append(posts[i].id)
        if len(out) == top:
            break
    return out
