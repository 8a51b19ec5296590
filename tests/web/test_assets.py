"""Static files: their addresses carry their content's version and browsers keep what those answer
(platform/onestop/web/assets.py); any other address is revalidated as before."""

import hashlib
import re
from pathlib import Path


def _version(app, filename):
    return hashlib.sha256((Path(app.static_folder) / filename).read_bytes()).hexdigest()[:16]


def test_a_pages_style_sheet_and_scripts_carry_their_version_and_are_kept_a_year(sqlite_app):
    client = sqlite_app.test_client()
    page = client.get("/").get_data(as_text=True)
    sheet = re.search(r'href="(/static/onestop\.css[^"]*)"', page).group(1)
    assert sheet == f"/static/onestop.css?v={_version(sqlite_app, 'onestop.css')}"
    with client.get(sheet) as kept:
        assert kept.status_code == 200
        assert kept.cache_control.public and kept.cache_control.max_age == 365 * 86400
        assert not kept.cache_control.no_cache


def test_an_address_without_its_files_version_is_revalidated_as_before(sqlite_app):
    client = sqlite_app.test_client()
    for address in ("/static/onestop.css", "/static/onestop.css?v=0123456789abcdef", "/static/onestop.css?v="):
        with client.get(address) as answer:
            assert answer.status_code == 200, address
            assert answer.cache_control.no_cache and answer.cache_control.max_age is None, address
            etag = answer.headers["ETag"]
        with client.get(address, headers={"If-None-Match": etag}) as again:
            assert again.status_code == 304, address


def test_a_name_leaving_the_static_folder_or_no_file_gets_no_version(sqlite_app):
    from flask import url_for

    from onestop.web.assets import version

    assert version(sqlite_app.static_folder, "../app.py") is None
    assert version(sqlite_app.static_folder, "vendor") is None  # a folder
    with sqlite_app.test_request_context():
        assert url_for("static", filename="no such file.css") == "/static/no%20such%20file.css"
    with sqlite_app.test_client().get("/static/../app.py?v=x") as answer:
        assert answer.status_code == 404


def test_the_modeller_and_the_form_builder_ask_for_their_bundles_and_flask_admins_files_by_version(sqlite_app):
    """The back office's pages name the vendored bundles through url_for too (they were written as
    plain /static/ addresses, which no browser could keep); flask-admin's own files (jQuery and the
    like, under /admin/static/) are asked for by their content's version instead of their library's."""
    from tests.admin.test_modeller import _draft, _signed_in

    admin = _signed_in(sqlite_app, "quantri")
    draft_id = _draft(sqlite_app, "quantri")
    for path in (f"/admin/modeller/{draft_id}", f"/admin/modeller/{draft_id}/forms/application"):
        html = admin.get(path).get_data(as_text=True)
        ours = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert ours, path
        for address in ours:
            filename, _, asked = address[len("/static/"):].partition("?v=")
            assert asked == _version(sqlite_app, filename), address
        theirs = re.findall(r'src="(/admin/static/[^"]+)"', html)
        assert theirs, path
        folder = Path(sqlite_app.blueprints["admin"].static_folder)
        for address in theirs:
            filename, _, asked = address[len("/admin/static/"):].partition("?v=")
            assert asked == hashlib.sha256((folder / filename).read_bytes()).hexdigest()[:16], address
            with admin.get(address) as kept:
                assert kept.status_code == 200 and kept.cache_control.max_age == 365 * 86400, address
