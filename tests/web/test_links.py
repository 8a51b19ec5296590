"""Links between the site's parts: the templated URLs are exactly the ones url_for writes."""

import pytest
from flask import url_for

from onestop.web import links

CODE = "000.00.00.H00-261205-0004"
KEY = "ABCDE-FGHJK-MNPQR-STUVW"


@pytest.mark.parametrize("base_url", ["http://localhost/", "https://mot-cua.example.vn:8443/", "http://example.org/sub/"])
def test_a_templated_link_is_the_one_url_for_writes_at_every_host_and_root(sqlite_app, base_url):
    with sqlite_app.test_request_context("/api/v1/dossiers", base_url=base_url):
        for _ in range(2):  # written by url_for, then from the template
            assert links.tracking_url(CODE, KEY) == url_for("portal.track_link", code=CODE, k=KEY, _external=True)
            assert links.quick_url("api.get_dossier", code=CODE) == url_for("api.get_dossier", code=CODE)
            assert links.quick_url("api.dossier_history", code=CODE, limit="5", after="12") == url_for(
                "api.dossier_history", code=CODE, limit="5", after="12")


def test_one_hosts_template_is_not_used_for_another(sqlite_app):
    with sqlite_app.test_request_context("/", base_url="http://one.example/"):
        assert links.tracking_url(CODE, KEY).startswith("http://one.example/track/")
    with sqlite_app.test_request_context("/", base_url="https://two.example:444/"):
        assert links.tracking_url(CODE, KEY) == f"https://two.example:444/track/{CODE}?k={KEY}"


@pytest.mark.parametrize("value", ["a b", "Hồ sơ", "a/b", "x?y=1&z", "{0}", "%41", "", "100%"])
def test_a_value_a_url_escapes_is_escaped_as_url_for_does(sqlite_app, value):
    with sqlite_app.test_request_context("/", base_url="http://localhost/"):
        links.quick_url("api.get_dossier", code=CODE)  # a template exists for these arguments
        assert links.quick_url("api.get_dossier", code=value) == url_for("api.get_dossier", code=value)
        assert links.tracking_url(CODE, value) == url_for("portal.track_link", code=CODE, k=value, _external=True)


def test_outside_a_request_it_is_url_for(sqlite_app):
    sqlite_app.config["SERVER_NAME"] = "onestop.example"
    with sqlite_app.app_context():
        assert links.tracking_url(CODE, KEY) == url_for("portal.track_link", code=CODE, k=KEY, _external=True)


def test_a_template_follows_the_apps_server_name(sqlite_app):
    with sqlite_app.test_request_context("/", base_url="http://localhost/"):
        assert links.tracking_url(CODE, KEY) == f"http://localhost/track/{CODE}?k={KEY}"
    sqlite_app.config["SERVER_NAME"] = "mot-cua.example"
    with sqlite_app.test_request_context("/", base_url="http://localhost/"):
        assert links.tracking_url(CODE, KEY) == url_for("portal.track_link", code=CODE, k=KEY, _external=True)


def test_a_templated_external_link_does_not_write_out_the_requests_root(sqlite_app, monkeypatch):
    import werkzeug.sansio.request

    written = []
    original = werkzeug.sansio.request.get_current_url
    monkeypatch.setattr(werkzeug.sansio.request, "get_current_url",
                        lambda *args, **kwargs: written.append(args) or original(*args, **kwargs))
    with sqlite_app.test_request_context("/api/v1/dossiers", base_url="https://mot-cua.example.vn:8443/sub/"):
        links.tracking_url(CODE, KEY)  # the template, written by url_for
    with sqlite_app.test_request_context("/api/v1/dossiers", base_url="https://mot-cua.example.vn:8443/sub/"):
        written.clear()
        assert links.tracking_url(CODE, KEY) == f"https://mot-cua.example.vn:8443/sub/track/{CODE}?k={KEY}"
        assert written == []
