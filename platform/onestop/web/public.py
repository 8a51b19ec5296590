"""The health check and the public transparency dashboard (the home page is the portal's catalogue)."""

import csv
import io

from flask import Blueprint, Response, jsonify, render_template, request

from .. import __version__
from ..db import database
from ..models import utcnow
from ..services import stats
from ..workdays import to_local
from . import charts

bp = Blueprint("public", __name__)


@bp.get("/healthz")
def health():
    database.execute_sql("SELECT 1")
    return jsonify({"status": "ok", "version": __version__})


def _board():
    return stats.dashboard((request.args.get("centre") or "default")[:64], to_local(utcnow()).date())


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
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(stats.CSV_COLUMNS)
    writer.writerows(stats.csv_rows(board))
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="onestop-{board.centre.code}.csv"'})


@bp.get("/stats.json")
def dashboard_json():
    board = _board()
    return jsonify({"centre": board.centre.code, "name": board.centre.name,
                    "this_month": board.month.as_dict(public=True), "this_year": board.year.as_dict(public=True),
                    "index_this_month": board.index,
                    "months": [dict(zip(stats.CSV_COLUMNS, row, strict=True)) for row in stats.csv_rows(board)]})
