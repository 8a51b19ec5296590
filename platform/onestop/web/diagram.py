"""A procedure's BPMN diagram drawn as inline SVG, server-side, with the dossier's steps coloured:
done (green), under way (amber, thicker), not reached (grey). Only presentation attributes are
used (no style attribute, no script), so the page's Content-Security-Policy needs no exception."""

from xml.sax.saxutils import escape

from markupsafe import Markup

DONE = ("#e6f4ea", "#1e7b34")
NOW = ("#fff4d6", "#9a6700")
LATER = ("#ffffff", "#8a9099")
PROBLEM = ("#fde7e9", "#b3261e")


def _colours(element_id, done, current, marked=frozenset()):
    if element_id in marked:
        return PROBLEM, 3
    if element_id in current:
        return NOW, 3
    if element_id in done:
        return DONE, 2
    return LATER, 1.5


def _lines(text, width_chars, max_lines=4):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width_chars:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(1, width_chars - 1)] + "…"
    return lines


def _text(lines, cx, top, size=11):
    out = []
    for i, line in enumerate(lines):
        out.append(f'<text x="{cx}" y="{top + (i + 1) * (size + 2)}" font-size="{size}" text-anchor="middle" '
                   f'fill="#1b1b1b">{escape(line)}</text>')
    return "".join(out)


def render(diagram, done=frozenset(), current=frozenset(), title="", marked=frozenset()) -> Markup:
    """The diagram as an <svg> element scaled to its container."""
    if not diagram:
        return Markup("")
    pad = 10
    left, top = diagram["left"] - pad, diagram["top"] - pad
    width, height = diagram["width"] + 2 * pad, diagram["height"] + 2 * pad
    parts = [f'<svg class="diagram" viewBox="{left} {top} {width} {height}" role="img" aria-labelledby="diagram-title" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">',
             f'<title id="diagram-title">{escape(title)}</title>',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#666"/></marker></defs>']
    shapes = sorted(diagram["shapes"], key=lambda s: {"pool": 0, "lane": 1, "subprocess": 2}.get(s["kind"], 3))
    for s in shapes:
        x, y, w, h = s["x"], s["y"], s["w"], s["h"]
        if s["kind"] in ("pool", "lane"):
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#b8bec6"/>')
            # Long unit names wrap into the 30-pixel label band (two lines of 11 px).
            lines = _lines(s["name"], max(6, int(h / 6.4)), 2)
            for i, line in enumerate(lines):
                lx = x + (15 if len(lines) == 1 else 10 + 12 * i)
                parts.append(f'<text x="{lx}" y="{y + h / 2}" font-size="11" text-anchor="middle" fill="#5a5a5a" '
                             f'dominant-baseline="middle" transform="rotate(-90 {lx} {y + h / 2})">{escape(line)}</text>')
            continue
        (fill, stroke), weight = _colours(s["id"], done, current, marked)
        state = "problem" if s["id"] in marked else "now" if s["id"] in current else "done" if s["id"] in done else "later"
        marker = f' data-state="{state}"'
        cx, cy = x + w / 2, y + h / 2
        if s["kind"] in ("task", "subprocess", "other"):
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
                         f'stroke-width="{weight}" data-element="{escape(s["id"])}"{marker}/>')
            lines = _lines(s["name"], max(6, int(w / 6.2)))
            parts.append(_text(lines, cx, cy - (len(lines) * 13) / 2 - 2))
        elif s["kind"] == "event":
            edge = 3.5 if s["tag"] == "endEvent" else weight
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{min(w, h) / 2}" fill="{fill}" stroke="{stroke}" '
                         f'stroke-width="{edge}" data-element="{escape(s["id"])}"{marker}/>')
            parts.append(_text(_lines(s["name"], 18, 3), cx, y + h + 2, 10))
        elif s["kind"] == "gateway":
            points = f"{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}"
            parts.append(f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="{weight}" '
                         f'data-element="{escape(s["id"])}"{marker}/>')
            parts.append(_text(_lines(s["name"], 20, 3), cx, y + h + 2, 10))
    for e in diagram["edges"]:
        points = " ".join(f"{px},{py}" for px, py in e["points"])
        parts.append(f'<polyline points="{points}" fill="none" stroke="#666" stroke-width="1.3" '
                     f'marker-end="url(#arrow)"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def init_app(app):
    app.jinja_env.globals["render_diagram"] = render
