"""The health check (the home page is the portal's catalogue)."""

from flask import Blueprint, jsonify

from .. import __version__
from ..db import database

bp = Blueprint("public", __name__)


@bp.get("/healthz")
def health():
    database.execute_sql("SELECT 1")
    return jsonify({"status": "ok", "version": __version__})
