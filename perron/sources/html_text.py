"""HTML fragments (Mastodon ``content``, profile notes, feed items) to plain text.

Standard library only. Block elements become paragraph breaks, ``<br>`` a line break, runs of
whitespace collapse as a browser would, entities are unescaped (``&eacute;`` → ``é``), and the
text of every element is kept — Mastodon hides parts of long links in ``<span class="invisible">``,
so keeping them gives back the full URL. Links other than mentions and hashtags are collected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCK = frozenset({"p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4",
                    "h5", "h6", "table", "tr", "section", "article", "header", "footer", "hr"})
_SKIP = frozenset({"script", "style", "template"})
_SPACE = re.compile(r"[ \t\r\n\f]+")
_PARA = "\x00P"  # markers, resolved once all text is in
_LINE = "\x00L"


@dataclass
class Rendered:
    text: str
    links: list[str] = field(default_factory=list)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skip += 1
        elif tag == "br":
            self.parts.append(_LINE)
        elif tag in _BLOCK:
            self.parts.append(_PARA)
            self.pre += tag == "pre"
        elif tag == "a":
            a = dict(attrs)
            href = (a.get("href") or "").strip()
            classes = (a.get("class") or "").split()
            rel = (a.get("rel") or "").split()
            if (href.startswith(("http://", "https://")) and "mention" not in classes
                    and "hashtag" not in classes and "tag" not in rel):
                self.links.append(href)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append(_LINE)
        elif tag in _BLOCK:
            self.parts.append(_PARA)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK:
            self.parts.append(_PARA)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.parts.append(data.replace("\n", _LINE) if self.pre else _SPACE.sub(" ", data))


def render_html(html: str) -> Rendered:
    """Plain text and outbound links of an HTML fragment."""
    parser = _Renderer()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    lines: list[str] = []
    for para in text.split(_PARA):
        para = "\n".join(line.strip(" ") for line in para.split(_LINE)).strip("\n")
        if para.strip():
            lines.append(para)
    return Rendered("\n\n".join(lines), list(dict.fromkeys(parser.links)))


def html_to_text(html: str | None) -> str:
    """``"<p>L&#39;été</p><p>à Montréal<br>#MTL</p>"`` → ``"L'été\\n\\nà Montréal\\n#MTL"``."""
    return render_html(html).text if html else ""
