"""Which of the procedure templates a record implies, and the names of its lanes from the units its
steps name.

The pattern is decided from the record alone: a time limit of 0 is decided on the spot; a step done
by the tax office, or one waiting on the financial obligation, is the financial-obligation wait; a
step of a related agency (in parallel, asked for its opinion) or an inter-agency record (liên thông)
is another agency's opinion; a site check is a site inspection; anything else is received →
appraised → signed → returned. A record may name its pattern itself (column "pattern").

Each step's unit is sorted as the applicant (not a lane), a system, the one-stop desk, the tax
office, a consulted agency, a leader who signs, or a specialist; the template's lanes take the
first desk, the first specialist, the last leader and the first consulted agency. A lane the record
names no unit for keeps the template's name (the specialist's falls back on the record's agency).
"""

from __future__ import annotations

import re

APPLICANT = ("người yêu cầu", "người đề nghị", "người nộp", "chủ đầu tư", "hộ gia đình", "người thành lập",
             "chủ hộ", "đơn vị kinh doanh", "tổ chức, cá nhân", "công dân", "người dân", "applicant")
SYSTEM = ("hệ thống", "cổng dvc", "vneid")
DESK = ("tiếp nhận", "một cửa", "pvhcc", "phục vụ hành chính công")
TAX = ("thuế",)
CONSULTED = ("liên quan", "song song", "lấy ý kiến", "phối hợp")
LEADER = ("lãnh đạo", "chủ tịch", "người đứng đầu", "giám đốc", "thủ trưởng", "có thẩm quyền")
SITE = ("thực địa", "kiểm tra thực tế", "thẩm định thực tế", "site check", "site inspection")
MAX_LANE = 120


def kind_of(actor: str) -> str:
    """applicant, system, desk, tax, consulted, leader or specialist ('' for no actor)."""
    text = actor.lower()
    if not text:
        return ""
    for kind, words in (("applicant", APPLICANT), ("system", SYSTEM), ("desk", DESK), ("tax", TAX),
                        ("consulted", CONSULTED), ("leader", LEADER)):
        if any(w in text for w in words):
            return kind
    return "specialist"


def choose(record, names) -> str:
    """The template the record implies (`names`: the templates there are)."""
    chosen = str(record.extra.get("pattern") or "").strip()
    if chosen in names:
        return chosen
    if record.days == 0:
        return "on_the_spot"
    kinds = [kind_of(s["actor"]) for s in record.steps]
    texts = " ".join(f"{s['text']} {s.get('en', '')}" for s in record.steps).lower()
    if "tax" in kinds or "nghĩa vụ tài chính" in texts:
        return "financial_obligation"
    if "consulted" in kinds or len(record.levels) > 1:
        return "other_agency_opinion"
    if any(w in texts for w in SITE):
        return "site_inspection"
    return "appraise_sign_return"


# The template's lane ids and the kind of unit each takes.
LANE_KINDS = {"Lane_OneStop": "desk", "Lane_Specialist": "specialist", "Lane_Leader": "leader",
              "Lane_Consulted": "consulted"}


def lane_names(record, template_lanes: dict) -> dict:
    """{lane id: name} for the template's lanes ({lane id: the template's name}), from the record's
    units; names stay distinct."""
    units = _units(record)
    out, used = {}, set()
    for lane_id, default in template_lanes.items():
        name = _short(units.get(LANE_KINDS.get(lane_id, ""), "")) or default
        if name in used:
            name = default if default not in used else f"{default} ({lane_id})"
        out[lane_id] = name
        used.add(name)
    return out


def _units(record) -> dict:
    found: dict = {}
    for step in record.steps:
        kind = kind_of(step["actor"])
        if kind in ("desk", "specialist", "consulted") and kind not in found:
            found[kind] = step["actor"]
        elif kind == "leader":
            found["leader"] = step["actor"]  # the last leader signs
    if "consulted" not in found and len(record.levels) > 1:  # inter-agency: the other level's department
        found["consulted"] = next((s["actor"] for s in record.steps if re.search(r"\bSở\b", s["actor"])
                                   and kind_of(s["actor"]) == "specialist"), "")
    if "specialist" not in found and record.agency:
        found["specialist"] = re.split(r"[;(]", record.agency, maxsplit=1)[0]
    return found


def _short(name: str) -> str:
    name = " ".join(name.split()).strip(" -;,")
    return name if len(name) <= MAX_LANE else name[: MAX_LANE - 1].rstrip() + "…"
