"""The index of Decision 766/QĐ-TTg (service quality of public administrative procedures): the groups
the platform can compute from its own data, each with its weight and formula, and the groups it
cannot compute named as such.
"""

from __future__ import annotations

from datetime import date

from peewee import fn

from ...models import Dossier, Payment, Procedure, ProcedureVersion
from .. import papers
from .definition import Figures
from .read import figures
from .scope import bounds

ONLINE_LEVELS = ("full", "partial", "none")  # procedure.json's online_level: toàn trình, một phần, not online

INDEX_GROUPS = (  # key, name, weight (points of 100)
    ("publicity", "Công khai, minh bạch", 18),
    ("progress", "Tiến độ giải quyết", 20),
    ("online_service", "Dịch vụ công trực tuyến", 12),
    ("online_payment", "Thanh toán trực tuyến", 10),
    ("satisfaction", "Mức độ hài lòng", 18),
    ("digitisation", "Số hóa hồ sơ", 22),
)


def index(centre_ids, start: date, end: date, f: Figures | None = None) -> list[dict]:
    """The groups of the Decision 766 index the platform can compute from its own data, each with
    its formula (in Vietnamese: it is shown to citizens as is); the groups it cannot compute are
    named as such (score None)."""
    f = f or figures(centre_ids, start, end)
    lo, hi = bounds(start, end)
    versions = (ProcedureVersion.select(ProcedureVersion.metadata).join(Procedure, on=(
        (ProcedureVersion.procedure == Procedure.id) & (ProcedureVersion.version == Procedure.latest_version)))
        .where(Procedure.centre.in_(centre_ids)))
    metas = [v.metadata or {} for v in versions]
    # A fee is public when stated as an amount or as a note (a fee the provincial council sets).
    complete = sum(1 for m in metas if m.get("documents") and ("fee_vnd" in m or "fee" in m or m.get("fee_note"))
                   and m.get("legal_basis") and m.get("deadline"))
    digital, papers_received = papers.digitised(centre_ids, lo, hi, received_at(centre_ids))
    paid, asked = online_payments(centre_ids, lo, hi)
    shares = {
        "publicity": (complete / len(metas) if metas else None,
                      "thủ tục đang áp dụng công khai đủ thành phần hồ sơ, phí, căn cứ pháp lý và thời hạn"),
        "progress": (f.on_time_rate / 100 if f.on_time_rate is not None else None,
                     "hồ sơ giải quyết đúng hạn trên số hồ sơ đã giải quyết có thời hạn"),
        "online_service": (f.online_share / 100 if f.online_share is not None else None,
                           "hồ sơ nộp trực tuyến trên số hồ sơ tiếp nhận"),
        "online_payment": (paid / asked if asked else None,
                           "hồ sơ có phí, lệ phí được thanh toán trực tuyến trên số hồ sơ có yêu cầu thanh toán phí, "
                           "lệ phí qua hệ thống"),
        "satisfaction": (f.satisfaction_rate / 100 if f.satisfaction_rate is not None else None,
                         "đánh giá «rất hài lòng» và «hài lòng» trên số lượt đánh giá"),
        "digitisation": (digital / papers_received if papers_received else None,
                         "thành phần hồ sơ giấy được số hóa (quét, chụp hoặc dùng lại bản đã lưu) và được cán bộ "
                         "xác nhận khớp với bản chính, trên số thành phần hồ sơ giấy tiếp nhận"),
    }
    counts = {"online_service": online_levels(centre_ids, metas, lo, hi),
              "digitisation": {"papers_received": papers_received, "papers_digitised": digital},
              "online_payment": {"dossiers_with_fee": asked, "dossiers_paid_online": paid}}
    out = []
    for key, name, weight in INDEX_GROUPS:
        share, formula = shares[key]
        out.append({"key": key, "name": name, "weight": weight,
                    "formula": f"{weight} × tỷ lệ {formula}",
                    "score": round(weight * share, 1) if share is not None else None} | (
                        {"counts": counts[key]} if key in counts else {}))
    return out


def online_levels(centre_ids, metas, lo, hi) -> dict:
    """What the online-service group counts beside its score: the procedures in force by the level of
    online public service their record states (toàn trình, một phần, none, not stated), and the
    dossiers received online in the period by the level of their procedure."""
    levels = [m.get("online_level") if m.get("online_level") in ONLINE_LEVELS else "unstated" for m in metas]
    out = {f"procedures_{level}": levels.count(level) for level in (*ONLINE_LEVELS, "unstated")}
    per_version = dict(Dossier.select(Dossier.version, fn.COUNT(Dossier.id)).where(
        received_at(centre_ids) & (Dossier.channel == "online") & (Dossier.received_at >= lo)
        & (Dossier.received_at < hi)).group_by(Dossier.version).tuples())
    level_of = {i: (meta or {}).get("online_level") for i, meta in ProcedureVersion.select(
        ProcedureVersion.id, ProcedureVersion.metadata).where(ProcedureVersion.id.in_(list(per_version))).tuples()} \
        if per_version else {}
    return out | {f"online_dossiers_{level}": sum(n for v, n in per_version.items() if level_of.get(v) == level)
                  for level in ("full", "partial")}


def online_payments(centre_ids, lo, hi) -> tuple[int, int]:
    """(dossiers received in [lo, hi) whose fee was paid online, dossiers received then that were asked
    a fee through the system): the online-payment group's share. A fee paid in cash at the counter is
    not recorded here, so neither side counts it."""
    asked = (Payment.select(Payment.dossier).join(Dossier, on=(Payment.dossier == Dossier.id))
             .where(received_at(centre_ids) & (Dossier.received_at >= lo) & (Dossier.received_at < hi)))
    return (asked.where(Payment.paid_at.is_null(False)).distinct().count(), asked.distinct().count())


def received_at(centre_ids):
    """Dossiers received at those centres, wherever a merger handed them over since."""
    return (Dossier.received_by.is_null() & Dossier.centre.in_(centre_ids)) | Dossier.received_by.in_(centre_ids)
