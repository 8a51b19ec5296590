"""flask-admin's own words (buttons, filters, "Record was successfully created.") in proper Vietnamese.

flask-admin ships a machine-translated Vietnamese catalogue ("Kỷ lục được tạo thành công"). Its
`translations_path` cannot replace it: flask-babel merges catalogues in order, later ones winning,
and flask-admin puts the application's catalogue first. So ours (translations/admin.vi.po, read and
compiled once when the app starts, no compiled file to keep in step) is merged over flask-admin's as
flask-admin's translation domain stores each language's catalogue in its cache.
"""

from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

CATALOGUES = {"vi": Path(__file__).with_name("translations") / "admin.vi.po"}


def catalogue(language: str) -> Translations:
    """Our catalogue of flask-admin's messages in one language, compiled in memory."""
    with CATALOGUES[language].open("rb") as po:
        compiled = BytesIO()
        write_mo(compiled, read_po(po, locale=language))
    compiled.seek(0)
    return Translations(compiled, domain="admin")


class _OursOverFlaskAdmins(dict):
    """flask-admin's translation cache ((language, domain) -> catalogue): whatever catalogue flask-admin
    assembles for a language gets ours merged over it before it is kept."""

    def __init__(self, ours: dict):
        super().__init__()
        self._ours = ours

    def __setitem__(self, key, translations):
        ours = self._ours.get(str(key[0]).split("_")[0])
        if ours is not None:
            translations.merge(ours)
        super().__setitem__(key, translations)


def install() -> None:
    """Make flask-admin speak our Vietnamese (idempotent: every app of the process shares flask-admin's domain)."""
    from flask_admin import babel

    if not isinstance(babel.domain.cache, _OursOverFlaskAdmins):
        babel.domain.cache = _OursOverFlaskAdmins({language: catalogue(language) for language in CATALOGUES})
