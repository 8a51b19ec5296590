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


def test_numbers_percentages_money_and_times_are_written_the_way_the_visitors_language_writes_them(sqlite_app):
    """One set of filters for every page: 61,5% and 1.234 in Vietnamese, 61.5% and 1,234 in English,
    money in đồng as Vietnam writes it in both, times in Vietnam's time whatever the server's zone."""
    from datetime import datetime

    from flask import render_template_string

    page = "{{ 61.5|percent }} {{ 1234567|number }} {{ 2.25|number(1) }} {{ 6000|money }} {{ at|dmy_hm }} {{ none|percent }}"
    at = datetime(2026, 12, 5, 18, 30)  # naive UTC: 01:30 the next day in Vietnam
    for language, expected in (("vi", "61,5% 1.234.567 2,2 6.000 đồng 06/12/2026 01:30 —"),
                               ("en", "61.5% 1,234,567 2.2 6.000 đồng 06/12/2026 01:30 —")):
        with sqlite_app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
            assert render_template_string(page, at=at) == expected


def test_no_page_writes_a_percentage_or_a_fee_by_hand():
    """Every percentage goes through |percent and every fee through |money (a literal `}}%` wrote
    61.5% on a Vietnamese page, where 61,5% is right)."""
    import re

    by_hand = re.compile(r"\}\}\s*%(?!\})|%\.\d?f%%|\"\{:,\}\"\.format")  # not a dict literal closing a {% set %}
    templates = [*(ROOT / "platform" / "onestop" / "templates").rglob("*.html"),
                 *(ROOT / "admin" / "onestop_admin" / "templates").rglob("*.html")]
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in templates
                 for n, line in enumerate(path.read_text().splitlines(), 1) if by_hand.search(line)]
    assert offenders == []
