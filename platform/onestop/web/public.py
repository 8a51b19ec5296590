"""Public pages that need no sign-in: the home page and the health check."""

from flask import Blueprint, jsonify, render_template

from .. import __version__
from ..db import database

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    return render_template("home.html", version=__version__)


@bp.get("/healthz")
def health():
    database.execute_sql("SELECT 1")
    return jsonify({"status": "ok", "version": __version__})
