"""Links one part of the site gives out to another's pages: kept apart so that the portal, the desk
and the API need not import each other.

`url_for` costs about 0.05 ms of CPU a call (Flask's lookup of the endpoint, werkzeug's rule
builder, the URL defaults), and every submission and step answers with links: `quick_url` builds
the same URL from a template that `url_for` itself wrote once (per endpoint, argument names and the
request's root), for values that no URL escapes (dossier codes, lookup keys); anything else still
goes through `url_for`.
"""

import re

from flask import current_app, has_request_context, request, url_for

# Characters that a path segment and a query value both carry as they are (werkzeug's quoting and
# urllib's urlencode leave them alone): a value of these only is written into a template unchanged.
_PLAIN = re.compile(r"[A-Za-z0-9._~-]+")
_MARK = "Zq9Xv{}Kj7"  # a placeholder per argument: plain characters, so url_for writes it as it is
_MAX_TEMPLATES = 256  # a bound on what Host headers can make an app's cache hold: past it, it starts over


def quick_url(endpoint: str, _external: bool = False, **values) -> str:
    """`url_for(endpoint, _external=_external, **values)`, from a cached template when every value
    is a plain string (see _PLAIN) and a request is being answered."""
    if not has_request_context() or not all(isinstance(v, str) and _PLAIN.fullmatch(v) for v in values.values()):
        return url_for(endpoint, _external=_external, **values)
    names = tuple(values)
    app = current_app._get_current_object()
    # Each app its own templates (its routes, its SERVER_NAME), by the request's root (scheme, host, script root).
    templates = app.extensions.get("onestop.url_templates")
    if templates is None:
        templates = app.extensions["onestop.url_templates"] = {}
    # An external URL's root by what werkzeug writes `request.root_url` from (scheme, host, root path): reading
    # root_url itself writes it out and decodes it again (~55 k instructions, most of a submission's link).
    req = request._get_current_object()
    key = (endpoint, names, _external, (req.scheme, req.host, req.root_path) if _external else req.root_path,
           app.config.get("SERVER_NAME"))
    template = templates.get(key)
    if template is None:
        marks = {name: _MARK.format(i) for i, name in enumerate(names)}
        built = url_for(endpoint, _external=_external, **marks)
        # One placeholder each, and no brace that format() would read: else no template (url_for each time).
        if "{" in built or "}" in built or any(built.count(mark) != 1 for mark in marks.values()):
            return url_for(endpoint, _external=_external, **values)
        for i, mark in enumerate(marks.values()):
            built = built.replace(mark, f"{{{i}}}")
        if len(templates) >= _MAX_TEMPLATES:
            templates.clear()
        template = templates[key] = built
    return template.format(*values.values())


def tracking_url(code, key) -> str:
    """The dossier's public page with its lookup key: the receipt's QR code, the creator's API answer."""
    return quick_url("portal.track_link", code=code, k=key, _external=True)
