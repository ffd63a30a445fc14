"""Text folding and tokenization shared by the store's full-text index and the stream matcher.

One definition of "a word" for the whole product, so that a monitor means the same thing on the
live stream and on history:

- case, accents and ligatures never matter (``Montréal`` = ``montreal``, ``œuvre`` = ``oeuvre``);
- French elisions are dropped (``l'État`` → ``etat``, ``qu'il`` → ``il``, ``jusqu'ici`` → ``ici``);
- ``#Hashtag`` becomes the token ``#hashtag`` and ``@handle`` the token ``@handle``
  (dots and dashes inside a handle become ``_``: ``@le-monde.fr`` → ``@le_monde_fr``);
- URLs are not words;
- every other run of letters and digits is a word (hyphens and apostrophes split words).

Every token is made only of characters that SQLite's ``unicode61`` tokenizer treats as token
characters (letters and digits), plus ``# @ _`` which the index declares as token characters.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

_LIGATURE_MAP = {"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss", "’": "'", "ʼ": "'",
                 "‘": "'", "`": "'", "ﬁ": "fi", "ﬂ": "fl"}
_LIGATURES = str.maketrans(_LIGATURE_MAP)

ELISIONS = ("l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu")

_URL = r"(?:https?://|www\.)\S+"
_TAG = r"#[^\W]+"  # \w incl. underscore
_MENTION = r"(?<![\w@])@(?:\w[\w.\-@]*\w|\w)"
_WORD = r"[^\W_]+(?:'[^\W_]+)*"  # keep elided words together, split afterwards
_TOKEN_RE = re.compile(f"(?P<url>{_URL})|(?P<tag>{_TAG})|(?P<mention>{_MENTION})|(?P<word>{_WORD})")
_ELISION_RE = re.compile(r"^(?:" + "|".join(ELISIONS) + r")'(?=[^\W_])")
_HANDLE_SEP = re.compile(r"[._\-@]+")


@cache
def _combining_re() -> re.Pattern[str]:
    """Every code point with a non-zero canonical combining class, as ranges (built once)."""
    ranges: list[list[int]] = []
    for c in range(0x300, 0x20000):  # no combining mark lies above plane 1
        if unicodedata.combining(chr(c)):
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
    body = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return re.compile(f"[{body}]+")


_LIGATURE_RE = re.compile("[" + "".join(_LIGATURE_MAP) + "]")


def fold(text: str) -> str:
    """Lowercase, strip accents and ligatures. ``"Élysée"`` → ``"elysee"``."""
    if text.isascii():
        return text.lower().replace("`", "'")
    table, other = _char_folds()
    if other.search(text) is None:  # Latin letters and emoji only: one character at a time
        return text.translate(table)
    return _fold_text(text)


def _fold_text(text: str) -> str:
    text = _LIGATURE_RE.sub(lambda m: _LIGATURE_MAP[m.group()], text)
    text = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", _combining_re().sub("", text)).casefold()


# Blocks whose characters fold on their own: Latin (Latin-1, Extended-A/B and Additional),
# general punctuation (’ … and the ZWJ), currency and letterlike symbols, symbols, dingbats,
# the emoji variation selector and emoji. None is a combining mark, and once the marks their
# decompositions bring are dropped none composes with a neighbour, so folding a text of them one
# character at a time (with the very same ``_fold_text``) gives what folding it whole gives.
# Other scripts take the whole-text path.
_PER_CHARACTER = ((0x80, 0x250), (0x1E00, 0x1F00), (0x2000, 0x2070), (0x20A0, 0x20D0),
                  (0x2100, 0x2150), (0x2600, 0x27C0), (0xFE0F, 0xFE10), (0x1F300, 0x1FB00))


@cache
def _char_folds() -> tuple[dict[int, str], re.Pattern[str]]:
    """A ``str.translate`` table for ASCII and the blocks above, and a pattern that finds any
    other character."""
    table = {c: _fold_text(chr(c)) for c in range(0x80)}
    table[ord("`")] = "'"
    for a, b in _PER_CHARACTER:
        for c in range(a, b):
            assert not unicodedata.combining(chr(c))
            table[c] = _fold_text(chr(c))
    table = {c: f for c, f in table.items() if f != chr(c)}
    body = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b - 1))}" for a, b in _PER_CHARACTER)
    return table, re.compile(f"[^\\x00-\\x7f{body}]")


def _clean(part: str) -> str:
    """Keep only letters and digits (the characters an index tokenizer keeps)."""
    return "".join(ch for ch in part if ch.isalnum())


def _handle_token(handle: str) -> str:
    body = re.sub(r"[.\-@]+", "_", fold(handle)).strip("_")
    return "@" + "_".join(filter(None, (_clean(p) for p in body.split("_"))))


def _tag_token(tag: str) -> str:
    return "#" + "_".join(filter(None, (_clean(p) for p in fold(tag).split("_"))))


def words(text: str) -> list[str]:
    """Plain words of a piece of text, folded, elisions removed (no hashtags, mentions, URLs)."""
    return [t for t in tokens(text) if t[0] not in "#@"]


@lru_cache(maxsize=1 << 16)
def _elided(word: str) -> tuple[str, ...]:
    return tuple(p for p in _ELISION_RE.sub("", word).split("'") if p)


def tokens(text: str) -> list[str]:
    """The token stream of a post's text, in order. Positions are list indexes.

    The text is folded once; a matched word is then made only of letters and digits (``\\w``
    less ``_``), so no per-character cleaning is needed on the hot path.
    """
    out: list[str] = []
    append = out.append
    for m in _TOKEN_RE.finditer(fold(text)):
        kind = m.lastgroup
        value = m.group()
        if kind == "word":
            if "'" in value:
                out.extend(_elided(value))
            else:
                append(value)
        elif kind == "tag":
            tok = "#" + "_".join(filter(None, value[1:].split("_")))
            if len(tok) > 1:
                append(tok)
        elif kind == "mention":
            tok = "@" + "_".join(filter(None, _HANDLE_SEP.split(value[1:])))
            if len(tok) > 1:
                append(tok)
    return out


def handle_token(handle: str) -> str:
    """The token an ``@handle`` becomes (the leading ``@`` is optional in the argument)."""
    return _handle_token(handle.lstrip("@"))


def hashtag_token(tag: str) -> str:
    return _tag_token(tag.lstrip("#"))


def extract_hashtags(text: str) -> list[str]:
    """Hashtags as written (without ``#``), for sources whose payload has no entity list."""
    return [m.group()[1:] for m in re.finditer(_TAG, re.sub(_URL, " ", text))]


def extract_mentions(text: str) -> list[str]:
    return [m.group()[1:] for m in re.finditer(_MENTION, re.sub(_URL, " ", text))]


def extract_urls(text: str) -> list[str]:
    return [u.rstrip(".,;:!?)»\"'") for u in re.findall(r"https?://\S+", text)]
