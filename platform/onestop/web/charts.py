"""Charts drawn by the server as SVG: readable without JavaScript, printable, accessible (each chart
has a title and its numbers are in a table beside it)."""

import math

from markupsafe import Markup, escape

from .i18n import number

COLOURS = ("#1f5fa8", "#2e8540", "#b3261e", "#9a6700")


def bars(title: str, labels: list[str], series: dict[str, list[float]], height=220, unit="") -> Markup:
    """Grouped vertical bars: one group per label, one bar per series (in the order given)."""
    names = list(series)
    highest = max([v for values in series.values() for v in values if v is not None] + [0])
    top = 100 if unit == "%" else max(4, math.ceil(highest / 4) * 4)  # four whole steps on the axis
    group_width, gap, left, bottom = max(18 * len(names) + 14, 50), 6, 36, 40
    width = left + len(labels) * group_width + 10
    inner = height - bottom - 20
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="10">',
             f"<title>{escape(title)}</title>"]
    for i in range(5):  # grid lines with their values
        y = 20 + inner * i / 4
        value = top * (4 - i) / 4
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="#5a5a5a">{number(value)}{unit}</text>')
    for g, label in enumerate(labels):
        x0 = left + g * group_width + gap
        for s, name in enumerate(names):
            value = series[name][g] or 0
            h = inner * value / top
            x, y = x0 + s * 18, 20 + inner - h
            parts.append(f'<rect x="{x}" y="{y:.1f}" width="15" height="{h:.1f}" fill="{COLOURS[s % len(COLOURS)]}">'
                         f"<title>{escape(name)} {escape(label)}: {number(value, 1)}{unit}</title></rect>")
        parts.append(f'<text x="{x0 + 9 * len(names)}" y="{height - bottom + 14}" text-anchor="middle" '
                     f'fill="#333">{escape(label)}</text>')
    for s, name in enumerate(names):  # the legend
        x = left + s * 150
        parts.append(f'<rect x="{x}" y="{height - 16}" width="10" height="10" fill="{COLOURS[s % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="{height - 7}" fill="#333">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
