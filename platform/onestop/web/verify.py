"""The public verification page (/verify, no sign-in): by the code a signed result's QR code names,
or by uploading a PDF. It says who signed, when, and whether the file was altered since, in the
visitor's language; whatever the upload holds, the answer is a page, never an error of the server."""

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import FileField

from ..services import signing
from ..services.errors import NotFound
from . import forms, throttle

bp = Blueprint("verify", __name__)

# The answer's HTTP status for each verdict: a verdict on a readable PDF is an answer (200); a file
# that is not one is refused as such.
STATUS = {"too_large": 413, "not_pdf": 422, "unreadable": 422}


class UploadForm(FlaskForm):
    document = FileField()


def _page(outcome=None, code=None, error=None, status=200):
    response = make_response(render_template("public/verify.html", outcome=outcome, code=code, error=error,
                                             form=UploadForm(formdata=None)), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/verify")
def start():
    """The form; ?code=... (typed by hand) goes to that code's page."""
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for("verify.by_code", code=code[:64]), 303)
    return _page()


@bp.get("/verify/<code>")
def by_code(code):
    """What the QR code on a signed result opens: the stored document checked again."""
    try:
        outcome = signing.verify_code(code)
    except NotFound:
        return _page(code=code[:64], error="unknown_code", status=404)
    response = _page(outcome, code=code)
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.post("/verify")
def upload():
    """A file to check: signed here or anywhere else."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(error=str(forms.CSRF_MESSAGE), status=400)
    sent = form.document.data
    if sent is None or not getattr(sent, "filename", ""):
        return _page(error="no_file", status=422)
    wait = throttle.verify_wait()
    if wait is not None:
        response = _page(error="busy", status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    try:
        if getattr(sent.stream, "overflowed", False):  # web/errors.CappedFile kept only the start of it
            outcome = signing.Verification("too_large", [])
        else:
            outcome = signing.verify_file(sent.read())
    finally:
        sent.close()
    return _page(outcome, status=STATUS.get(outcome.state, 200))
