"""The health check and the public transparency dashboard (the home page is the portal's catalogue)."""

from datetime import timedelta

from flask import Blueprint, jsonify, render_template, request

from .. import __version__
from ..models import local_today
from ..services import stats
from ..services.health import check_database
from . import charts, exports
from .args import date_arg

bp = Blueprint("public", __name__)


@bp.get("/healthz")
def health():
    check_database()
    return jsonify({"status": "ok", "version": __version__})


def _board():
    return stats.dashboard((request.args.get("centre") or "default")[:64], local_today())


@bp.get("/stats")
def dashboard():
    board = _board()
    labels = [f"{first:%m/%y}" for first, _ in board.series]
    volume = charts.bars("Hồ sơ tiếp nhận và đã giải quyết theo tháng", labels, {
        "Tiếp nhận": [f.received for _, f in board.series], "Đã giải quyết": [f.resolved for _, f in board.series]})
    timeliness = charts.bars("Tỷ lệ giải quyết đúng hạn theo tháng (%)", labels, {
        "Đúng hạn": [f.on_time_rate or 0 for _, f in board.series]}, unit="%")
    return render_template("public/stats.html", board=board, volume=volume, timeliness=timeliness,
                           rows=stats.csv_rows(board), columns=stats.CSV_COLUMNS)


@bp.get("/stats.csv")
def dashboard_csv():
    board = _board()
    return exports.csv_response(stats.CSV_COLUMNS, stats.csv_rows(board), f"onestop-{board.centre.code}")


@bp.get("/stats.xlsx")
def dashboard_xlsx():
    board = _board()
    unit_columns = ("name", "done", "on_time", "late", "satisfaction_rate")
    return exports.xlsx_response({
        "Theo tháng": (stats.CSV_COLUMNS, stats.csv_rows(board)),
        "Đơn vị (năm nay)": (unit_columns, [[u[c] for c in unit_columns] for u in board.year.units]),
        "Chỉ số 766 (tháng này)": (("group", "weight", "score", "formula"),
                                    [[g["name"], g["weight"], g["score"], g["formula"]] for g in board.index]),
    }, f"onestop-{board.centre.code}")


@bp.get("/stats.json")
def dashboard_json():
    board = _board()
    return jsonify({"centre": board.centre.code, "name": board.centre.name,
                    "this_month": board.month.as_dict(public=True), "this_year": board.year.as_dict(public=True),
                    "index_this_month": board.index, "on_the_spot_this_month": board.on_the_spot,
                    "months": [dict(zip(stats.CSV_COLUMNS, row, strict=True)) for row in stats.csv_rows(board)]})


PROVINCE_COLUMNS = ("province", "name", "received", "resolved", "on_time", "late", "on_time_rate", "online_share",
                    "satisfaction_rate")


@bp.get("/stats/provinces")
def provinces():
    """The national view: every province's figures (its centre and its communes) over a period,
    this month by default; as a page, CSV or XLSX."""
    today = local_today()
    start, end = stats.period(date_arg("from"), date_arg("to"), today)
    rows = stats.by_province(start, end)
    table = [[r[c] for c in PROVINCE_COLUMNS] for r in rows]
    name = f"onestop-provinces-{start}-{end - timedelta(days=1)}"
    kind = request.args.get("format")
    if kind == "csv":
        return exports.csv_response(PROVINCE_COLUMNS, table, name)
    if kind == "xlsx":
        return exports.xlsx_response({"Tỉnh, thành phố": (PROVINCE_COLUMNS, table)}, name)
    return render_template("public/provinces.html", rows=rows, start=start, last=end - timedelta(days=1))

