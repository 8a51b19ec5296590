"""A procedure's BPMN diagram drawn as inline SVG, server-side, with the dossier's steps coloured:
done (green), under way (amber, thicker), not reached (grey); or, comparing two versions, the
elements added, removed or changed, each with a sign as well as a colour (+, −, ~ in a badge, and a
dashed outline for what was removed) so that colour is never the only cue. Only presentation
attributes are used (no style attribute, no script), so the page's Content-Security-Policy needs
no exception."""

from xml.sax.saxutils import escape

from markupsafe import Markup

DONE = ("#e6f4ea", "#1e7b34")
NOW = ("#fff4d6", "#9a6700")
LATER = ("#ffffff", "#8a9099")
# The drawing's default scale on screen: its smallest labels (10 user units) come out at 12 CSS pixels,
# readable on a phone (WCAG's resize text); wider than the screen, it scrolls and pans, and zooms.
SCALE = 1.2
PROBLEM = ("#fde7e9", "#b3261e")
# A version comparison: colours, the badge's sign, the outline's dash pattern, the word for a title.
CHANGES = {
    "added": (("#e6f4ea", "#1e7b34"), "+", "", "Thêm"),
    "removed": (("#fde7e9", "#b3261e"), "−", "6 4", "Bỏ"),
    "changed": (("#fff4d6", "#9a6700"), "~", "", "Sửa"),
}


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


def _badge(change, x, y):
    (_fill, stroke), sign, _dash, _word = CHANGES[change]
    return (f'<g class="diff-badge" data-diff="{change}" aria-hidden="true"><circle cx="{x}" cy="{y}" r="13" '
            f'fill="{stroke}" stroke="#ffffff" stroke-width="2"/><text x="{x}" y="{y + 6.5}" font-size="20" '
            f'font-weight="bold" text-anchor="middle" fill="#ffffff">{sign}</text></g>')


def _lane(s) -> str:
    x, y, w, h = s["x"], s["y"], s["w"], s["h"]
    parts = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="none" stroke="#b8bec6"/>']
    # Long unit names wrap into the 30-pixel label band (two lines of 11 px).
    lines = _lines(s["name"], max(6, int(h / 6.4)), 2)
    for i, line in enumerate(lines):
        lx = x + (15 if len(lines) == 1 else 10 + 12 * i)
        parts.append(f'<text x="{lx}" y="{y + h / 2}" font-size="11" text-anchor="middle" fill="#5a5a5a" '
                     f'dominant-baseline="middle" transform="rotate(-90 {lx} {y + h / 2})">{escape(line)}</text>')
    return "".join(parts)


def _shape(s, fill, stroke, weight, marker) -> str:
    x, y, w, h = s["x"], s["y"], s["w"], s["h"]
    cx, cy = x + w / 2, y + h / 2
    if s["kind"] in ("task", "subprocess", "other"):
        lines = _lines(s["name"], max(6, int(w / 6.2)))
        return (f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="{weight}" data-element="{escape(s["id"])}"{marker}/>'
                + _text(lines, cx, cy - (len(lines) * 13) / 2 - 2))
    if s["kind"] == "event":
        edge = 3.5 if s["tag"] == "endEvent" else weight
        return (f'<circle cx="{cx}" cy="{cy}" r="{min(w, h) / 2}" fill="{fill}" stroke="{stroke}" '
                f'stroke-width="{edge}" data-element="{escape(s["id"])}"{marker}/>'
                + _text(_lines(s["name"], 18, 3), cx, y + h + 2, 10))
    if s["kind"] == "gateway":
        points = f"{cx},{y} {x + w},{cy} {cx},{y + h} {x},{cy}"
        return (f'<polygon points="{points}" fill="{fill}" stroke="{stroke}" stroke-width="{weight}" '
                f'data-element="{escape(s["id"])}"{marker}/>' + _text(_lines(s["name"], 20, 3), cx, y + h + 2, 10))
    return ""


