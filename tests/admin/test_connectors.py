"""The back office's connectors page: a centre's administrator lists the hosts its models may call and
its connector proxy, keeps secrets whose values are never shown again, sees what its models can call;
a dossier whose connector call failed is retried from the incidents page and runs on."""

import re

from onestop.models import ConnectorSecret, Dossier
from onestop.services import connector_runs, runtime
from onestop.services.connectors import Options
from tests.conftest import make_user
from tests.services.test_connectors import tax_model
from tests.support.tax_office import TaxOffice
from tests.web.pages import csrf, sign_in

PASSWORD = "mật-khẩu-quản-trị"
VALUE = "khoa-bi-mat-0123456789"


def _admin(app):
    with app.app_context():
        _, token = make_user("quan.tri", ("admin",), password=PASSWORD)
    client = app.test_client()
    assert sign_in(client, "quan.tri", PASSWORD).status_code == 303
    return client, token


def test_an_administrator_saves_the_allowed_hosts_and_proxy_and_is_told_which_line_is_wrong(sqlite_app):
    client, _ = _admin(sqlite_app)
    page = client.get("/admin/connectors/")
    assert page.status_code == 200 and "Máy chủ được phép gọi" in page.get_data(as_text=True)
    wrong = client.post("/admin/connectors/settings", data={"csrf_token": csrf(page), "proxy_url": "",
                                                            "allowed_hosts": "thue.gov.vn\nhttps://dat.gov.vn/api"})
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "line 2" in text and "not a URL" in text and "https://dat.gov.vn/api" in text
    saved = client.post("/admin/connectors/settings", data={
        "csrf_token": csrf(page), "allowed_hosts": "thue.gov.vn\n127.0.0.1", "proxy_url": "http://127.0.0.1:7004/"},
        follow_redirects=True)
    text = saved.get_data(as_text=True)
    assert "Đã lưu" in text and "thue.gov.vn\n127.0.0.1" in text and 'value="http://127.0.0.1:7004"' in text
    bad_proxy = client.post("/admin/connectors/settings", data={
        "csrf_token": csrf(page), "allowed_hosts": "", "proxy_url": "http://user:pw@proxy:7004"})
    assert bad_proxy.status_code == 422 and "no user, password" in bad_proxy.get_data(as_text=True)


def test_a_secret_is_saved_encrypted_listed_by_name_and_its_value_never_shown_again(sqlite_app):
    client, _ = _admin(sqlite_app)
    page = client.get("/admin/connectors/")
    done = client.post("/admin/connectors/secrets", data={"csrf_token": csrf(page), "name": "ma_thue",
                                                          "value": VALUE}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Đã lưu bí mật ma_thue" in text and "<code>ma_thue</code>" in text
    for path in ("/admin/connectors/", "/admin/audit/", "/admin/connectors/commands"):
        assert VALUE not in client.get(path).get_data(as_text=True), path
    with sqlite_app.app_context():
        assert VALUE not in ConnectorSecret.get().ciphertext
    bad = client.post("/admin/connectors/secrets", data={"csrf_token": csrf(page), "name": "1 bad", "value": "x"},
                      follow_redirects=True)
    assert "letters, digits and _" in bad.get_data(as_text=True)
    gone = client.post("/admin/connectors/secrets/ma_thue/delete", data={"csrf_token": csrf(page)},
                       follow_redirects=True)
    assert "Đã xoá bí mật ma_thue" in gone.get_data(as_text=True) and "Chưa có bí mật nào" in gone.get_data(as_text=True)


def test_an_officer_cannot_open_the_connectors_page(sqlite_app):
    with sqlite_app.app_context():
        make_user("can.bo", ("officer",), password=PASSWORD)
    client = sqlite_app.test_client()
    sign_in(client, "can.bo", PASSWORD)
    assert client.get("/admin/connectors/").status_code == 403
    assert client.post("/admin/connectors/secrets", data={"name": "x", "value": "y"}).status_code in (400, 403)


def test_the_commands_page_lists_the_built_in_connectors_and_the_proxys(sqlite_app):
    client, _ = _admin(sqlite_app)
    with TaxOffice() as office:
        page = client.get("/admin/connectors/")
        client.post("/admin/connectors/settings", data={"csrf_token": csrf(page), "allowed_hosts": "",
                                                        "proxy_url": office.url})
        text = client.get("/admin/connectors/commands").get_data(as_text=True)
    assert "<code>http/GetRequest</code>" in text and "<code>tax/LookupDebt</code>" in text
    assert "connector proxy" in text
    text = client.get("/admin/connectors/commands").get_data(as_text=True)  # the proxy is gone now
    assert "<code>http/GetRequest</code>" in text and "could not be reached" in text


def test_a_failed_connector_call_is_an_incident_retried_from_the_back_office_and_the_dossier_runs_on(sqlite_app):
    client, token = _admin(sqlite_app)
    api = sqlite_app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    with TaxOffice() as office:
        page = client.get("/admin/connectors/")
        client.post("/admin/connectors/settings", data={"csrf_token": csrf(page), "allowed_hosts": "127.0.0.1",
                                                        "proxy_url": ""})
        client.post("/admin/connectors/secrets", data={"csrf_token": csrf(page), "name": "tax_token", "value": VALUE})
        with sqlite_app.app_context():
            runtime.current().connectors = Options(keys=runtime.current().connectors.keys, timeout_seconds=2,
                                                   attempts=2, backoff_seconds=0.01)
        name, content = tax_model(f"'{office.url}/flaky/' + tax_code")
        import io

        assert api.post("/api/v1/procedures", data={"files": [(io.BytesIO(content), name)]}, headers=headers,
                        content_type="multipart/form-data").status_code == 201
        code = api.post("/api/v1/dossiers", json={"procedure": "tax_check", "data": {"tax_code": "0101"}},
                        headers=headers).json["code"]
        office.failures_left = 5
        with sqlite_app.app_context():
            connector_runs.run_due()
        incidents = client.get("/admin/incidents/").get_data(as_text=True)
        assert code in incidents and "AskTaxOffice" in incidents and "answered HTTP 503" in incidents
        assert VALUE not in incidents
        office.failures_left = 0
        retried = client.post(f"/admin/incidents/{code}/retry", data={"csrf_token": csrf(client.get("/admin/incidents/"))},
                              follow_redirects=True)
        assert f"Đã xử lý sự cố của hồ sơ {code}" in retried.get_data(as_text=True)
        with sqlite_app.app_context():
            assert connector_runs.run_due() == 1
            dossier = Dossier.get(Dossier.code == code)
        assert dossier.state == "completed" and dossier.data["taxpayer"]["body"]["name"] == "Hộ kinh doanh Minh Anh"
        assert re.search(code, client.get("/admin/incidents/").get_data(as_text=True)) is None
        assert all(r["headers"]["Authorization"] == f"Bearer {VALUE}" for r in office.requests)
