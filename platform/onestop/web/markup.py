"""Markdown from models (task instructions, form notes) made safe to show: rendered, then sanitised."""

import markdown as md
import nh3
from markupsafe import Markup

_TAGS = {"p", "br", "strong", "em", "b", "i", "u", "ul", "ol", "li", "a", "code", "pre", "blockquote", "h1", "h2",
         "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "hr"}


def render(text) -> Markup:
    """Markdown -> HTML with only harmless tags; links get rel=noopener noreferrer."""
    html = md.markdown(str(text or ""), extensions=["tables"], output_format="html")
    return Markup(nh3.clean(html, tags=_TAGS, attributes={"a": {"href", "title"}}, url_schemes={"http", "https", "mailto"},
                            link_rel="noopener noreferrer"))


def init_app(app):
    app.jinja_env.filters["markdown"] = render