def _edge(e, change, dom_id) -> str:
    points = " ".join(f"{px},{py}" for px, py in e["points"])
    if change:
        (_fill, stroke), _sign, dash, word = CHANGES[change]
        return (f'<polyline points="{points}" fill="none" stroke="{stroke}" stroke-width="3" '
                f'marker-end="url(#{dom_id}-arrow)" data-element="{escape(e["id"])}" data-diff="{change}" '
                f'stroke-dasharray="{dash or "10 3 2 3"}"><title>{escape(word)}: {escape(e["id"])}</title></polyline>')
    return (f'<polyline points="{points}" fill="none" stroke="#666" stroke-width="1.3" '
            f'marker-end="url(#{dom_id}-arrow)"/>')


def render(diagram, done=frozenset(), current=frozenset(), title="", marked=frozenset(), changes=None,
           dom_id="diagram") -> Markup:
    """The diagram as an <svg> element scaled to its container. `changes` ({element id: "added",
    "removed" or "changed"}) draws a version comparison instead of a dossier's progress; `dom_id`
    keeps the ids of two diagrams on one page apart."""
    if not diagram:
        return Markup("")
    changes = {k: v for k, v in (changes or {}).items() if v in CHANGES}
    pad = 10
    left, top = diagram["left"] - pad, diagram["top"] - pad
    width, height = diagram["width"] + 2 * pad, diagram["height"] + 2 * pad
    parts = [f'<svg class="diagram" viewBox="{left} {top} {width} {height}" width="{width * SCALE:.0f}" '
             f'height="{height * SCALE:.0f}" role="img" aria-labelledby="{dom_id}-title" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif">',
             f'<title id="{dom_id}-title">{escape(title)}</title>',
             f'<defs><marker id="{dom_id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#666"/></marker></defs>']
    shapes = sorted(diagram["shapes"], key=lambda s: {"pool": 0, "lane": 1, "subprocess": 2}.get(s["kind"], 3))
    for s in shapes:
        if s["kind"] in ("pool", "lane"):
            parts.append(_lane(s))
            continue
        (fill, stroke), weight = _colours(s["id"], done, current, marked)
        state = "problem" if s["id"] in marked else "now" if s["id"] in current else "done" if s["id"] in done else "later"
        change = changes.get(s["id"])
        if not change:
            parts.append(_shape(s, fill, stroke, weight, f' data-state="{state}"'))
            continue
        (fill, stroke), _sign, dash, word = CHANGES[change]
        marker = f' data-diff="{change}"' + (f' stroke-dasharray="{dash}"' if dash else "")
        # A group per marked element: its title is what a screen reader or a hovering mouse reads.
        parts.append(f'<g class="diff-{change}"><title>{escape(word)}: {escape(s["name"] or s["id"])} '
                     f'({escape(s["id"])})</title>' + _shape(s, fill, stroke, 3, marker)
                     + _badge(change, s["x"] + 2, s["y"] + 2) + "</g>")
    parts.extend(_edge(e, changes.get(e["id"]), dom_id) for e in diagram["edges"])
    parts.append("</svg>")
    return Markup("".join(parts))


def comparison(old_diagram, new_diagram, diff, old_title="", new_title="") -> tuple:
    """Two versions drawn side by side from a rollout diff: what was removed (and changed) marked
    on the old diagram, what was added (and changed) on the new one. Returns (old svg, new svg)."""
    elements, flows = diff.get("elements") or {}, diff.get("flows") or {}
    changed = {i: "changed" for i in elements.get("changed", ())}
    old = changed | {i: "removed" for i in [*elements.get("removed", ()), *flows.get("removed", ())]}
    new = changed | {i: "added" for i in [*elements.get("added", ()), *flows.get("added", ())]}
    return (render(old_diagram, title=old_title, changes=old, dom_id="diagram-old"),
            render(new_diagram, title=new_title, changes=new, dom_id="diagram-new"))


def init_app(app):
    app.jinja_env.globals["render_diagram"] = render
