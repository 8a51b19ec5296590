"""The Vietnamese catalogue covers every message of the UI, and the compiled catalogue matches it."""

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "platform" / "onestop" / "translations"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _catalogue():
    with open(TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh)


def test_every_message_of_the_ui_has_a_vietnamese_translation():
    found = {m[2] if isinstance(m[2], str) else m[2][0]
             for m in extract_from_dir(str(ROOT / "platform" / "onestop"), METHODS, keywords=KEYWORDS)}
    catalogue = _catalogue()
    untranslated = sorted(m for m in found if not catalogue.get(m) or not catalogue.get(m).string)
    assert untranslated == [], "run `python3 dev.py translations` and translate these in vi/messages.po"


def test_the_compiled_catalogue_is_the_current_one():
    with open(TRANSLATIONS / "vi" / "LC_MESSAGES" / "messages.mo", "rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    for message in _catalogue():
        if message.id and isinstance(message.id, str):
            assert compiled.gettext(message.id) == message.string, "run `python3 dev.py translations`"
