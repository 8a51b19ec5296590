"""Links one part of the site gives out to another's pages: kept apart so that the portal, the desk
and the API need not import each other."""

from flask import url_for


def tracking_url(code, key) -> str:
    """The dossier's public page with its lookup key: the receipt's QR code, the creator's API answer."""
    return url_for("portal.track_link", code=code, k=key, _external=True)
