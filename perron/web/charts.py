"""Charts as inline SVG built on the server from perron's own numbers (no JS library, no CDN).
Every label goes through ``markupsafe.escape``; the output is safe markup by construction."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#1f6f8b", "#e07a5f", "#81b29a", "#f2cc8f", "#3d405b", "#9c6644", "#6d597a",
           "#b56576", "#457b9d", "#a8dadc", "#e63946", "#2a9d8f")
SENTIMENT = {"positive": "#2a9d8f", "neutral": "#a0a0a0", "negative": "#e63946"}


def bars(series: Sequence[tuple[str, int]], width: int = 720, height: int = 180,
         title: str = "") -> Markup:
    """Vertical bars (volume per day)."""
    if not series:
        return Markup("")
    top = max(n for _, n in series) or 1
    bw = width / len(series)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 20}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, n) in enumerate(series):
        h = (height - 10) * n / top
        x = i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{height - h:.1f}" width="{max(bw - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(label)}: {n}'
                     '</title></rect>')
    parts.append(f'<text x="0" y="{height + 15}" font-size="11">{escape(series[0][0])}</text>')
    parts.append(f'<text x="{width}" y="{height + 15}" font-size="11" text-anchor="end">'
                 f'{escape(series[-1][0])}</text>')
    parts.append(f'<text x="{width}" y="12" font-size="11" text-anchor="end">max {top}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(series: Sequence[tuple[str, int]], width: int = 420, colors: dict[str, str] | None = None,
          title: str = "", names: dict[str, str] | None = None) -> Markup:
    """Horizontal bars with shares (sentiment mix, share of voice); ``names`` shows a label in
    the reader's language (colours stay keyed by the stored label)."""
    if not series:
        return Markup("")
    total = sum(n for _, n in series) or 1
    row = 24
    height = row * len(series)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, n) in enumerate(series):
        share = n / total
        w = (width - 200) * share
        color = (colors or {}).get(label, PALETTE[i % len(PALETTE)])
        y = i * row
        shown = (names or {}).get(label, label)
        parts.append(f'<text x="0" y="{y + 16}" font-size="12">{escape(shown[:22])}</text>')
        parts.append(f'<rect x="120" y="{y + 4}" width="{max(w, 1):.1f}" height="16" '
                     f'fill="{color}"><title>{escape(label)}: {n}</title></rect>')
        parts.append(f'<text x="{124 + w:.1f}" y="{y + 16}" font-size="11">{share:.0%} ({n})'
                     '</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def points_map(points: Sequence[tuple[str, float, float, int | None]], width: int = 720,
               height: int = 360) -> Markup:
    """Sites as circles on an equirectangular frame fitted to them; radius ~ sqrt(pulse)."""
    pts = [(n, la, lo, c) for n, la, lo, c in points if la is not None and lo is not None]
    if not pts:
        return Markup("")
    lats = [p[1] for p in pts]
    lons = [p[2] for p in pts]
    pad = 0.5
    s, n = min(lats) - pad, max(lats) + pad
    w, e = min(lons) - pad, max(lons) + pad
    top = max((p[3] or 0) for p in pts) or 1
    parts = [f'<svg class="chart map" viewBox="0 0 {width} {height}" role="img" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eef4f7"/>']
    for name, lat, lon, count in pts:
        x = (lon - w) / (e - w) * width
        y = (n - lat) / (n - s) * height
        r = 4 + 20 * math.sqrt((count or 0) / top)
        shown = count if count is not None else "?"
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{PALETTE[1]}" '
                     f'fill-opacity="0.6"><title>{escape(name)}: {shown}</title></circle>')
        parts.append(f'<text x="{x + r + 2:.1f}" y="{y + 4:.1f}" font-size="12">'
                     f'{escape(name[:30])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
