"""Languages: Vietnamese first, English second (Flask-Babel; catalogues under onestop/translations).

The language is the visitor's choice (a cookie set by /lang/<code>), else Vietnamese; the
Accept-Language header is not used, so a page looks the same for everyone until they choose.
"""

import re
from datetime import date, datetime
from pathlib import Path

from babel import numbers
from flask import Blueprint, redirect, request, url_for
from flask_babel import Babel, format_date, format_datetime, format_decimal, format_percent
from flask_babel import lazy_gettext as _l

from ..status import Status
from .auth import local_target

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
DEFAULT = "vi"
COOKIE = "lang"
TIMEZONE = "Asia/Ho_Chi_Minh"

bp = Blueprint("i18n", __name__)


def current_language() -> str:
    chosen = request.cookies.get(COOKIE) if request else None
    return chosen if chosen in LANGUAGES else DEFAULT


@bp.get("/lang/<code>")
def choose(code):
    response = redirect(local_target(request.args.get("next"), "/"))  # only pages of this site
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def dmy(value):
    """A date (or an ISO date string) as dd/mm/yyyy (Vietnamese convention, used in both languages)."""
    if isinstance(value, str) and value:
        value = date.fromisoformat(value)
    return format_date(value, "dd/MM/yyyy") if value else ""


def dmy_hm(value):
    """A UTC timestamp (or its ISO string) as Vietnam's dd/mm/yyyy HH:mm: the one way pages show a time."""
    if isinstance(value, str) and value:
        value = datetime.fromisoformat(value)
    return format_datetime(value, "dd/MM/yyyy HH:mm") if value else ""


def hm_dmy(value):
    """A UTC timestamp the way a Vietnamese slip says it: 14 giờ 16 phút, ngày 26/11/2026."""
    return format_datetime(value, "H 'giờ' mm 'phút', 'ngày' dd/MM/yyyy") if value else ""


def number(value, digits: int = 0):
    """A number in the visitor's language: 1.234,5 in Vietnamese, 1,234.5 in English (up to
    `digits` decimals, none shown when they are zeros); an empty value as a dash."""
    if value is None or value == "":
        return "—"
    return format_decimal(value, format="#,##0" + ("." + "#" * digits if digits else ""))


def percent(value, digits: int = 1):
    """A share already in percent (61.5) as the visitor's language writes it: 61,5% or 61.5%."""
    if value is None or value == "":
        return "—"
    return format_percent(float(value) / 100, format="#,##0" + ("." + "#" * digits if digits else "") + "%")


def money(value):
    """An amount in đồng as Vietnam writes it, in both languages (as dates are): 135.000 đồng."""
    if value is None or value == "":
        return "—"
    return numbers.format_decimal(value, format="#,##0", locale="vi") + " đồng"


_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def shown_date(value):
    """An ISO date string from a form (2026-11-20) as 20/11/2026; anything else unchanged."""
    match = _ISO_DATE.match(value) if isinstance(value, str) else None
    return f"{match[3]}/{match[2]}/{match[1]}" if match else value


# Each national status as officers read it, in the visitor's language (the labels: onestop.status).
STATUS_NAMES = {status.value: _l(status.label) for status in Status}
# What the portal says of a status the citizen waits on (the others: the work's progress).
CITIZEN_STATUSES = {status.value: {"label": _l(status.citizen_label), "tone": status.tone}
                    for status in Status if status.citizen_label}


def init_app(app):
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).resolve().parent.parent / "translations")
    Babel(app, locale_selector=current_language)
    app.register_blueprint(bp)
    app.jinja_env.filters["dmy"] = dmy
    app.jinja_env.filters["dmy_hm"] = dmy_hm
    app.jinja_env.filters["hm_dmy"] = hm_dmy
    app.jinja_env.filters["shown_date"] = shown_date
    # The one set of formats of every page (portal, desk, back office, public figures).
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["status_names"] = STATUS_NAMES
    app.jinja_env.globals["citizen_statuses"] = CITIZEN_STATUSES
    app.jinja_env.globals["Status"] = Status
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["url_for"] = url_for
