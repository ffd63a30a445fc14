"""The query AST: small frozen nodes with a canonical ``str()`` that parses back to the same node.

Text leaves hold tokens already run through :mod:`perron.text` (folded, elisions removed), so
evaluators never fold again. ``and_`` / ``or_`` build flattened nodes; the parser uses them, so
``parse(str(node)) == node`` for every node the parser can produce.
"""

from __future__ import annotations

from dataclasses import dataclass

KEYWORDS = frozenset({"and", "or", "not", "et", "ou", "sauf"})


@dataclass(frozen=True, slots=True)
class Term:
    """A plain word. Also finds the same word as a hashtag or a mention."""

    word: str

    def __str__(self) -> str:
        return self.word


@dataclass(frozen=True, slots=True)
class Hashtag:
    token: str  # with the leading '#'

    def __str__(self) -> str:
        return self.token


@dataclass(frozen=True, slots=True)
class Mention:
    token: str  # with the leading '@'

    def __str__(self) -> str:
        return self.token


@dataclass(frozen=True, slots=True)
class Prefix:
    """``eco*``: a token starting with ``stem``. A plain stem also matches ``#eco…`` and ``@eco…``;
    a ``#``/``@`` stem matches only hashtags/mentions."""

    stem: str

    def __str__(self) -> str:
        return self.stem + "*"


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive tokens, compared exactly (a plain word does not match its hashtag form)."""

    words: tuple[str, ...]

    def __str__(self) -> str:
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True, slots=True)
class Near:
    """Two single-token leaves at most ``distance`` tokens apart, either order."""

    left: Term | Hashtag | Mention | Prefix
    right: Term | Hashtag | Mention | Prefix
    distance: int

    def __str__(self) -> str:
        return f"{self.left} NEAR/{self.distance} {self.right}"


@dataclass(frozen=True, slots=True)
class Field:
    """``name:value`` with a normalized value (see :mod:`perron.query.parse` for each field)."""

    name: str
    value: str

    def __str__(self) -> str:
        if self.name == "near" and ("://" in self.value
                                    or any(c.isspace() or c in '()"' for c in self.value)):
            return f'{self.name}:"{self.value}"'  # a site name with spaces: near:"Usine Nord"
        return f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Not:
    child: Node

    def __str__(self) -> str:
        if isinstance(self.child, (And, Or, Not)):
            return f"NOT {_wrap(self.child)}"
        return f"-{self.child}"


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " ".join(_wrap(c) if isinstance(c, Or) else str(c) for c in self.children)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(str(c) for c in self.children)


Node = Term | Hashtag | Mention | Prefix | Phrase | Near | Field | Not | And | Or
TEXT_LEAVES = (Term, Hashtag, Mention, Prefix, Phrase, Near)
NEAR_OPERANDS = (Term, Hashtag, Mention, Prefix)


def _wrap(node: Node) -> str:
    return f"({node})"


def and_(*nodes: Node) -> Node:
    flat: list[Node] = []
    for n in nodes:
        flat.extend(n.children if isinstance(n, And) else (n,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*nodes: Node) -> Node:
    flat: list[Node] = []
    for n in nodes:
        flat.extend(n.children if isinstance(n, Or) else (n,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def is_text(node: Node) -> bool:
    """True when the node only looks at the text (a full-text index can answer it alone)."""
    if isinstance(node, TEXT_LEAVES):
        return True
    if isinstance(node, Not):
        return is_text(node.child)
    if isinstance(node, (And, Or)):
        return all(is_text(c) for c in node.children)
    return False
